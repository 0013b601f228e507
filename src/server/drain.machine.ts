// The drain of one HTTP server for a rolling restart, as a statechart. On a signal it first reports not-ready
// while still serving (a load balancer or Kubernetes stops sending), then stops accepting while in-flight
// requests and streams finish, then cuts the streams still open with a final error event. Each further signal
// skips the rest of the current wait. Pure: what each step does is provided by src/server/drain.ts.

import { assign, setup } from 'xstate';

export interface DrainInput {
  /** How long to report not-ready while still serving, in ms. */
  delayMs: number;
  /** How long in-flight requests and streams may take to finish once no new connection is accepted, in ms. */
  timeoutMs: number;
  /** After the cut, how long the error events have to reach their clients before every connection is closed, in ms. */
  graceMs: number;
}

export type DrainEvent =
  /**
   * SIGTERM/SIGINT (or `shutdown()`): the first starts the drain (with its own timeout when it brings one),
   * each further one skips the current wait.
   */
  | { type: 'signal.received'; timeoutMs?: number | undefined }
  /** Every connection of the server has ended. */
  | { type: 'connections.closed' };

export const drainMachine = setup({
  types: { context: {} as DrainInput, events: {} as DrainEvent, input: {} as DrainInput },
  actions: {
    reportNotReady: () => {},
    stopAccepting: () => {},
    cutStreams: () => {},
    closeConnections: () => {},
    reportClosed: () => {},
  },
  delays: {
    drainDelay: ({ context }) => context.delayMs,
    drainTimeout: ({ context }) => context.timeoutMs,
    cutGrace: ({ context }) => context.graceMs,
  },
}).createMachine({
  id: 'drain',
  context: ({ input }) => input,
  initial: 'serving',
  states: {
    serving: {
      on: {
        'signal.received': {
          target: 'notReady',
          actions: assign({ timeoutMs: ({ context, event }) => event.timeoutMs ?? context.timeoutMs }),
        },
      },
    },
    notReady: {
      entry: 'reportNotReady',
      after: { drainDelay: 'closing' },
      on: { 'signal.received': 'closing' },
    },
    closing: {
      entry: 'stopAccepting',
      after: { drainTimeout: 'cutting' },
      on: { 'signal.received': 'cutting', 'connections.closed': 'closed' },
    },
    cutting: {
      entry: 'cutStreams',
      after: { cutGrace: { actions: 'closeConnections' } },
      on: { 'connections.closed': 'closed' },
    },
    closed: { type: 'final', entry: 'reportClosed' },
  },
});
