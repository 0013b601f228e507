// A reload keeps what a deployment has learned: one that is recovering stays recovering with the same deadline
// and backoff attempt, whether the reload leaves it alone or changes its options; the generation a request
// started on is the one it finishes on.

import { afterEach, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

let mocks: MockUpstream[] = [];
let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  await Promise.all(mocks.map((m) => m.close()));
  mocks = [];
});

const health = { tripConsecutiveFailures: 1, backoff: { kind: 'fixed', initialMs: 60_000, maxMs: 60_000, jitter: 'none' } } as const;

async function trippedRuntime() {
  mocks = await Promise.all([startMockUpstream({ faults: { mode: 'error', status: 503 } }), startMockUpstream(), startMockUpstream()]);
  const [down, up, extra] = mocks.map((m) => m.url) as [string, string, string];
  const config = (providers: SwitchyardConfigInput['providers'], deadlineMs = 10_000): SwitchyardConfigInput => ({
    providers,
    health,
    routing: { deadlineMs },
  });
  const base = [
    { id: 'down', baseURL: down, models: { chat: 'mock-model' } },
    { id: 'up', baseURL: up, models: { chat: 'mock-model' } },
  ];
  runtime = createRuntime(config(base));
  const rt = runtime;
  const reply = await rt.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
  expect(reply.route.deployments).toEqual(['up/mock-model']);
  const view = () => rt.providers().find((p) => p.id === 'down/mock-model');
  expect(view()?.state).toBe('recovering.coolingDown');
  return { rt, view, base, extra, config };
}

describe('a reload keeps deployment state', () => {
  it('leaves an unchanged recovering deployment recovering, with the same deadline, attempt and metrics', async () => {
    const { rt, view, base, extra, config } = await trippedRuntime();
    const before = view();
    const result = await rt.reload(config([...base, { id: 'extra', baseURL: extra, models: { chat: 'mock-model' } }], 8000));
    expect(result.deployments.unchanged).toContain('down/mock-model');
    const after = view();
    expect(after?.state).toBe('recovering.coolingDown');
    expect(after?.nextProbeAt).toBe(before?.nextProbeAt);
    expect(after?.attempt).toBe(before?.attempt);
    expect(after?.lastError).toEqual(before?.lastError);
    expect(after?.metrics.failures).toBe(before?.metrics.failures);
    expect(rt.config().routing.deadlineMs).toBe(8000);
  });

  it('applies changed options to a recovering deployment without resetting its health', async () => {
    const { rt, view, base, config } = await trippedRuntime();
    const before = view();
    const [down, up] = base as [(typeof base)[number], (typeof base)[number]];
    const changed = { ...down, timeoutMs: 5000, headers: { 'x-team': 'red' }, health: { probeCount: 3 } };
    const result = await rt.reload(config([changed, up]));
    expect(result.deployments.changed).toEqual(['down/mock-model']);
    const after = view();
    expect(after?.state).toBe('recovering.coolingDown');
    expect(after?.nextProbeAt).toBe(before?.nextProbeAt);
    expect(after?.attempt).toBe(before?.attempt);
    expect(after?.metrics.requests).toBe(before?.metrics.requests);
  });

  it('sends a changed API key on the next call, on the same actor', async () => {
    mocks = [await startMockUpstream({ apiKey: 'sk-right-key-0001' })];
    const url = mocks[0]?.url ?? '';
    const keyed = (apiKey: string): SwitchyardConfigInput => ({
      providers: [{ id: 'k', baseURL: url, apiKey, models: { chat: 'mock-model' } }],
    });
    runtime = createRuntime(keyed('sk-wrong-key-0001'));
    const rt = runtime;
    const refused = await rt.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'provider_auth' });
    const result = await rt.reload(keyed('sk-right-key-0001'));
    expect(result.deployments.changed).toEqual(['k/mock-model']);
    const reply = await rt.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.route.deployments).toEqual(['k/mock-model']);
    // One actor throughout: the refused attempts are in its metrics.
    const refusedAttempts = (refused as { attempts?: readonly unknown[] }).attempts?.length ?? 0;
    expect(refusedAttempts).toBeGreaterThan(0);
    expect(rt.providers()[0]?.metrics).toMatchObject({ requests: refusedAttempts + 1, successes: 1 });
  });

  it('finishes a request on the generation it started with', async () => {
    const { rt, base, config } = await trippedRuntime();
    // A slow answer from the serving deployment, then a reload that removes the model it asked for.
    mocks[1]?.setFaults({ mode: 'ok', latencyMs: 300 });
    const pending = rt.chat({ model: 'chat', messages: [{ role: 'user', content: 'slow' }] });
    await new Promise((r) => setImmediate(r));
    await rt.reload(config(base.map((p) => ({ ...p, models: { renamed: 'mock-model' } }))));
    expect(rt.models()).toEqual(['renamed']);
    const reply = await pending;
    expect(reply.route.model).toBe('chat');
    expect(reply.route.deployments).toEqual(['up/mock-model']);
  });
});
