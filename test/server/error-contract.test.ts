// One error contract end to end: the same failing upstreams give the same status, code, retryable, attempts and
// Retry-After through every way in — chat completions plain and streamed, conversation posts plain and streamed.
// A stream that fails before its first token sends nothing before it, so it answers with the error's status.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import type { MockUpstream, MockUpstreamOptions } from '../../src/mock/server.ts';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';

interface Answer {
  status: number;
  code: string;
  retryable: boolean;
  attempts: number;
  attemptsHeader: string | null;
  retryAfter: string | null;
}

type Path = (url: string, conversation: string) => Promise<Response>;

const json = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const messages = [{ role: 'user', content: 'How do gateways fail over?' }];

const paths: [string, Path][] = [
  ['chat completion', (url) => json(`${url}/v1/chat/completions`, { model: 'chat', messages })],
  ['chat completion stream', (url) => json(`${url}/v1/chat/completions`, { model: 'chat', messages, stream: true })],
  ['conversation post', (url, id) => json(`${url}/v1/conversations/${id}/messages`, { content: 'How do gateways fail over?' })],
  [
    'conversation post stream',
    (url, id) => json(`${url}/v1/conversations/${id}/messages`, { content: 'How do gateways fail over?', stream: true }),
  ],
];

interface Case {
  name: string;
  mocks: MockUpstreamOptions[];
  config: Partial<SwitchyardConfigInput>;
  /** Runs once before the paths (e.g. a request that trips every circuit). */
  before?: (url: string) => Promise<unknown>;
  expected: Answer;
}

const down503 = { faults: { mode: 'error' as const, status: 503, retryAfterSeconds: 2 } };
const noTrip = { minVolume: 1000, tripConsecutiveFailures: 0 };

const cases: Case[] = [
  {
    name: 'every deployment answers 503 with Retry-After',
    mocks: [down503, down503],
    config: { routing: { maxAttempts: 2 }, health: noTrip },
    // Retry-After: 2 s from the last upstream, as ceil(retryAfterMs / 1000).
    expected: { status: 502, code: 'provider_unavailable', retryable: true, attempts: 2, attemptsHeader: '2', retryAfter: '2' },
  },
  {
    name: 'the first deployment answers a final 400',
    mocks: [{ faults: { mode: 'error', status: 400 } }, {}],
    config: { health: noTrip },
    expected: { status: 400, code: 'provider_bad_request', retryable: false, attempts: 1, attemptsHeader: '1', retryAfter: null },
  },
  {
    name: 'every circuit is open and the next probe falls after the deadline',
    mocks: [down503, down503],
    config: { routing: { deadlineMs: 1000 }, health: { minVolume: 1, backoff: { initialMs: 60_000, jitter: 'none' } } },
    before: (url) => json(`${url}/v1/chat/completions`, { model: 'chat', messages }),
    // The clock is simulated: the next probe is exactly 60 s away.
    expected: { status: 503, code: 'no_provider_available', retryable: false, attempts: 0, attemptsHeader: '0', retryAfter: '60' },
  },
];

async function answerOf(res: Response): Promise<Answer> {
  const body = (await res.json()) as { error: { code: string }; switchyard: { retryable: boolean; attempts: unknown[] } };
  return {
    status: res.status,
    code: body.error.code,
    retryable: body.switchyard.retryable,
    attempts: body.switchyard.attempts.length,
    attemptsHeader: res.headers.get('x-switchyard-attempts'),
    retryAfter: res.headers.get('retry-after'),
  };
}

describe.each(cases)('one error contract: $name', ({ mocks: mockOptions, config, before, expected }) => {
  let mocks: MockUpstream[] = [];
  let runtime: Runtime;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    mocks = await Promise.all(mockOptions.map((m) => startMockUpstream(m)));
    runtime = createRuntime(
      { providers: mocks.map((m, i) => ({ id: `p${i}`, baseURL: m.url, models: { chat: 'mock-model' } })), ...config },
      { clock: new SimulatedClock() },
    );
    server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [] });
    await before?.(server.url);
  });
  afterAll(async () => {
    // Stops the runtime too.
    await server?.shutdown(100);
    await Promise.all(mocks.map((m) => m.close()));
  });

  const conversation = async () => {
    const created = await json(`${server.url}/v1/conversations`, { model: 'chat' });
    return ((await created.json()) as { id: string }).id;
  };

  it.each(paths)('%s', async (_name, path) => {
    const res = await path(server.url, await conversation());
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await answerOf(res)).toEqual(expected);
  });

  it('answers with the same OpenAI error body, message included, on all four', async () => {
    const bodies: unknown[] = [];
    for (const [, path] of paths) bodies.push(((await (await path(server.url, await conversation())).json()) as { error: unknown }).error);
    expect(bodies[0]).toMatchObject({ code: expected.code, message: expect.any(String) });
    for (const body of bodies.slice(1)) expect(body).toEqual(bodies[0]);
  });
});
