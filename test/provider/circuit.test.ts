import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCircuit } from '../../src/provider/circuit.ts';
import { resolveProviderHealthOptions } from '../../src/provider/options.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('circuit window', () => {
  it('counts calls, retryable failures and slow calls, and forgets them bucket by bucket', () => {
    vi.useFakeTimers();
    const options = resolveProviderHealthOptions({ windowMs: 10_000, windowBuckets: 10, slowCallMs: 1000 });
    const circuit = createCircuit('c', options);
    circuit.record(5, false);
    circuit.record(2000, true);
    expect(circuit.windowStats()).toEqual({ calls: 2, failures: 1, slowCalls: 1 });
    vi.advanceTimersByTime(5000);
    circuit.record(5, true);
    expect(circuit.windowStats()).toEqual({ calls: 3, failures: 2, slowCalls: 1 });
    // The first two rotate out after a full window; the third half a window later.
    vi.advanceTimersByTime(5000);
    expect(circuit.windowStats()).toEqual({ calls: 1, failures: 1, slowCalls: 0 });
    vi.advanceTimersByTime(5000);
    expect(circuit.windowStats()).toEqual({ calls: 0, failures: 0, slowCalls: 0 });
    circuit.shutdown();
  });

  it('resetWindow forgets everything at once', () => {
    const circuit = createCircuit('c', resolveProviderHealthOptions({}));
    circuit.record(1, true);
    circuit.record(1, true);
    circuit.resetWindow();
    expect(circuit.windowStats()).toEqual({ calls: 0, failures: 0, slowCalls: 0 });
    circuit.shutdown();
  });
});
