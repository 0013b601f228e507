// The supervisor's statechart: it spawns one provider actor per deployment (with a systemId, so the inspector
// and the runtime can find it) and routes operator commands to them. Picking a deployment for a request is
// not an event here: the request path reads the providers' snapshots directly (src/routing/rank.ts), so
// the supervisor adds no work per request. A config reload spawns the deployments it adds (providers.added) and,
// once a removed one has drained, stops it (provider.retired).

import { assign, sendTo, setup, stopChild } from 'xstate';
import { type ProviderRef, providerMachine } from '../provider/machine.ts';
import type { ProviderInput } from '../provider/types.ts';

export interface SupervisorInput {
  deployments: { id: string; input: ProviderInput }[];
}

export interface SupervisorContext {
  providers: Record<string, ProviderRef>;
}

export type SupervisorEvent =
  | { type: 'operator.disable'; provider: string; at: number }
  | { type: 'operator.enable'; provider: string; at: number }
  | { type: 'providers.added'; deployments: { id: string; input: ProviderInput }[] }
  | { type: 'provider.retired'; provider: string }
  | { type: 'supervisor.stop' };

/** The systemId of a deployment's provider actor. */
export const providerSystemId = (deployment: string) => `provider:${deployment}`;

const retiredId = (event: SupervisorEvent) => (event.type === 'provider.retired' ? event.provider : '');

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: { provider: providerMachine },
  guards: {
    knownProvider: ({ context, event }) => 'provider' in event && event.provider in context.providers,
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input, spawn }) => ({
    providers: Object.fromEntries(
      input.deployments.map((d) => [d.id, spawn('provider', { id: d.id, systemId: providerSystemId(d.id), input: d.input })]),
    ),
  }),
  initial: 'running',
  states: {
    running: {
      on: {
        'operator.disable': {
          guard: 'knownProvider',
          actions: sendTo(
            ({ context, event }) => context.providers[event.provider] as ProviderRef,
            ({ event }) => ({ type: 'operator.disable' as const, at: event.at }),
          ),
        },
        'operator.enable': {
          guard: 'knownProvider',
          actions: sendTo(
            ({ context, event }) => context.providers[event.provider] as ProviderRef,
            ({ event }) => ({ type: 'operator.enable' as const, at: event.at }),
          ),
        },
        'providers.added': {
          actions: assign({
            providers: ({ context, event, spawn }) => {
              const added = event.type === 'providers.added' ? event.deployments : [];
              const spawned = added.map((d) => [d.id, spawn('provider', { id: d.id, systemId: providerSystemId(d.id), input: d.input })]);
              return { ...context.providers, ...Object.fromEntries(spawned) };
            },
          }),
        },
        'provider.retired': {
          guard: 'knownProvider',
          actions: [
            stopChild(({ context, event }) => context.providers[retiredId(event)] as ProviderRef),
            assign({
              providers: ({ context, event }) =>
                Object.fromEntries(Object.entries(context.providers).filter(([id]) => id !== retiredId(event))),
            }),
          ],
        },
        'supervisor.stop': 'stopped',
      },
    },
    // Reaching the final state stops every provider actor with it.
    stopped: { type: 'final' },
  },
});
