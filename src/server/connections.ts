// The connections of a server, tracked per TCP connection rather than per response: a keep-alive connection
// carries many requests, and per-response bookkeeping (a 'close' listener, a Set entry) cost every request a few
// microseconds. Two users: the drain, which must reach the responses in flight when it starts, and the signal
// that aborts a non-streamed request's upstream call when its client goes away.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { SwitchyardError } from '../errors.ts';

/** One open connection: the response it carries now, and the controller a route tied to that response. */
interface Connection {
  res: ServerResponse | undefined;
  /** Aborted when the connection closes before `res` finished: the client went away. */
  caller: AbortController | undefined;
}

export interface Connections {
  /** The response each open connection carries now (its last one: finished or not). */
  responses(): Iterable<ServerResponse>;
}

const trackers = new WeakMap<Server, { open: Map<Socket, Connection> }>();

/**
 * Tracks the connections of `server` from now on (idempotent): one entry and one 'close' listener per
 * connection, made at its first request, and per request only the response it carries, written into that entry.
 */
export function trackConnections(server: Server): Connections {
  let tracker = trackers.get(server);
  if (!tracker) {
    const open = new Map<Socket, Connection>();
    tracker = { open };
    trackers.set(server, tracker);
    // Keyed by the request's socket (a TLS socket under https, not the TCP one 'connection' reports), from its
    // first request on; before fastify's own listener, so that a route run at once finds its response here.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      let connection = open.get(socket);
      if (!connection) {
        const entry: Connection = { res: undefined, caller: undefined };
        open.set(socket, entry);
        socket.once('close', () => {
          open.delete(socket);
          const { caller, res: last } = entry;
          if (caller && last && !last.writableFinished) caller.abort(new SwitchyardError('aborted', 'the client went away'));
        });
        connection = entry;
      }
      connection.res = res;
      connection.caller = undefined;
    });
  }
  const { open } = tracker;
  return {
    *responses() {
      for (const connection of open.values()) if (connection.res) yield connection.res;
    },
  };
}

/**
 * An abort signal that fires when the client of `res` goes away before its answer is complete: the
 * connection's own 'close' listener aborts it, so a request adds no listener. `fallback` makes one the
 * per-response way when `res` is not the one its connection carries now (a pipelined request behind another).
 */
export function callerGone(server: Server, res: ServerResponse, fallback: () => AbortSignal): AbortSignal {
  const connection = trackers.get(server)?.open.get(res.socket as Socket);
  if (!connection || connection.res !== res || res.socket?.destroyed) return fallback();
  const caller = new AbortController();
  connection.caller = caller;
  return caller.signal;
}
