import { describe, expect, it } from 'vitest';
import { runChaos } from '../bench/chaos.ts';

describe('chaos, at CI size', () => {
  it('over random 5xx, 429 bursts, stream cuts and an upstream going down: no turn lost or doubled, no call let through to a cooling deployment, only typed errors in time', async () => {
    const report = await runChaos({ conversations: 40, turns: 5, concurrency: 20 });
    expect(report.turns).toBe(200);
    expect(report.violations).toEqual([]);
    // Failover makes almost every turn succeed despite the faults; what fails, fails typed.
    expect(report.succeeded).toBeGreaterThan(report.turns * 0.9);
  }, 60_000);
});
