// The provider machine under a config reload: new options arrive as an event and change nothing else, and a
// removed deployment drains (admits nothing, still records what settles) until it is stopped or added back.

import { describe, expect, it } from 'vitest';
import { admission, healthOf } from '../../src/provider/health.ts';
import { resolveProviderHealthOptions } from '../../src/provider/options.ts';
import { noJitter, startProvider } from './harness.ts';

describe('provider machine: config reload', () => {
  it('takes new health options while cooling down without moving its deadline, attempt or state', () => {
    const p = startProvider(noJitter);
    p.trip();
    const before = p.state().context;
    expect(healthOf(p.state())).toBe('coolingDown');
    const health = resolveProviderHealthOptions({ ...noJitter, probeCount: 3, degradedErrorRate: 0.4 });
    p.actor.send({ type: 'config.changed', health });
    const after = p.state();
    expect(after.value).toEqual({ recovering: 'coolingDown' });
    expect(after.context.nextProbeAt).toBe(before.nextProbeAt);
    expect(after.context.attempt).toBe(before.attempt);
    expect(after.context.options.probeCount).toBe(3);
    // The cool-down still ends when it was due, then the new probe count applies.
    p.clock.increment(before.backoffDelayMs ?? 0);
    expect(healthOf(p.state())).toBe('probing');
    p.startProbe();
    p.startProbe();
    expect(admission(p.state())).toBe('probe');
  });

  it('drains when removed: admits nothing, still records calls that settle, ignores operator and cluster events', () => {
    const p = startProvider(noJitter);
    p.actor.send({ type: 'config.removed' });
    expect(healthOf(p.state())).toBe('draining');
    expect(admission(p.state())).toBeNull();
    expect(p.circuit.at(-1)).toBe('open');
    p.succeed();
    expect(p.state().context.metrics.successes).toBe(1);
    p.actor.send({ type: 'operator.enable', at: 0 });
    p.actor.send({ type: 'operator.disable', at: 0 });
    p.peerTripped(1000);
    expect(healthOf(p.state())).toBe('draining');
  });

  it('serves again when added back before it finished draining', () => {
    const p = startProvider(noJitter);
    p.trip();
    p.actor.send({ type: 'config.removed' });
    p.actor.send({ type: 'config.restored' });
    expect(healthOf(p.state())).toBe('healthy');
    expect(p.state().context.nextProbeAt).toBeNull();
    expect(admission(p.state())).toBe('normal');
  });
});
