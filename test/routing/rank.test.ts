import { describe, expect, it } from 'vitest';
import { type Candidate, pickNext, rankCandidates, tierOf } from '../../src/routing/rank.ts';

const candidate = (id: string, over: Partial<Candidate> = {}): Candidate => ({
  id,
  priority: Number(id.replace(/\D/g, '')) || 0,
  health: 'healthy',
  admission: 'normal',
  weight: 1,
  latencyEwmaMs: null,
  inFlight: 0,
  overBudget: false,
  ...over,
});
const ids = (cs: Candidate[]) => cs.map((c) => c.id);
const never = () => {
  throw new Error('no randomness expected');
};

describe('routing: tiers', () => {
  it('puts healthy first, then degraded or over budget, then a free probe slot, and never one that admits nothing', () => {
    const cs = [
      candidate('p0', { health: 'probing', admission: 'probe' }),
      candidate('p1', { health: 'coolingDown', admission: null }),
      candidate('p2', { health: 'degraded' }),
      candidate('p3', { overBudget: true }),
      candidate('p4'),
      candidate('p5', { health: 'disabled', admission: null }),
    ];
    expect(ids(rankCandidates(cs, 'priority', never))).toEqual(['p4', 'p2', 'p3', 'p0']);
    expect(cs.map(tierOf)).toEqual([2, null, 1, 1, 0, null]);
  });
});

describe('routing: strategies within a tier', () => {
  it('priority keeps the configured order', () => {
    expect(ids(rankCandidates([candidate('p2'), candidate('p0'), candidate('p1')], 'priority', never))).toEqual(['p0', 'p1', 'p2']);
  });

  it('priority ignores latency and calls in flight', () => {
    const cs = [candidate('p0', { inFlight: 9, latencyEwmaMs: 900 }), candidate('p1', { inFlight: 0, latencyEwmaMs: 10 })];
    expect(ids(rankCandidates(cs, 'priority', never))).toEqual(['p0', 'p1']);
  });

  it('least-latency prefers the lowest EWMA and tries unmeasured deployments first', () => {
    const cs = [candidate('p0', { latencyEwmaMs: 300 }), candidate('p1', { latencyEwmaMs: 80 }), candidate('p2', { latencyEwmaMs: null })];
    expect(ids(rankCandidates(cs, 'least-latency', never))).toEqual(['p2', 'p1', 'p0']);
  });

  it('least-busy prefers the fewest calls in flight, ties by priority', () => {
    const cs = [candidate('p0', { inFlight: 4 }), candidate('p1', { inFlight: 1 }), candidate('p2', { inFlight: 1 })];
    expect(ids(rankCandidates(cs, 'least-busy', never))).toEqual(['p1', 'p2', 'p0']);
  });

  it('weighted leads with each deployment in proportion to its weight', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const cs = [candidate('p0', { weight: 3 }), candidate('p1', { weight: 1 }), candidate('p2', { weight: 0 })];
    const firsts = { p0: 0, p1: 0, p2: 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) {
      const first = rankCandidates(cs, 'weighted', random)[0]?.id ?? '';
      firsts[first] = (firsts[first] ?? 0) + 1;
    }
    expect((firsts.p0 ?? 0) / 4000).toBeGreaterThan(0.7);
    expect((firsts.p0 ?? 0) / 4000).toBeLessThan(0.8);
    expect(firsts.p2).toBe(0);
  });

  it('strategies never lift a degraded deployment above a healthy one', () => {
    const cs = [
      candidate('p0', { health: 'degraded', latencyEwmaMs: 1, inFlight: 0, weight: 100 }),
      candidate('p1', { latencyEwmaMs: 999, inFlight: 9 }),
    ];
    for (const strategy of ['priority', 'weighted', 'least-latency', 'least-busy'] as const) {
      expect(rankCandidates(cs, strategy, () => 0.5)[0]?.id).toBe('p1');
    }
  });
});

describe('routing: next attempt', () => {
  it('moves to a deployment not tried yet', () => {
    expect(pickNext([candidate('p0'), candidate('p1')], 'priority', new Set(['p0']), never)?.id).toBe('p1');
  });

  it('retries a tried deployment when it is the only one that admits calls', () => {
    const cs = [candidate('p0'), candidate('p1', { health: 'coolingDown', admission: null })];
    expect(pickNext(cs, 'priority', new Set(['p0']), never)?.id).toBe('p0');
  });

  it('picks nothing when no deployment admits a call', () => {
    expect(pickNext([candidate('p0', { admission: null, health: 'coolingDown' })], 'priority', new Set(), never)).toBeUndefined();
  });
});
