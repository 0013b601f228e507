// Fault settings of the mock upstream, switchable at run time through POST /_mock/faults.

import type { ContinuationMode } from './reply.ts';

export type FaultMode = 'ok' | 'error' | 'hang' | 'reset' | 'cut';

export interface MockFaults {
  mode: FaultMode;
  /** HTTP status of `error`. */
  status: number;
  /** Share of requests (0..1) that get the fault. */
  rate: number;
  /** Sent as `Retry-After` with `error` when set. */
  retryAfterSeconds: number | null;
  /** `cut` ends a stream after this many content chunks. */
  afterChunks: number;
  /** Extra delay before the first byte, on top of the server's base latency. */
  latencyMs: number;
  /** Overrides the server's continuation behaviour while set. */
  continuation: ContinuationMode | null;
}

export const healthyFaults: MockFaults = {
  mode: 'ok',
  status: 500,
  rate: 1,
  retryAfterSeconds: null,
  afterChunks: 3,
  latencyMs: 0,
  continuation: null,
};

const modes: readonly FaultMode[] = ['ok', 'error', 'hang', 'reset', 'cut'];

/** Validates a fault body; returns the new settings or the name of the bad field and what it expected. */
export function parseFaults(body: unknown): { ok: true; faults: MockFaults } | { ok: false; param: string; message: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, param: 'body', message: 'expected a JSON object' };
  }
  const input = body as Record<string, unknown>;
  const faults: MockFaults = { ...healthyFaults };
  const number = (key: keyof MockFaults, min: number, max: number, integer: boolean) => {
    const value = input[key];
    if (value === undefined) return null;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      return `expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`;
    }
    (faults as unknown as Record<string, number>)[key] = value;
    return null;
  };
  if (input.mode !== undefined) {
    if (typeof input.mode !== 'string' || !modes.includes(input.mode as FaultMode)) {
      return { ok: false, param: 'mode', message: `expected one of ${modes.join(', ')}` };
    }
    faults.mode = input.mode as FaultMode;
  }
  const checks: [keyof MockFaults, number, number, boolean][] = [
    ['status', 100, 599, true],
    ['rate', 0, 1, false],
    ['afterChunks', 0, 1_000_000, true],
    ['latencyMs', 0, 3_600_000, false],
  ];
  for (const [key, min, max, integer] of checks) {
    const message = number(key, min, max, integer);
    if (message) return { ok: false, param: key, message };
  }
  if (input.continuation !== undefined && input.continuation !== null) {
    if (!['exact', 'overlap', 'restart'].includes(input.continuation as string)) {
      return { ok: false, param: 'continuation', message: 'expected one of exact, overlap, restart' };
    }
    faults.continuation = input.continuation as ContinuationMode;
  }
  if (input.retryAfterSeconds !== undefined && input.retryAfterSeconds !== null) {
    const message = number('retryAfterSeconds', 0, 86_400, false);
    if (message) return { ok: false, param: 'retryAfterSeconds', message };
  }
  return { ok: true, faults };
}
