import { describe, expect, it } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { healthOf } from '../../src/provider/health.ts';
import type { ProviderRef } from '../../src/provider/machine.ts';
import { providerSystemId, supervisorMachine } from '../../src/routing/supervisor.machine.ts';

function startSupervisor() {
  const clock = new SimulatedClock();
  const actor = createActor(supervisorMachine, {
    input: { deployments: ['a/m', 'b/m'].map((id) => ({ id, input: { id } })) },
    clock,
  }).start();
  const provider = (id: string) => actor.system.get(providerSystemId(id)) as ProviderRef;
  return { actor, provider };
}

describe('supervisor machine', () => {
  it('spawns one provider actor per deployment, registered by systemId, each healthy', () => {
    const { actor, provider } = startSupervisor();
    expect(Object.keys(actor.getSnapshot().context.providers)).toEqual(['a/m', 'b/m']);
    expect(healthOf(provider('a/m').getSnapshot())).toBe('healthy');
    expect(provider('b/m')).toBe(actor.getSnapshot().context.providers['b/m']);
  });

  it('routes operator commands to the named provider only', () => {
    const { actor, provider } = startSupervisor();
    actor.send({ type: 'operator.disable', provider: 'b/m', at: 0 });
    expect(healthOf(provider('b/m').getSnapshot())).toBe('disabled');
    expect(healthOf(provider('a/m').getSnapshot())).toBe('healthy');
    actor.send({ type: 'operator.enable', provider: 'b/m', at: 0 });
    expect(healthOf(provider('b/m').getSnapshot())).toBe('probing');
  });

  it('ignores operator commands for an unknown deployment', () => {
    const { actor } = startSupervisor();
    actor.send({ type: 'operator.disable', provider: 'nope', at: 0 });
    expect(actor.getSnapshot().value).toBe('running');
  });

  it('stops every provider actor when it stops', () => {
    const { actor, provider } = startSupervisor();
    const a = provider('a/m');
    actor.send({ type: 'supervisor.stop' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(a.getSnapshot().status).toBe('stopped');
  });
});
