// The composer of Responses stream events: chat deltas become OpenAI's events, an upstream's own Responses
// events pass unchanged, and a continuation from another upstream joins the item already open.

import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { ResponsesStreamComposer, type RoutedDelta, type RoutedEnd } from '../../src/upstream/responses-stream.ts';
import { upstreamEvents } from '../../src/upstream/responses-wire.ts';

type Event = { event: string; data: Record<string, unknown>; text: string };

function parse(sse: string): Event[] {
  return sse
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [eventLine = '', dataLine = ''] = block.split('\n');
      const text = dataLine.slice('data: '.length);
      return { event: eventLine.slice('event: '.length), data: JSON.parse(text) as Record<string, unknown>, text };
    });
}

let counter = 0;
const composer = () => new ResponsesStreamComposer({ id: 'resp_gw', created_at: 1, model: 'chat' }, (prefix) => `${prefix}_${++counter}`);
const delta = (content: string, extra: Partial<RoutedDelta> = {}): RoutedDelta => ({ type: 'delta', content, deployment: 'a', ...extra });
const route = { model: 'chat', deployments: ['a'], attempts: [], continued: false };
const end = (extra: Partial<RoutedEnd> = {}): RoutedEnd => ({
  type: 'end',
  finishReason: 'stop',
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
  route,
  ...extra,
});

/** A chunk standing for an upstream Responses event, as the Responses adapter makes them. */
function rawChunk(type: string, fields: Record<string, unknown>): ChatCompletionChunk {
  const chunk = { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'up', choices: [] } as ChatCompletionChunk;
  const parsed = { type, ...fields };
  upstreamEvents.set(chunk, { type, data: JSON.stringify(parsed), parsed });
  return chunk;
}

describe('composing Responses events', () => {
  it('writes chat deltas as a message item from created to completed, numbered in order', () => {
    const c = composer();
    const events = parse(c.delta(delta('Hello')) + c.delta(delta(' world')) + c.end(end()).text);
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
    const completed = events.at(-1)?.data.response as Record<string, unknown>;
    expect(completed).toMatchObject({
      id: 'resp_gw',
      model: 'chat',
      status: 'completed',
      output: [{ type: 'message', status: 'completed', content: [{ type: 'output_text', text: 'Hello world' }] }],
      usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
      switchyard: route,
    });
  });

  it('writes tool call deltas as a function_call item with argument deltas', () => {
    const c = composer();
    const call = { index: 0, id: 'call_1', type: 'function' as const, function: { name: 'search', arguments: '' } };
    const text =
      c.delta(delta('', { toolCalls: [call] })) +
      c.delta(delta('', { toolCalls: [{ index: 0, function: { arguments: '{"q":' } }] })) +
      c.delta(delta('', { toolCalls: [{ index: 0, function: { arguments: '1}' } }] })) +
      c.end(end({ finishReason: 'tool_calls' })).text;
    const events = parse(text);
    expect(events.find((e) => e.event === 'response.output_item.added')?.data.item).toMatchObject({
      type: 'function_call',
      call_id: 'call_1',
      name: 'search',
    });
    expect(events.find((e) => e.event === 'response.function_call_arguments.done')?.data.arguments).toBe('{"q":1}');
    const completed = events.at(-1)?.data.response as { output: unknown[] };
    expect(completed.output).toEqual([expect.objectContaining({ type: 'function_call', arguments: '{"q":1}', status: 'completed' })]);
  });

  it("passes an upstream's own events with their data unchanged, envelope excepted", () => {
    const c = composer();
    const out = [
      c.delta(delta('', { chunk: rawChunk('response.created', { sequence_number: 0, response: { id: 'resp_up', model: 'up' } }) })),
      c.delta(
        delta('', {
          chunk: rawChunk('response.output_item.added', { sequence_number: 2, output_index: 0, item: { id: 'msg_up', type: 'message' } }),
        }),
      ),
      c.delta(
        delta('Hi', {
          chunk: rawChunk('response.output_text.delta', { sequence_number: 4, item_id: 'msg_up', delta: 'Hi', obfuscation: 'x' }),
        }),
      ),
    ].join('');
    const events = parse(out);
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.output_text.delta',
    ]);
    // The envelope carries the gateway's id and the logical model; the rest is the upstream's text, byte for byte.
    expect(events[0]?.data.response).toMatchObject({ id: 'resp_gw', model: 'chat' });
    expect(events[3]?.text).toBe(
      JSON.stringify({ type: 'response.output_text.delta', sequence_number: 4, item_id: 'msg_up', delta: 'Hi', obfuscation: 'x' }),
    );
    const final = rawChunk('response.completed', { response: { id: 'resp_up', model: 'up', output: ['upstream output'], usage: null } });
    const completed = parse(c.end(end({ chunk: final })).text).at(-1);
    expect(completed?.data.response).toMatchObject({ id: 'resp_gw', model: 'chat', output: ['upstream output'] });
    expect(completed?.data.sequence_number).toBeGreaterThan(4);
  });

  it('joins a continuation from another upstream to the item already open, and composes the end', () => {
    const c = composer();
    c.delta(
      delta('', {
        chunk: rawChunk('response.output_item.added', { sequence_number: 2, output_index: 0, item: { id: 'msg_up', type: 'message' } }),
      }),
    );
    c.delta(delta('Hello', { chunk: rawChunk('response.output_text.delta', { sequence_number: 3, item_id: 'msg_up', delta: 'Hello' }) }));
    const other = rawChunk('response.output_text.delta', { sequence_number: 3, item_id: 'msg_other', delta: ' world' });
    const events = parse(
      c.delta(delta(' world', { deployment: 'b', chunk: other })) + c.end(end({ route: { ...route, continued: true } })).text,
    );
    expect(events[0]).toMatchObject({
      event: 'response.output_text.delta',
      data: { item_id: 'msg_up', delta: ' world', sequence_number: 4 },
    });
    const completed = events.at(-1)?.data.response as { output: { id: string; content: { text: string }[] }[] };
    expect(completed.output).toHaveLength(1);
    expect(completed.output[0]).toMatchObject({ id: 'msg_up', content: [{ text: 'Hello world' }] });
  });

  it('passes items it does not compose (reasoning) unchanged, and keeps their place in the output', () => {
    const c = composer();
    const reasoning = { id: 'rs_up', type: 'reasoning', summary: [] };
    const out = [
      c.delta(delta('', { chunk: rawChunk('response.output_item.added', { sequence_number: 2, output_index: 0, item: reasoning }) })),
      c.delta(delta('', { chunk: rawChunk('response.output_item.done', { sequence_number: 3, output_index: 0, item: reasoning }) })),
      c.delta(
        delta('', {
          chunk: rawChunk('response.output_item.added', { sequence_number: 4, output_index: 1, item: { id: 'msg_up', type: 'message' } }),
        }),
      ),
      c.delta(
        delta('Hi', {
          chunk: rawChunk('response.output_text.delta', { sequence_number: 5, item_id: 'msg_up', output_index: 1, delta: 'Hi' }),
        }),
      ),
      // A continuation elsewhere: composed onto the open message, at its place.
      c.delta(delta(' there', { deployment: 'b' })),
    ].join('');
    const events = parse(out + c.end(end({ route: { ...route, continued: true } })).text);
    expect(events.filter((e) => e.event === 'response.output_item.added').map((e) => (e.data.item as { type: string }).type)).toEqual([
      'reasoning',
      'message',
    ]);
    expect(events.find((e) => e.data.delta === ' there')?.data).toMatchObject({ item_id: 'msg_up', output_index: 1 });
    const completed = events.at(-1)?.data.response as { output: { type: string }[] };
    expect(completed.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
  });

  it('ends a failed stream with response.failed and an error event carrying the error', () => {
    const c = composer();
    c.delta(delta('Hel'));
    const events = parse(c.fail({ error: { code: 'stream_interrupted', message: 'cut', param: null } }));
    expect(events.map((e) => e.event)).toEqual(['response.failed', 'error']);
    expect(events[0]?.data.response).toMatchObject({ status: 'failed', error: { code: 'stream_interrupted' } });
    expect(events[1]?.data).toMatchObject({ code: 'stream_interrupted', message: 'cut', error: { code: 'stream_interrupted' } });
  });
});
