// One round of attempts for a request: the first attempt and, when hedging is on and no first token came in
// time, a hedge on another deployment. The first attempt to be ready (a completion, or a stream's first token)
// wins and every other one is aborted; a final error ends the round at once.

import { asSwitchyard, SwitchyardError } from '../errors.ts';
import type { Timers } from '../timers.ts';

/** What the race reads of a route (a Route is one): the deployment's id, for the loser's message. */
export interface Raced {
  deployment: { id: string };
}

export interface Running<T, Route extends Raced = Raced> {
  route: Route;
  /** Resolves when the attempt is ready (answered, or streamed its first token); rejects with its error. */
  ready: Promise<T>;
  abort(): void;
}

export interface RaceOptions<T, Route extends Raced, R extends Running<T, Route>> {
  first: Route;
  start(route: Route, hedge: boolean): R;
  /** Delay before a hedge, or null for none. */
  hedgeAfterMs: number | null;
  /** Another route for a hedge, or null when there is none or no attempt is left. */
  nextHedge(): Promise<Route | null>;
  /** Called once for every attempt that ends in this round without winning. */
  lost(running: R, error: SwitchyardError): void;
  /** Runs the hedge delay. */
  timers: Timers;
}

/** Runs the round; resolves with the winner, or rejects with a final error or the last retryable one. */
export function race<T, Route extends Raced, R extends Running<T, Route>>(
  options: RaceOptions<T, Route, R>,
): Promise<{ winner: R; value: T }> {
  return new Promise((resolve, reject) => {
    const live = new Set<R>();
    let settled = false;
    let hedging = false;
    let lastError: SwitchyardError | undefined;
    let timer: unknown;

    const settle = () => {
      settled = true;
      if (timer !== undefined) options.timers.clearTimeout(timer);
    };
    const abortOthers = (reason: () => SwitchyardError) => {
      if (live.size === 0) return;
      const error = reason();
      for (const other of live) {
        other.abort();
        options.lost(other, error);
      }
      live.clear();
    };

    const launch = (route: Route, hedge: boolean) => {
      const running = options.start(route, hedge);
      live.add(running);
      running.ready.then(
        (value) => {
          live.delete(running);
          if (settled) {
            running.abort();
            return;
          }
          settle();
          abortOthers(() => lostRace(running));
          resolve({ winner: running, value });
        },
        (err: unknown) => {
          if (!live.delete(running) || settled) return;
          const error = asSwitchyard(err);
          options.lost(running, error);
          lastError = error;
          if (!error.retryable) {
            settle();
            abortOthers(() => error);
            reject(error);
          } else if (live.size === 0 && !hedging) {
            settle();
            reject(error);
          }
        },
      );
    };

    launch(options.first, false);
    if (options.hedgeAfterMs !== null) {
      timer = options.timers.setTimeout(async () => {
        if (settled) return;
        hedging = true;
        const route = await options.nextHedge().catch(() => null);
        hedging = false;
        if (settled) return;
        // A hedge cannot start once the request has ended (begin throws): then, with nothing left in flight,
        // the round ends with that error rather than waiting for an attempt that will never come.
        let refused: unknown;
        if (route) {
          try {
            launch(route, true);
            return;
          } catch (err) {
            refused = err;
          }
        }
        const error = lastError ?? (refused === undefined ? undefined : asSwitchyard(refused));
        if (live.size === 0 && error) {
          settle();
          reject(error);
        }
      }, options.hedgeAfterMs);
    }
  });
}

function lostRace(winner: Running<unknown>): SwitchyardError {
  return new SwitchyardError('aborted', `lost the race to ${winner.route.deployment.id}`);
}
