// Drains a started server for a rolling restart (drain.machine.ts is the order): what "not ready", "stop
// accepting", "cut" and "closed" do to the HTTP server, the readiness it reports and the metrics it exports.
// From the first signal on, every response not yet under way is the last on its connection (`Connection:
// close`), so a load balancer's pooled connections move to the other instances instead of being closed under a
// request.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { createActor, type InspectionEvent, toPromise } from 'xstate';
import { SwitchyardError } from '../errors.ts';
import { Counter, Gauge, type Registry } from '../prom.ts';
import type { Timers } from '../timers.ts';
import { trackConnections } from './connections.ts';
import { drainMachine } from './drain.machine.ts';
import { endOpenStreams } from './sse.ts';

export interface DrainOptions {
  /** Not-ready while still serving, in ms. */
  delayMs: number;
  /** Then in-flight requests and streams may finish for this long, in ms. */
  timeoutMs: number;
  /** The clock of the drain's waits (a SimulatedClock in tests); real timers by default. */
  clock?: Timers | undefined;
  /** Where the drain's state changes are reported: the runtime's inspection stream. */
  inspect?: ((event: InspectionEvent) => void) | undefined;
}

/** After the cut, time for the error events to reach their clients before every connection is closed. */
const cutGraceMs = 250;

/** The drain of one server as readiness and metrics see it: keyed by the server, so plugins need no wiring. */
interface DrainView {
  phase: string;
  cutStreams: number;
}

const views = new WeakMap<Server, DrainView>();

function viewOf(server: Server): DrainView {
  let view = views.get(server);
  if (!view) {
    view = { phase: 'serving', cutStreams: 0 };
    views.set(server, view);
  }
  return view;
}

/** Whether `server` is draining: from the first signal on, /readyz answers 503. */
export function isDraining(server: Server): boolean {
  return viewOf(server).phase !== 'serving';
}

/** The drain's phase (a state of drainMachine) and the streams it has cut so far. */
export function drainStatus(server: Server): Readonly<DrainView> {
  return { ...viewOf(server) };
}

/** `switchyard_draining` and `switchyard_drain_cut_streams_total` on `registry`, read from `server` when scraped. */
export function registerDrainMetrics(registry: Registry, server: Server) {
  new Gauge({
    name: 'switchyard_draining',
    help: 'Whether this instance is draining for a shutdown (1 from the first SIGTERM/SIGINT on; /readyz then answers 503)',
    registers: [registry],
    collect() {
      this.set(isDraining(server) ? 1 : 0);
    },
  });
  let reported = 0;
  new Counter({
    name: 'switchyard_drain_cut_streams_total',
    help: 'Streams still open when the drain time ran out, ended with a shutting_down error event',
    registers: [registry],
    collect() {
      const cut = viewOf(server).cutStreams;
      if (cut > reported) this.inc(cut - reported);
      reported = cut;
    },
  });
}

/**
 * Makes `res` the last response on its connection when its headers are still to be written: Node then sends
 * `Connection: close` and ends the connection after it. One whose headers already promised keep-alive is left
 * alone: its connection's next request (if it comes during the drain delay) gets the `Connection: close`, and
 * one left idle is closed when the server stops accepting. Ending it right behind its response instead would
 * race a balancer that reuses the connection at once.
 */
function lastOnConnection(res: ServerResponse) {
  if (!res.headersSent) res.shouldKeepAlive = false;
}

/**
 * Wires the drain of a fastify app as it starts listening; `signal()` starts the drain (or skips the current
 * wait of one under way) and resolves once every connection has ended.
 */
export function createDrain(app: FastifyInstance, options: DrainOptions) {
  const server = app.server;
  const view = viewOf(server);
  // The response each open connection carries (connections.ts: kept per connection, not per response), so that
  // those already under way when the drain starts are made the last ones too. While serving, a request costs
  // this listener one comparison.
  const connections = trackConnections(server);
  server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (view.phase !== 'serving') lastOnConnection(res);
  });
  const machine = drainMachine.provide({
    actions: {
      reportNotReady: () => {
        for (const res of connections.responses()) lastOnConnection(res);
        app.log.info({ drainDelayMs: actor.getSnapshot().context.delayMs }, 'drain: not ready; still serving for the drain delay');
      },
      stopAccepting: () => {
        const { timeoutMs } = actor.getSnapshot().context;
        app.log.info({ drainTimeoutMs: timeoutMs }, 'drain: no new connections; waiting for requests and streams in flight');
        // fastify stops listening, closes idle connections and answers 503 on any connection still open.
        app.close().then(
          () => actor.send({ type: 'connections.closed' }),
          (err: unknown) => {
            app.log.error({ err }, 'drain: closing the server failed');
            actor.send({ type: 'connections.closed' });
          },
        );
      },
      cutStreams: () => {
        const { timeoutMs } = actor.getSnapshot().context;
        const err = new SwitchyardError('shutting_down', `the server is shutting down: the ${timeoutMs} ms drain time ran out`);
        const cut = endOpenStreams(server, err);
        view.cutStreams += cut;
        app.log.warn({ cutStreams: cut }, 'drain: time ran out; open streams ended with a shutting_down error event');
      },
      closeConnections: () => server.closeAllConnections(),
      reportClosed: () => app.log.info('drain: every connection has ended'),
    },
  });
  const actor = createActor(machine, {
    input: { delayMs: options.delayMs, timeoutMs: options.timeoutMs, graceMs: cutGraceMs },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.inspect ? { inspect: options.inspect } : {}),
  });
  actor.subscribe((snapshot) => {
    view.phase = snapshot.value;
  });
  actor.start();
  const done = toPromise(actor).then(() => undefined);
  return {
    /** `timeoutMs` replaces the drain timeout when this signal starts the drain. */
    signal(timeoutMs?: number): Promise<void> {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'signal.received', timeoutMs });
      return done;
    },
  };
}
