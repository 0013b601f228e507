// Time that tests can drive: the request deadline, the hedge delay and conversation passivation schedule on a
// `Timers` (the shape of XState's clock, so a SimulatedClock or vitest's fake timers drive them), real by default.

/** Schedules and cancels callbacks; XState's `Clock` and `SimulatedClock` have this shape. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's own timers, looked up at each call so that vitest's fake timers replace them too. */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Lets the process exit while `handle` is pending, when it is a real Node timer. */
export function unrefTimer(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle && typeof handle.unref === 'function') handle.unref();
}
