import { afterEach, describe, expect, it } from 'vitest';
import { failure } from '../helpers/failure.ts';
import { ask, type Fleet, useFleet } from '../helpers/fleet.ts';

const start = useFleet(afterEach);
const down = { faults: { mode: 'error' as const, status: 500 } };
const requestsOf = (f: Fleet) => f.mocks.map((m) => m.stats().requests);

describe('supervisor: attempts', () => {
  it('moves to the next deployment on a retryable error and reports every attempt', async () => {
    const f = await start({ mocks: [down, {}, {}] });
    const { route } = await f.runtime.chat(ask());
    expect(route.deployments).toEqual([f.id(1)]);
    expect(route.attempts.map((a) => [a.deployment, a.outcome])).toEqual([
      [f.id(0), 'provider_unavailable'],
      [f.id(1), 'ok'],
    ]);
    expect(requestsOf(f)).toEqual([1, 1, 0]);
  });

  it('stops at maxAttempts and fails with the last error and the attempts', async () => {
    const f = await start({ mocks: [down, down, down], routing: { maxAttempts: 2 } });
    const err = await failure(f.runtime.chat(ask()));
    expect(err).toMatchObject({ code: 'provider_unavailable' });
    expect(err.attempts?.map((a) => a.deployment)).toEqual([f.id(0), f.id(1)]);
    expect(requestsOf(f)).toEqual([1, 1, 0]);
  });

  it('retries on the same deployment when it is the only one', async () => {
    const f = await start({
      mocks: [{ faults: { mode: 'error', status: 503, rate: 1 } }],
      routing: { maxAttempts: 3 },
      health: { minVolume: 10 },
    });
    const err = await failure(f.runtime.chat(ask()));
    expect(err.attempts).toHaveLength(3);
    expect(requestsOf(f)).toEqual([3]);
  });

  it('returns a final error at once, without trying another deployment', async () => {
    const f = await start({ mocks: [{ faults: { mode: 'error', status: 400 } }, {}] });
    const err = await failure(f.runtime.chat(ask()));
    expect(err).toMatchObject({ code: 'provider_bad_request', retryable: false });
    expect(requestsOf(f)).toEqual([1, 0]);
  });

  it('returns context_length_exceeded to the caller unchanged', async () => {
    const f = await start({ mocks: [{ contextWindow: 20 }, { contextWindow: 20 }] });
    const err = await failure(f.runtime.chat(ask('far too many words '.repeat(20))));
    expect(err).toMatchObject({ code: 'context_length_exceeded', status: 400 });
    expect(requestsOf(f)).toEqual([1, 0]);
  });

  it('answers an unknown logical model with model_not_found', async () => {
    const f = await start({ mocks: [{}] });
    expect(await failure(f.runtime.chat({ ...ask(), model: 'gpt-unknown' }))).toMatchObject({
      code: 'model_not_found',
      status: 404,
      param: 'model',
    });
  });

  it('ends with deadline_exceeded when the deadline passes during an attempt', async () => {
    const f = await start({ mocks: [{ faults: { mode: 'hang' } }], routing: { deadlineMs: 150 } });
    const err = await failure(f.runtime.chat(ask()));
    expect(err).toMatchObject({ code: 'deadline_exceeded', status: 504 });
    expect(err.attempts?.[0]?.outcome).toBe('provider_timeout');
  });
});

describe('supervisor: when every deployment is recovering', () => {
  const trippable = { minVolume: 1, backoff: { initialMs: 1000, jitter: 'none' as const } };

  it('fails fast with no_provider_available and the next probe time when it falls after the deadline', async () => {
    const f = await start({ mocks: [down, down], simulated: true, health: trippable, routing: { deadlineMs: 500 } });
    await failure(f.runtime.chat(ask()));
    expect([f.health(0), f.health(1)]).toEqual(['coolingDown', 'coolingDown']);
    const before = requestsOf(f);
    const err = await failure(f.runtime.chat(ask()));
    expect(err).toMatchObject({ code: 'no_provider_available', status: 503, retryAfterMs: 1000 });
    expect(requestsOf(f)).toEqual(before);
  });

  it('waits for the earliest probe inside the deadline and sends the request as the probe', async () => {
    const f = await start({ mocks: [down, down], simulated: true, health: trippable, routing: { deadlineMs: 5000, maxAttempts: 2 } });
    await failure(f.runtime.chat(ask()));
    expect([f.health(0), f.health(1)]).toEqual(['coolingDown', 'coolingDown']);
    for (const m of f.mocks) m.heal();
    const { route } = await f.runtime.chat(ask());
    expect(f.clock?.now()).toBe(1000); // it waited, on the simulated clock, exactly until the first probe
    expect(route.attempts).toEqual([expect.objectContaining({ deployment: f.id(0), outcome: 'ok' })]);
    expect(f.health(0)).toBe('healthy');
  });

  it('never sends to a disabled deployment and says so', async () => {
    const f = await start({ mocks: [{}] });
    f.runtime.disable(f.id(0));
    expect(await failure(f.runtime.chat(ask()))).toMatchObject({ code: 'no_provider_available' });
    expect(requestsOf(f)).toEqual([0]);
    expect(() => f.runtime.disable('nope')).toThrow(/no deployment "nope"/);
  });
});

describe('supervisor: rate limits', () => {
  it('treats a deployment over its rpm budget like a degraded one', async () => {
    const f = await start({ mocks: [{}, {}], providers: [{ rpm: 2 }] });
    for (let i = 0; i < 4; i++) await f.runtime.chat(ask(`q${i}`));
    expect(requestsOf(f)).toEqual([2, 2]);
  });
});

describe('supervisor: actors', () => {
  it('spawns one provider actor per deployment and reports them with their logical models', async () => {
    const f = await start({ mocks: [{}, {}], providers: [{ models: { chat: 'mock-model', fast: 'mock-model' } }] });
    expect(f.runtime.models().sort()).toEqual(['chat', 'fast']);
    const views = f.runtime.providers();
    expect(views.map((v) => [v.id, v.provider, v.logicalModels, v.health])).toEqual([
      [f.id(0), 'p0', ['chat', 'fast'], 'healthy'],
      [f.id(1), 'p1', ['chat'], 'healthy'],
    ]);
  });

  it('records each request in the decision ring', async () => {
    const f = await start({ mocks: [down, {}] });
    await f.runtime.chat(ask());
    const [decision] = f.runtime.decisions();
    expect(decision).toMatchObject({ model: 'chat', outcome: 'ok', route: { deployments: [f.id(1)] } });
  });

  it('keeps the last 256 decisions, oldest first, once the ring wraps', async () => {
    const f = await start({ mocks: [{}], providers: [{ models: { chat: 'mock-model', fast: 'mock-model' } }] });
    // 301 requests: the ring keeps the last 256, numbers 45 to 300; those two are the only `fast` ones kept.
    for (let i = 0; i <= 300; i++) {
      const model = i === 44 || i === 45 || i === 300 ? 'fast' : 'chat';
      await f.runtime.chat({ model, messages: [{ role: 'user', content: `q${i}` }] });
    }
    const decisions = f.runtime.decisions();
    expect(decisions).toHaveLength(256);
    expect(decisions[0]?.model).toBe('fast');
    expect(decisions[255]?.model).toBe('fast');
    expect(decisions.filter((d) => d.model === 'fast')).toHaveLength(2);
  });
});
