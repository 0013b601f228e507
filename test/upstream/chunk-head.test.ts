// Parsing a stream's chunks with their shared head parsed once (src/upstream/chunk-head.ts), and writing them
// with the head rewritten once (chunkText in src/server/sse-sink.ts), must give exactly what JSON.parse of each
// whole chunk and the writer's scan of each chunk gave: same values, same key order, same bytes to the client,
// and the same error for a chunk that is not valid JSON. Checked on seeded random streams (bounded in count).

import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { chunkText, withModel } from '../../src/server/sse-sink.ts';
import { chunkReader, headOf } from '../../src/upstream/chunk-head.ts';

/** A small seeded generator (mulberry32): the same streams on every run. */
function random(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  return { next, int, pick };
}
type Random = ReturnType<typeof random>;

const pieces = [
  'a',
  ' routes',
  '"',
  '\\',
  '"choices"',
  '\\"choices\\":',
  'é',
  '😀',
  '\n',
  '\t',
  '\u2028',
  '{',
  '}',
  ',',
  'model',
  '\u0000',
];

/** JSON whitespace, mostly none; a newline keeps the writer from passing the text as one SSE line. */
const ws = (r: Random) => (r.int(12) === 0 ? r.pick([' ', '\t', ' ', '\t ', '\n', '\r', ' \n ']) : '');

/** A JSON string literal, sometimes with a character written as a \u escape. */
function str(r: Random, text: string): string {
  const json = JSON.stringify(text);
  if (r.int(4) !== 0 || text.length === 0) return json;
  const at = r.int(text.length);
  const escaped = `\\u${(text.codePointAt(at) ?? 0).toString(16).padStart(4, '0').slice(-4)}`;
  return text.charCodeAt(at) < 0xd800
    ? `${JSON.stringify(text.slice(0, at)).slice(0, -1)}${escaped}${JSON.stringify(text.slice(at + 1)).slice(1)}`
    : json;
}

const content = (r: Random) => Array.from({ length: r.int(4) }, () => r.pick(pieces)).join('');
const member = (r: Random, key: string, value: string) => `${ws(r)}${key}${ws(r)}:${ws(r)}${value}${ws(r)}`;

/** The members before `choices` that one upstream repeats: ordinary, reordered, duplicated, odd or missing. */
function headMembers(r: Random, id: string): string[] {
  const members = [
    member(r, '"id"', JSON.stringify(id)),
    member(r, '"object"', '"chat.completion.chunk"'),
    member(r, '"created"', String(1795731136 + r.int(2))),
    member(r, '"model"', r.pick(['"up-model"', '"up-model"', '"up-model"', '"up-model"', '7', 'null', '"m\\"odel"'])),
    member(r, '"system_fingerprint"', str(r, 'fp_mock')),
  ];
  if (r.int(5) === 0) members.splice(3, 1); // no model
  if (r.int(4) === 0) members.push(member(r, '"model"', '"again"')); // duplicate: the last one wins
  if (r.int(5) === 0) members.push(member(r, '"meta"', '{"model":"nested"}')); // not a primitive: no head
  if (r.int(5) === 0) members.push(member(r, '"__proto__"', '"own"'));
  if (r.int(5) === 0) members.push(member(r, '"0"', 'true'));
  if (r.int(5) === 0) members.push(member(r, '"mo\\u0064el"', '"escaped key"'));
  for (let i = members.length - 1; i > 0; i--) {
    if (r.int(3) !== 0) continue;
    const j = r.int(i + 1);
    [members[i], members[j]] = [members[j] as string, members[i] as string];
  }
  return members;
}

/** One chunk: the head's members, then choices and maybe more members (duplicates of the head's among them). */
function chunkOf(r: Random, head: string[]): string {
  const delta = r.int(5) === 0 ? '{"role":"assistant","content":""}' : `{"content":${str(r, content(r))}}`;
  const choices = member(
    r,
    '"choices"',
    `[{"index":0,"delta":${delta},"finish_reason":${r.pick(['null', 'null', '"stop"'])},"logprobs":null}]`,
  );
  const after = r.pick([
    '',
    '',
    ',"usage":{"total_tokens":3}',
    ',"model":"later"',
    ',"id":"other-id"',
    ',"created":1',
    ',"x":[1,{"model":"m"}]',
  ]);
  return `${ws(r)}{${[...head, choices].join(',')}${after}}${ws(r)}`;
}

/** Each stream: chunks mostly with one head, some from a second upstream head (another id) or with another head. */
function streams(seed: number, count: number): string[][] {
  const r = random(seed);
  return Array.from({ length: count }, () => {
    const heads = [headMembers(r, 'chatcmpl-1'), headMembers(r, 'chatcmpl-2')];
    return Array.from({ length: 1 + r.int(12) }, () => chunkOf(r, (r.int(6) === 0 ? heads[1] : heads[0]) as string[]));
  });
}

/** The writer before heads: the stream's identity checked on the parsed chunk, then the whole text scanned. */
function scanned(upstream: ChatCompletionChunk, text: string, id: string, created: number, model: string): string {
  const passed = upstream.id === id && upstream.created === created ? withModel(text, JSON.stringify(model)) : undefined;
  return `data: ${passed ?? JSON.stringify({ ...upstream, id, created, model })}\n\n`;
}

describe('chunk heads', () => {
  it('parses random valid chunks exactly as JSON.parse does, most of them through the head', () => {
    let viaHead = 0;
    let total = 0;
    for (const stream of streams(1, 400)) {
      const reader = chunkReader();
      for (const text of stream) {
        const expected: unknown = JSON.parse(text);
        const parsed = reader.parse(text);
        expect(JSON.stringify(parsed)).toBe(JSON.stringify(expected));
        expect(parsed).toEqual(expected);
        expect(Object.keys(parsed as object)).toEqual(Object.keys(expected as object));
        if (reader.head !== undefined) {
          expect(text.startsWith(reader.head)).toBe(true);
          viaHead++;
        }
        total++;
      }
    }
    // The fast path is what is under test: most chunks must take it.
    expect(viaHead).toBeGreaterThan(total / 3);
  });

  it('sends each random chunk to the client as the bytes the scanning writer sent', () => {
    let rewritten = 0;
    for (const stream of streams(2, 400)) {
      const reader = chunkReader();
      const opening = JSON.parse(stream[0] as string) as ChatCompletionChunk;
      const write = chunkText(opening.id, opening.created, 'chat');
      for (const text of stream) {
        const upstream = reader.parse(text) as ChatCompletionChunk;
        const sent = write(upstream, text, reader.head);
        expect(sent).toBe(scanned(JSON.parse(text) as ChatCompletionChunk, text, opening.id, opening.created, 'chat'));
        const head = reader.head;
        const same = upstream.id === opening.id && upstream.created === opening.created;
        if (head !== undefined && same && withModel(head, '"chat"') !== undefined && !/[\r\n]/.test(text.slice(head.length))) rewritten++;
      }
    }
    // Chunks that took the unscanned way (head rewritten once): enough of them to be what is under test.
    expect(rewritten).toBeGreaterThan(150);
  });

  it('gives a chunk of another id (a continuation from another deployment) the stream id, whatever its head', () => {
    const head = '{"id":"other","object":"chat.completion.chunk","created":5,"model":"up",';
    const text = `${head}"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`;
    const reader = chunkReader();
    const upstream = reader.parse(text) as ChatCompletionChunk;
    expect(reader.head).toBe(head);
    const sent = chunkText('mine', 9, 'chat')(upstream, text, reader.head);
    expect(JSON.parse(sent.slice(6))).toMatchObject({ id: 'mine', created: 9, model: 'chat', choices: [{ delta: { content: 'x' } }] });
  });

  it('does not take a head the text does not start with on trust', () => {
    const text = '{"id":"c","created":1,"model":"up","choices":[]}';
    const sent = chunkText('c', 1, 'chat')(JSON.parse(text) as ChatCompletionChunk, text, '{"id":"c","created":1,"model":"upstream",');
    expect(sent).toBe('data: {"id":"c","created":1,"model":"chat","choices":[]}\n\n');
  });

  it('fails a chunk whose head matches but whose rest is not valid JSON with the error JSON.parse gives', () => {
    const head = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",';
    const reader = chunkReader();
    reader.parse(`${head}"choices":[]}`);
    expect(reader.head).toBe(head);
    // `}` and ` }` after the comma: `{` + rest alone would be the valid `{}`.
    const broken = ['}', ' }', '"choices":[}', '"choices":[]}}', '"choices":[] x', '"choices":[]', '"choices"', '"', 'x"choices":[]}'];
    for (const rest of broken) {
      const text = `${head}${rest}`;
      const expected = (() => {
        try {
          JSON.parse(text);
        } catch (err) {
          return err;
        }
        throw new Error(`${text} parsed`);
      })();
      expect(() => reader.parse(text)).toThrow(expected as Error);
    }
    // And the reader goes on with its head afterwards.
    expect(reader.parse(`${head}"choices":[{"index":0}]}`)).toEqual(JSON.parse(`${head}"choices":[{"index":0}]}`));
    expect(reader.head).toBe(head);
  });

  it('finds no head when choices comes first, is only inside a string or nested, or a member before it is an object', () => {
    expect(headOf('{"choices":[],"id":"c"}')).toBeUndefined();
    expect(headOf('{"id":"\\"choices\\":","x":{"choices":1}}')).toBeUndefined();
    expect(headOf('{"meta":{"a":1},"choices":[]}')).toBeUndefined();
    expect(headOf('{"id":"a\\\\","choices":[]}')?.text).toBe('{"id":"a\\\\",');
  });
});
