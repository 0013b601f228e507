// Lets a call aborted while it waits for a connection leave the pool's queue, as request()'s signal does.

import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

/**
 * The option through which undici's dispatchers hand a request waiting for a connection a function that takes it
 * out of their queue (what request() uses for its signal). Without it, a call aborted before its connection was
 * there still makes the pool open a connection, only to destroy it, or destroys a kept-alive one that comes free.
 * Internal to undici (no public export): absent in another version, aborts then work as before, at that cost.
 */
const queuedAbort = ((): symbol | undefined => {
  try {
    return (createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kQueuedAbort?: symbol }).kQueuedAbort;
  } catch {
    return undefined; // an undici laid out otherwise
  }
})();

/** `options` with undici's queued-abort hook: `onQueued` receives the function that takes the request out of a queue. */
export function withQueuedAbort(options: Dispatcher.DispatchOptions, onQueued: (cancel: (reason: Error) => void) => void) {
  return queuedAbort === undefined ? options : { ...options, [queuedAbort]: onQueued };
}
