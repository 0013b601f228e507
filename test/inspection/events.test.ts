import { afterEach, describe, expect, it } from 'vitest';
import type { InspectionRecord } from '../../src/inspection/events.ts';
import { statePath } from '../../src/inspection/events.ts';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

describe('the inspection stream', () => {
  it('reports state changes of provider and conversation actors as compact records without payloads', async () => {
    const mock = await startMockUpstream({ faults: { mode: 'error', status: 500 } });
    cleanup.push(() => mock.close());
    const runtime = createRuntime({
      providers: [{ id: 'p', baseURL: mock.url, models: { chat: 'mock-model' } }],
      health: { minVolume: 1 },
    });
    cleanup.push(() => runtime.stop());
    const records: InspectionRecord[] = [];
    const unsubscribe = runtime.subscribe((r) => records.push(r));
    await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'SECRET-PROMPT' }] }).catch(() => {});
    expect(records).toContainEqual(
      expect.objectContaining({
        actor: 'p/mock-model',
        machine: 'provider',
        from: 'healthy',
        state: 'recovering.coolingDown',
        event: 'circuit.tripped',
      }),
    );
    mock.heal();
    const { id } = await runtime.conversations.create({ model: 'chat' });
    runtime.disable('p/mock-model');
    runtime.enable('p/mock-model');
    await runtime.conversations.post(id, 'hello').catch(() => {});
    expect(records.some((r) => r.actor === `conversation:${id}` && r.machine === 'conversation' && r.state === 'persistingUser')).toBe(
      true,
    );
    for (const r of records) expect(Object.keys(r).sort()).toEqual(['actor', 'at', 'event', 'from', 'machine', 'state']);
    expect(JSON.stringify(records)).not.toContain('SECRET-PROMPT');
    unsubscribe();
    const before = records.length;
    runtime.disable('p/mock-model');
    expect(records).toHaveLength(before);
  });

  it('writes nested state values as dotted paths', () => {
    expect(statePath('healthy')).toBe('healthy');
    expect(statePath({ recovering: { probing: 'waiting' } })).toBe('recovering.probing.waiting');
  });
});
