// A request deadline shorter than a deployment's own timeout: an attempt the deadline cuts is that deployment's
// timeout, counted against its health, so a hung deployment is taken out of service and its fallback serves
// (regression: it used to count as the caller going away, leaving the hung deployment healthy forever).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSwitchyardError } from '../../src/errors.ts';
import { type MockUpstream, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';

let hung: MockUpstream;
let fallback: MockUpstream;
let runtime: Runtime;
beforeAll(async () => {
  [hung, fallback] = await Promise.all([startMockUpstream({ faults: { mode: 'hang' } }), startMockUpstream()]);
  runtime = createRuntime({
    providers: [
      { id: 'hung', baseURL: hung.url, models: { chat: 'mock-model' } }, // timeoutMs 30 s by default
      { id: 'fallback', baseURL: fallback.url, models: { chat: 'mock-model' } },
    ],
    routing: { deadlineMs: 1000 },
    health: { tripConsecutiveFailures: 2, backoff: { kind: 'fixed', initialMs: 60_000, maxMs: 60_000 } },
  });
});
afterAll(async () => {
  await runtime.stop();
  await Promise.all([hung.close(), fallback.close()]);
});

describe('a deadline shorter than the deployment timeout', () => {
  it('counts the cut attempts as the hung deployment’s timeouts, trips it, and lets the fallback serve', async () => {
    const ask = () => runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    for (let n = 0; n < 2; n++) {
      const err = await ask().catch((e: unknown) => e);
      expect(isSwitchyardError(err, 'deadline_exceeded')).toBe(true);
    }
    const hungView = runtime.providers().find((p) => p.id === 'hung/mock-model');
    expect(hungView?.health).toBe('coolingDown');
    expect(hungView?.lastError?.code).toBe('provider_timeout');
    const served = await ask();
    expect(served.route.deployments).toEqual(['fallback/mock-model']);
  });
});
