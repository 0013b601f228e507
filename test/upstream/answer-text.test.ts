// The upstream's text travels with a completion only while it is the very object parsed from that text: a
// completion Switchyard builds (from a Responses upstream's answer) has none, and the route serializes it.

import { afterEach, describe, expect, it } from 'vitest';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { answerTextOf } from '../../src/upstream/wire.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function over(api: 'chat' | 'responses'): Promise<Runtime> {
  const mock: MockUpstream = await startMockUpstream({});
  cleanups.push(() => mock.close());
  const runtime = createRuntime({ providers: [{ id: 'p', baseURL: mock.url, api, models: { chat: 'mock-model' } }] });
  cleanups.push(() => runtime.stop());
  return runtime;
}

const ask = { model: 'chat', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('the text of an answer', () => {
  it("travels with a chat deployment's completion, and is what it was parsed from", async () => {
    const { completion } = await (await over('chat')).chat(ask);
    const text = answerTextOf(completion);
    expect(text).toBeDefined();
    expect(JSON.parse(text ?? 'null')).toStrictEqual(completion);
  });

  it('is absent from a completion built from a Responses answer, and from any copy', async () => {
    const { completion } = await (await over('responses')).chat(ask);
    expect(completion.choices[0]?.message.content).toBeTruthy();
    expect(answerTextOf(completion)).toBeUndefined();
    const chat = await (await over('chat')).chat(ask);
    expect(answerTextOf({ ...chat.completion })).toBeUndefined();
  });
});
