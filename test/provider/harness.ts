// Drives the real provider machine with a SimulatedClock and recorded circuit actions.

import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { providerMachine } from '../../src/provider/machine.ts';
import type { ProviderHealthInput } from '../../src/provider/options.ts';
import type { ProviderFault, WindowStats } from '../../src/provider/types.ts';

export const noJitter = { backoff: { kind: 'exponential', initialMs: 1000, maxMs: 8000, jitter: 'none' } } as const;

export function startProvider(health: ProviderHealthInput = noJitter, seed = 1, clustered = false) {
  const clock = new SimulatedClock();
  const circuit: string[] = [];
  /** What a cluster link would have been asked to do: claims of the probe lease, announced verdicts. */
  const announced: string[] = [];
  let syntheticProbes = 0;
  const machine = providerMachine.provide({
    actions: {
      openCircuit: () => circuit.push('open'),
      closeCircuit: () => circuit.push('close'),
      resetWindow: () => circuit.push('resetWindow'),
      claimProbe: () => announced.push('claim'),
      announceTrip: ({ context }) => announced.push(`trip until ${context.nextProbeAt}`),
      announceRecovery: () => announced.push('recovered'),
    },
    actors: {
      healthProbe: fromPromise(async () => {
        syntheticProbes++;
        await new Promise(() => {}); // stays in flight; the test reports its outcome as events
      }),
    },
  });
  const actor = createActor(machine, { input: { id: 'p1', health, seed, clustered }, clock }).start();
  const at = () => clock.now();
  const window = (calls: number, failures: number, slowCalls = 0): WindowStats => ({ calls, failures, slowCalls });
  return {
    actor,
    clock,
    circuit,
    announced,
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
    peerTripped: (untilMs: number, instance = 'peer-1') =>
      actor.send({ type: 'cluster.tripped', at: at(), until: at() + untilMs, instance }),
    peerRecovered: (instance = 'peer-1') => actor.send({ type: 'cluster.recovered', at: at(), instance }),
    leaseGranted: () => actor.send({ type: 'probe.leaseGranted', at: at() }),
    leaseDenied: (forMs: number, holder = 'peer-1') => actor.send({ type: 'probe.leaseDenied', at: at(), holder, until: at() + forMs }),
    window,
  };
}
