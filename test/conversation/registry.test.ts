import { afterEach, describe, expect, it } from 'vitest';
import type { ConversationsConfig } from '../../src/config.ts';
import { type MockUpstream, type MockUpstreamOptions, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { failure } from '../helpers/failure.ts';
import { waitUntil } from '../helpers/wait.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Setup {
  /** Mock upstreams by logical model; each gets one provider. */
  models: Record<string, { mock?: MockUpstreamOptions; contextWindow: number }>;
  conversations?: Partial<ConversationsConfig>;
  deadlineMs?: number;
}

async function setup(options: Setup): Promise<{ runtime: Runtime; mocks: Record<string, MockUpstream> }> {
  const mocks: Record<string, MockUpstream> = {};
  for (const [name, m] of Object.entries(options.models)) {
    mocks[name] = await startMockUpstream(m.mock ?? {});
    cleanup.push(() => (mocks[name] as MockUpstream).close());
  }
  const runtime = createRuntime({
    providers: Object.entries(options.models).map(([name, m]) => ({
      id: name,
      baseURL: (mocks[name] as MockUpstream).url,
      models: { [name]: { model: `${name}-upstream`, contextWindow: m.contextWindow } },
    })),
    routing: { maxAttempts: 1, deadlineMs: options.deadlineMs ?? 10_000 },
    conversations: { reserveTokens: 64, ...options.conversations },
  });
  cleanup.push(() => runtime.stop());
  return { runtime, mocks };
}

const words = (n: number, seed = 'word') => Array.from({ length: n }, (_, i) => `${seed}${i}`).join(' ');

describe('conversations: turns', () => {
  it('processes 50 concurrent posts to one conversation as 50 turns in order, none lost or duplicated', async () => {
    const { runtime } = await setup({ models: { chat: { contextWindow: 128_000 } } });
    const { id } = await runtime.conversations.create({ model: 'chat', system: 'Be brief.' });
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => runtime.conversations.post(id, `message ${i}`)));
    expect(new Set(replies.map((r) => r.turnId)).size).toBe(50);
    const { messages, pending } = await runtime.conversations.get(id);
    expect(messages).toHaveLength(100);
    expect(pending).toEqual([]);
    for (let i = 0; i < 50; i++) {
      const user = messages[2 * i];
      const reply = messages[2 * i + 1];
      expect(user).toMatchObject({ role: 'user', content: `message ${i}`, status: 'done' });
      expect(reply).toMatchObject({ role: 'assistant', status: 'done', turnId: user?.turnId, content: replies[i]?.content });
    }
  });

  it('makes a retried post with the same idempotency key return the first reply and add nothing', async () => {
    const { runtime, mocks } = await setup({ models: { chat: { contextWindow: 128_000 } } });
    const { id } = await runtime.conversations.create({ model: 'chat' });
    const [a, b] = await Promise.all([
      runtime.conversations.post(id, 'hello', { idempotencyKey: 'k1' }),
      runtime.conversations.post(id, 'hello', { idempotencyKey: 'k1' }),
    ]);
    const c = await runtime.conversations.post(id, 'hello', { idempotencyKey: 'k1' });
    expect(b).toEqual(a);
    expect(c).toMatchObject({ turnId: a.turnId, content: a.content, replayed: true });
    expect((await runtime.conversations.get(id)).messages).toHaveLength(2);
    expect(mocks.chat?.stats().requests).toBe(1);
  });

  it('counts each message once, the way the upstream bills the prompt', async () => {
    const { runtime } = await setup({ models: { chat: { contextWindow: 128_000 } } });
    const { id } = await runtime.conversations.create({ model: 'chat', system: 'Be brief.' });
    const first = await runtime.conversations.post(id, 'How many tokens is this?');
    const second = await runtime.conversations.post(id, 'And this one?');
    const view = await runtime.conversations.get(id);
    const [, firstReply, secondUser, secondReply] = view.messages;
    // The second prompt is the first prompt, plus the first reply and the second question.
    expect(second.usage?.prompt_tokens).toBe((first.usage?.prompt_tokens ?? 0) + (firstReply?.tokens ?? 0) + (secondUser?.tokens ?? 0));
    // The window now holds that prompt and the second reply.
    expect(view.tokens).toBe((second.usage?.prompt_tokens ?? 0) + (secondReply?.tokens ?? 0));
  });
});

describe('conversations: fitting the window', () => {
  it('keeps every prompt inside the window with the sliding strategy, turn after turn', async () => {
    const window = 400;
    const { runtime, mocks } = await setup({ models: { chat: { contextWindow: window, mock: { contextWindow: window } } } });
    const { id } = await runtime.conversations.create({ model: 'chat', system: 'Be brief.' });
    for (let i = 0; i < 25; i++) {
      const reply = await runtime.conversations.post(id, `turn ${i}: ${words(12, `w${i}x`)}`);
      expect(reply.usage?.prompt_tokens).toBeLessThanOrEqual(window - 64);
    }
    expect(mocks.chat?.stats().outcomes.rejected).toBe(0);
    expect((await runtime.conversations.get(id)).messages).toHaveLength(50); // dropped from prompts, never from history
  });

  it('folds old turns into a running summary written through the supervisor', async () => {
    const { runtime, mocks } = await setup({
      models: { chat: { contextWindow: 500, mock: { contextWindow: 500 } } },
      conversations: { summaryMaxTokens: 80 },
    });
    const { id } = await runtime.conversations.create({ model: 'chat', strategy: 'summarize' });
    for (let i = 0; i < 15; i++) await runtime.conversations.post(id, `turn ${i}: ${words(15, `s${i}x`)}`);
    const view = await runtime.conversations.get(id);
    expect(view.summary?.text.length).toBeGreaterThan(0);
    expect(view.summary?.throughSeq).toBeGreaterThan(0);
    expect(runtime.conversations.live(id)?.summaryFailures).toBe(0);
    expect(mocks.chat?.stats().requests).toBeGreaterThan(15); // the turns, plus the summaries
    expect(mocks.chat?.stats().outcomes.rejected).toBe(0);
  });

  it('falls back to the sliding window when summarizing fails, and records that', async () => {
    const { runtime, mocks } = await setup({
      models: { chat: { contextWindow: 500 }, summarizer: { contextWindow: 8000, mock: { faults: { mode: 'error', status: 500 } } } },
      conversations: { summarizerModel: 'summarizer' },
      // Once the summarizer's circuit is open, a summary waits for its probe no longer than this.
      deadlineMs: 300,
    });
    const { id } = await runtime.conversations.create({ model: 'chat', strategy: 'summarize' });
    for (let i = 0; i < 15; i++) await runtime.conversations.post(id, `turn ${i}: ${words(15, `f${i}x`)}`);
    expect((await runtime.conversations.get(id)).summary).toBeNull();
    expect(runtime.conversations.live(id)?.summaryFailures).toBeGreaterThan(0);
    expect(mocks.summarizer?.stats().outcomes.error).toBeGreaterThan(0);
  });

  it('re-fits tighter and retries once when the provider says the prompt is too long', async () => {
    // Configured as 1000 tokens, the server really takes 700 and says so: the conversation learns it.
    const { runtime, mocks } = await setup({ models: { chat: { contextWindow: 1000, mock: { contextWindow: 700 } } } });
    const { id } = await runtime.conversations.create({ model: 'chat' });
    for (let i = 0; i < 30; i++) await runtime.conversations.post(id, `turn ${i}: ${words(10, `r${i}x`)}`);
    expect(mocks.chat?.stats().outcomes.rejected).toBe(1);
    const view = await runtime.conversations.get(id);
    expect(view.pending).toEqual([]);
    expect(view.messages.every((m) => m.status === 'done')).toBe(true);
  });

  it('moves a prompt that does not fit to the context fallback model', async () => {
    const { runtime, mocks } = await setup({
      models: { chat: { contextWindow: 200 }, long: { contextWindow: 16_000 } },
      conversations: { contextFallbacks: { chat: 'long' } },
    });
    const { id } = await runtime.conversations.create({ model: 'chat' });
    const reply = await runtime.conversations.post(id, words(300));
    expect(reply.deployments).toEqual(['long/long-upstream']);
    expect(mocks.chat?.stats().requests).toBe(0);
  });

  it('refuses a message larger than every window with context_overflow, storing nothing', async () => {
    const { runtime, mocks } = await setup({ models: { chat: { contextWindow: 200 } } });
    const { id } = await runtime.conversations.create({ model: 'chat' });
    await runtime.conversations.post(id, 'first');
    const err = await failure(runtime.conversations.post(id, words(400)));
    expect(err).toMatchObject({ code: 'context_overflow', status: 413 });
    expect((await runtime.conversations.get(id)).messages).toHaveLength(2);
    expect(mocks.chat?.stats().requests).toBe(1);
  });
});

describe('conversations: lifecycle', () => {
  it('passivates an idle conversation actor and restores it with identical history and token counts', async () => {
    const { runtime } = await setup({ models: { chat: { contextWindow: 128_000 } }, conversations: { idleMs: 30 } });
    const { id } = await runtime.conversations.create({ model: 'chat', system: 'Be brief.' });
    for (let i = 0; i < 3; i++) await runtime.conversations.post(id, `message ${i}`);
    const before = runtime.conversations.live(id);
    expect(before?.messages).toHaveLength(6);
    await waitUntil(() => runtime.conversations.active() === 0);
    expect(runtime.conversations.live(id)).toBeNull();
    await runtime.conversations.activate(id);
    expect(runtime.conversations.live(id)).toEqual(before);
  });

  it('answers an unknown conversation with conversation_not_found and an unknown model with model_not_found', async () => {
    const { runtime } = await setup({ models: { chat: { contextWindow: 1000 } } });
    expect(await failure(runtime.conversations.post('nope', 'hi'))).toMatchObject({ code: 'conversation_not_found', status: 404 });
    expect(await failure(runtime.conversations.create({ model: 'gpt-nope' }))).toMatchObject({ code: 'model_not_found' });
  });

  it('deletes a conversation and its history', async () => {
    const { runtime } = await setup({ models: { chat: { contextWindow: 1000 } } });
    const { id } = await runtime.conversations.create({ model: 'chat' });
    await runtime.conversations.post(id, 'hi');
    expect(await runtime.conversations.delete(id)).toBe(true);
    expect(await failure(runtime.conversations.get(id))).toMatchObject({ code: 'conversation_not_found' });
    expect(runtime.conversations.active()).toBe(0);
  });
});

describe('conversations: errors', () => {
  it("passes a provider's final error to the caller with its code and status, and marks the turn failed", async () => {
    const { runtime } = await setup({ models: { chat: { contextWindow: 1000, mock: { faults: { mode: 'error', status: 400 } } } } });
    const { id } = await runtime.conversations.create({ model: 'chat' });
    expect(await failure(runtime.conversations.post(id, 'hi'))).toMatchObject({ code: 'provider_bad_request', status: 400 });
    const view = await runtime.conversations.get(id);
    expect(view.messages.map((m) => m.status)).toEqual(['failed']);
    expect(view.pending).toEqual([]);
  });
});

describe('deleting a conversation while a turn runs (review finding)', () => {
  it('answers the waiting caller with conversation_not_found instead of leaving it waiting forever', async () => {
    const mock = await startMockUpstream({ latencyMs: 300 });
    const runtime = createRuntime({ providers: [{ id: 'slow', baseURL: mock.url, models: { chat: 'mock-model' } }] });
    try {
      const { id } = await runtime.conversations.create({ model: 'chat' });
      const turn = runtime.conversations.post(id, 'hello').catch((err: unknown) => err);
      await new Promise((r) => setTimeout(r, 50));
      expect(await runtime.conversations.delete(id)).toBe(true);
      expect(await turn).toMatchObject({ code: 'conversation_not_found' });
    } finally {
      await runtime.stop();
      await mock.close();
    }
  });
});
