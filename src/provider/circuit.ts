// The opossum breaker of one deployment: it measures calls over a rolling window and makes the trip decision.
// Its open/closed state is set only by the provider machine (open, close); a trip is reported through onTrip.

import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { isSwitchyardError } from '../errors.ts';
import type { ProviderHealthOptions } from './options.ts';
import type { WindowStats } from './types.ts';

// opossum's own reset timer must never fire: the machine owns timing. setTimeout's largest delay.
const neverMs = 2_147_483_647;

export interface Circuit {
  /** Runs `task` if the breaker admits it; `admitted` tells synchronously whether it did. */
  fire<T>(task: () => Promise<T>): { admitted: boolean; result: Promise<T> };
  open(): void;
  close(): void;
  /** Forgets the rolling window, so failures from before a recovery cannot trip the breaker again. */
  resetWindow(): void;
  /**
   * Counts a settled call in the window the provider machine judges by: its latency toward the slow-call share,
   * and whether it failed in a way that counts against the deployment (a retryable error).
   */
  record(latencyMs: number, failed: boolean): void;
  /** The window's counts; O(1), read once per call. */
  windowStats(): WindowStats;
  state(): 'closed' | 'open' | 'halfOpen';
  /** Called when opossum trips on its own (not when open() was called). */
  onTrip(listener: () => void): void;
  /** Thresholds from a config reload, live: the open error rate and the slow-call time (the window keeps its shape). */
  retune(options: Pick<ProviderHealthOptions, 'openErrorRate' | 'slowCallMs'>): void;
  shutdown(): void;
}

export function createCircuit(name: string, options: ProviderHealthOptions): Circuit {
  const buckets = options.windowBuckets;
  // We rotate opossum's buckets ourselves so that the slow-call counts below rotate in step with them.
  const rotator = new EventEmitter();
  const breaker = new CircuitBreaker((task: () => Promise<unknown>) => task(), {
    name,
    timeout: false, // one AbortController per breaker would abort every call in flight: each call has its own
    resetTimeout: neverMs,
    errorThresholdPercentage: options.openErrorRate * 100,
    volumeThreshold: options.minVolume,
    rollingCountTimeout: options.windowMs,
    rollingCountBuckets: buckets,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    rotateBucketController: rotator,
    // Final errors (400, 401, …) and caller aborts say nothing about the deployment's health.
    errorFilter: (err: unknown) => !(isSwitchyardError(err) && err.retryable),
  });
  // The machine's window: per-bucket counts beside opossum's (whose `stats` getter re-sums every bucket on each
  // read), with running totals. Same calls as opossum's successes + failures, less the abandoned ones.
  const calls = new Array<number>(buckets).fill(0);
  const failures = new Array<number>(buckets).fill(0);
  const slow = new Array<number>(buckets).fill(0);
  const totals = { calls: 0, failures: 0, slowCalls: 0 };
  let slowCallMs = options.slowCallMs;
  const rotate = () => {
    rotator.emit('rotate');
    totals.calls -= calls.pop() ?? 0;
    totals.failures -= failures.pop() ?? 0;
    totals.slowCalls -= slow.pop() ?? 0;
    calls.unshift(0);
    failures.unshift(0);
    slow.unshift(0);
  };
  const rotation = setInterval(rotate, options.windowMs / buckets);
  rotation.unref();

  let syncing = false;
  const sync = (fn: () => void) => {
    syncing = true;
    try {
      fn();
    } finally {
      syncing = false;
    }
  };
  const tripListeners: (() => void)[] = [];
  breaker.on('open', () => {
    if (!syncing) for (const listener of tripListeners) listener();
  });

  return {
    fire<T>(task: () => Promise<T>) {
      let admitted = false;
      // opossum invokes the action synchronously inside fire() when it admits the call.
      const result = breaker.fire(() => {
        admitted = true;
        return task();
      }) as Promise<T>;
      if (!admitted) result.catch(() => {});
      return { admitted, result };
    },
    open: () => sync(() => breaker.open()),
    close: () => sync(() => breaker.close()),
    resetWindow: () => {
      for (let i = 0; i < buckets; i++) rotate();
    },
    record: (latencyMs, failed) => {
      calls[0] = (calls[0] ?? 0) + 1;
      totals.calls++;
      if (failed) {
        failures[0] = (failures[0] ?? 0) + 1;
        totals.failures++;
      }
      if (latencyMs >= slowCallMs) {
        slow[0] = (slow[0] ?? 0) + 1;
        totals.slowCalls++;
      }
    },
    windowStats: () => ({ ...totals }),
    state: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed'),
    onTrip: (listener) => {
      tripListeners.push(listener);
    },
    retune: (next) => {
      // opossum reads the threshold on every failure; the volume and window are fixed when it is built.
      (breaker as unknown as { options: { errorThresholdPercentage: number } }).options.errorThresholdPercentage = next.openErrorRate * 100;
      slowCallMs = next.slowCallMs;
    },
    shutdown: () => {
      clearInterval(rotation);
      breaker.shutdown();
    },
  };
}
