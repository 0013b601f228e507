// A provider actor: the provider machine (src/provider/machine.ts) wired to its deployment
// (src/provider/deployment.ts), whose circuit its entry actions open and close and whose synthetic probe it
// invokes. Spawned by the supervisor, or created alone by createProvider().

import { type ActorOptions, type AnyActorLogic, createActor, fromPromise, type InspectionEvent } from 'xstate';
import type { OpenAIAdapter } from '../upstream/adapter.ts';
import { createDeployment, type Deployment, type Provider, type ProviderDeployment } from './deployment.ts';
import { providerMachine } from './machine.ts';

type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

export interface ProviderRuntimeOptions {
  /** XState inspection observer, attached to the actor. */
  inspect?: (event: InspectionEvent) => void;
  /** Clock for the actor's delays (a SimulatedClock in tests). */
  clock?: Clock;
  /** Wall-clock source for event times; follows `clock` when that is a SimulatedClock. */
  now?: () => number;
  /** Replaces the OpenAI adapter (tests of the breaker wiring). */
  adapter?: OpenAIAdapter;
}

/** What a cluster does with a provider actor's own verdicts and probe claims (src/cluster/health.ts). */
export interface ProviderClusterHooks {
  claimProbe(deployment: string): void;
  announceTrip(deployment: string, nextProbeAt: number | null): void;
  announceRecovery(deployment: string): void;
}

/**
 * The provider machine wired to deployments: its circuit actions and health probe find theirs by id; in a
 * cluster, its probe claims and verdicts go to the cluster link.
 */
export function providerLogic(lookup: (id: string) => Deployment | undefined, cluster?: ProviderClusterHooks) {
  return providerMachine.provide({
    actions: {
      openCircuit: ({ context }) => lookup(context.id)?.circuit.open(),
      closeCircuit: ({ context }) => lookup(context.id)?.circuit.close(),
      resetWindow: ({ context }) => lookup(context.id)?.circuit.resetWindow(),
      claimProbe: ({ context }) => cluster?.claimProbe(context.id),
      announceTrip: ({ context }) => cluster?.announceTrip(context.id, context.nextProbeAt),
      announceRecovery: ({ context }) => cluster?.announceRecovery(context.id),
    },
    actors: {
      healthProbe: fromPromise(async ({ input }: { input: { id: string } }) => {
        await lookup(input.id)?.probe();
      }),
    },
  });
}

/** Wall-clock time for event stamps: the SimulatedClock's when one drives the actors. */
export function nowOf(clock: Clock | undefined): () => number {
  if (clock && 'now' in clock && typeof clock.now === 'function') return () => (clock as { now(): number }).now();
  return Date.now;
}

/** Creates and starts one provider on its own, outside any supervisor. */
export function createProvider(deployment: ProviderDeployment, runtime: ProviderRuntimeOptions = {}): Provider {
  const dep = createDeployment(deployment, { now: runtime.now ?? nowOf(runtime.clock), adapter: runtime.adapter });
  const actor = createActor(
    providerLogic(() => dep),
    {
      input: dep.input,
      ...(runtime.inspect ? { inspect: runtime.inspect } : {}),
      ...(runtime.clock ? { clock: runtime.clock } : {}),
    },
  );
  dep.attach(actor);
  actor.start();
  return {
    ...dep,
    actor,
    stop: () => {
      actor.stop();
      dep.stop();
    },
  };
}
