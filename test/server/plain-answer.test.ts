// The upstream's own text as the answer: what a client parses from plainAnswer's text is what serializing
// `{ ...completion, model, switchyard }` gave before, key order included, and anything it cannot do exactly is
// refused (the route then serializes).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainAnswer } from '../../src/server/plain-answer.ts';

const route = { deployments: ['p0/mock-model'], attempts: [{ deployment: 'p0/mock-model', outcome: 'ok' }], hedged: false };
const routeJson = JSON.stringify(route);

/** What the route answered before: the parsed upstream body spread, the model set, the route added. */
const serialized = (text: string, model: string) => JSON.stringify({ ...(JSON.parse(text) as object), model, switchyard: route });

/** The same JSON for a client: equal values and the same key order at every level. */
function expectSameJson(actual: string | undefined, expected: string) {
  expect(actual).toBeDefined();
  const a: unknown = JSON.parse(actual ?? 'null');
  expect(a).toStrictEqual(JSON.parse(expected));
  expect(JSON.stringify(a)).toBe(expected);
}

const completion = (fields: string) =>
  `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-model",${fields}"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`;

describe('plainAnswer', () => {
  const same = [
    ['a plain completion', completion('')],
    ['unicode and escapes', completion('"note":"caf\\u00e9 ☕ \\ud83d\\ude00 \\"q\\" \\\\ \\/ \\n\\t \\ud800",')],
    [
      '"model" inside content and tool arguments',
      completion('"x":{"model":"inner","s":"\\"model\\":\\"no\\""},"t":["model",{"model":1}],'),
    ],
    [
      'logprobs and numbers written oddly',
      completion('"logprobs":{"content":[{"token":"a","logprob":-1.0e-3,"bytes":[97],"top_logprobs":[]}]},"big":12345678901234567890,'),
    ],
    ['extra fields and a null', completion('"system_fingerprint":null,"service_tier":"default","future":{"kept":[true,false,null]},')],
    ['pretty printed with blanks', '{\n  "model" :  "up" ,\n  "choices": [ ],\r\n\t"id": "x"\n}\n'],
    ['model last', '{"choices":[],"model":"up"}'],
    ['model as the only key before choices, with a non-string value', '{"model":{"a":[1,{"b":"}"}]},"choices":[]}'],
    ['model as a number', '{"model":42 ,"choices":[]}'],
    ['a __proto__ key', '{"__proto__":{"polluted":true},"model":"up","choices":[]}'],
  ] as const;
  for (const [what, text] of same) {
    it(`gives what serialization gave: ${what}`, () => {
      expectSameJson(plainAnswer(text, JSON.stringify('chat'), routeJson), serialized(text, 'chat'));
    });
  }

  it('keeps the upstream text of everything but the model, so nothing is serialized again', () => {
    const text = completion('"note":"caf\\u00e9",');
    expect(plainAnswer(text, '"chat"', routeJson)).toBe(
      `${text.replace('"model":"up-model"', '"model":"chat"').slice(0, -1)},"switchyard":${routeJson}}`,
    );
  });

  it('sets a model that needs escapes as the JSON literal it is given', () => {
    const model = 'we"ird\\model\u2028';
    expectSameJson(plainAnswer(completion(''), JSON.stringify(model), routeJson), serialized(completion(''), model));
  });

  const refused = [
    ['no top-level model', '{"choices":[{"model":"nested"}]}'],
    ['two top-level models (the parse keeps the last)', '{"model":"a","choices":[],"model":"b"}'],
    ['a key spelled with escapes', '{"mod\\u0065l":"b","model":"a","choices":[]}'],
    ['a switchyard key of its own', '{"model":"a","choices":[],"switchyard":{"x":1}}'],
    ['nesting deeper than 64', `{"model":"a","choices":[],"d":${'['.repeat(64)}${']'.repeat(64)}}`],
    ['an array', '[{"model":"a"}]'],
    ['text after the object', '{"model":"a"} x'],
    ['an unterminated object', '{"model":"a","choices":['],
    ['an unterminated string', '{"model":"a'],
  ] as const;
  for (const [what, text] of refused) {
    it(`refuses ${what}`, () => {
      expect(plainAnswer(text, '"chat"', routeJson)).toBeUndefined();
    });
  }

  it('accepts nesting of 64 levels', () => {
    const text = `{"model":"a","choices":[],"d":${'['.repeat(63)}${']'.repeat(63)}}`;
    expectSameJson(plainAnswer(text, '"chat"', routeJson), serialized(text, 'chat'));
  });

  it('gives, for any JSON object with one model key, what serialization gives', () => {
    const key = fc.string().filter((k) => k !== 'model' && k !== 'switchyard');
    const members = fc.uniqueArray(fc.tuple(key, fc.jsonValue({ maxDepth: 4 })), { selector: ([k]) => k, maxLength: 6 });
    fc.assert(
      fc.property(members, fc.nat(6), fc.jsonValue({ maxDepth: 2 }), fc.string(), fc.boolean(), (rest, at, model, wanted, pretty) => {
        const entries: [string, unknown][] = [...rest];
        entries.splice(Math.min(at, entries.length), 0, ['model', model]);
        const object = Object.fromEntries(entries);
        const text = JSON.stringify(object, null, pretty ? 2 : undefined);
        const answer = plainAnswer(text, JSON.stringify(wanted), routeJson);
        // A key that JSON writes with escapes (a quote, a control character) is refused: serialization follows.
        if (entries.some(([k]) => JSON.stringify(k).includes('\\'))) return answer === undefined;
        expectSameJson(answer, serialized(text, wanted));
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
