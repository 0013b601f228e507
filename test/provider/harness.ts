// Drives the real provider machine with a SimulatedClock and recorded circuit actions.

import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { type ProviderFault, providerMachine, type WindowStats } from '../../src/provider/machine.ts';
import type { ProviderHealthInput } from '../../src/provider/options.ts';

export const noJitter = { backoff: { kind: 'exponential', initialMs: 1000, maxMs: 8000, jitter: 'none' } } as const;

export function startProvider(health: ProviderHealthInput = noJitter, seed = 1) {
  const clock = new SimulatedClock();
  const circuit: string[] = [];
  let syntheticProbes = 0;
  const machine = providerMachine.provide({
    actions: {
      openCircuit: () => circuit.push('open'),
      closeCircuit: () => circuit.push('close'),
      resetWindow: () => circuit.push('resetWindow'),
    },
    actors: {
      healthProbe: fromPromise(async () => {
        syntheticProbes++;
        await new Promise(() => {}); // stays in flight; the test reports its outcome as events
      }),
    },
  });
  const actor = createActor(machine, { input: { id: 'p1', health, seed }, clock }).start();
  const at = () => clock.now();
  const window = (calls: number, failures: number, slowCalls = 0): WindowStats => ({ calls, failures, slowCalls });
  return {
    actor,
    clock,
    circuit,
    syntheticProbes: () => syntheticProbes,
    state: () => actor.getSnapshot(),
    /** A probe takes its slot when it starts; other calls are heard of once, by their outcome. */
    startProbe: () => actor.send({ type: 'probe.started', at: at() }),
    succeed: (w: WindowStats = window(1, 0), probe = false) =>
      actor.send({ type: 'call.succeeded', at: at(), probe, latencyMs: 10, window: w }),
    fail: (error: Partial<ProviderFault> = {}, w: WindowStats = window(1, 1), probe = false) =>
      actor.send({
        type: 'call.failed',
        at: at(),
        probe,
        latencyMs: 10,
        error: { code: 'provider_unavailable', retryable: true, message: 'boom', ...error },
        window: w,
      }),
    trip: () => actor.send({ type: 'circuit.tripped', at: at() }),
    window,
  };
}
