// The supervisor's statechart: it spawns one provider actor per deployment (with a systemId, so the inspector
// and the runtime can find it) and routes operator commands to them. Picking a deployment for a request is
// not an event here: the request path reads the providers' snapshots directly (src/routing/rank.ts), so
// the supervisor adds no work per request.

import { sendTo, setup } from 'xstate';
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
  | { type: 'supervisor.stop' };

/** The systemId of a deployment's provider actor. */
export const providerSystemId = (deployment: string) => `provider:${deployment}`;

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
        'supervisor.stop': 'stopped',
      },
    },
    // Reaching the final state stops every provider actor with it.
    stopped: { type: 'final' },
  },
});
