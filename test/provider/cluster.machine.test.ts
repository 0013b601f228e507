// The provider machine in a cluster: peers' verdicts arrive as events, one instance probes under a lease, and
// this instance's own verdicts are announced. Driven on a SimulatedClock.

import { describe, expect, it } from 'vitest';
import { admission, healthOf } from '../../src/provider/health.ts';
import { noJitter, startProvider } from './harness.ts';

const clustered = () => startProvider(noJitter, 1, true);
const recovering = (p: ReturnType<typeof startProvider>) => (p.state().value as { recovering?: unknown }).recovering;

describe('provider machine in a cluster: peers trip and recover it', () => {
  it("moves a healthy deployment to coolingDown with the peer's deadline when it is later than its own backoff", () => {
    const p = clustered();
    p.peerTripped(5000, 'gw-2');
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.state().context).toMatchObject({ nextProbeAt: 5000, trippedBy: 'gw-2', attempt: 1 });
    expect(admission(p.state())).toBeNull();
    expect(p.announced).toEqual([]); // a peer's trip is not announced again
    p.clock.increment(4999);
    expect(healthOf(p.state())).toBe('coolingDown');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('probing');
  });

  it("keeps its own backoff when a peer's deadline is earlier", () => {
    const p = clustered();
    p.peerTripped(200);
    expect(p.state().context.nextProbeAt).toBe(1000); // initialMs of the backoff
  });

  it('lengthens a cool-down in progress for a later deadline and never shortens it for an earlier one', () => {
    const p = clustered();
    p.trip();
    expect(p.state().context.nextProbeAt).toBe(1000);
    p.peerTripped(400);
    expect(p.state().context.nextProbeAt).toBe(1000);
    p.peerTripped(3000, 'gw-3');
    expect(p.state().context).toMatchObject({ nextProbeAt: 3000, trippedBy: 'gw-3', attempt: 1 });
    p.clock.increment(2999);
    expect(healthOf(p.state())).toBe('coolingDown');
    p.clock.increment(1);
    expect(healthOf(p.state())).toBe('probing');
  });

  it('ignores a peer trip whose deadline has already passed', () => {
    const p = clustered();
    p.peerTripped(0);
    expect(healthOf(p.state())).toBe('healthy');
  });

  it("returns to healthy at once when a peer's probe succeeded, from cooling down or waiting for the peer", () => {
    const p = clustered();
    p.trip();
    p.peerRecovered();
    expect(healthOf(p.state())).toBe('healthy');
    expect(p.state().context).toMatchObject({ attempt: 0, nextProbeAt: null, trippedBy: null });
    expect(p.circuit.at(-2)).toBe('resetWindow');
    expect(p.circuit.at(-1)).toBe('close');
    const q = clustered();
    q.trip();
    q.clock.increment(1000);
    q.leaseDenied(2000);
    q.peerRecovered();
    expect(healthOf(q.state())).toBe('healthy');
  });

  it('leaves a healthy or disabled deployment alone when a peer recovers it', () => {
    const p = clustered();
    p.peerRecovered();
    expect(healthOf(p.state())).toBe('healthy');
    p.actor.send({ type: 'operator.disable', at: 0 });
    p.peerRecovered();
    p.peerTripped(5000);
    expect(healthOf(p.state())).toBe('disabled');
  });
});

describe('provider machine in a cluster: one probe at a time under a lease', () => {
  it('claims the lease when its cool-down ends and admits no probe until it is granted', () => {
    const p = clustered();
    p.trip();
    p.clock.increment(1000);
    expect(recovering(p)).toEqual({ probing: 'claiming' });
    expect(p.announced).toEqual(['trip until 1000', 'claim']);
    expect(admission(p.state())).toBeNull();
    p.leaseGranted();
    expect(recovering(p)).toEqual({ probing: 'waiting' });
    expect(admission(p.state())).toBe('probe');
  });

  it("waits for the holder's verdict when the lease is denied, and claims again if none came before it ran out", () => {
    const p = clustered();
    p.trip();
    p.clock.increment(1000);
    p.leaseDenied(2500, 'gw-2');
    expect(recovering(p)).toBe('awaitingPeer');
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(admission(p.state())).toBeNull();
    expect(p.state().context).toMatchObject({ peerProbe: { holder: 'gw-2' }, nextProbeAt: 3500 });
    p.clock.increment(2499);
    expect(recovering(p)).toBe('awaitingPeer');
    p.clock.increment(1);
    expect(recovering(p)).toEqual({ probing: 'claiming' });
    expect(p.announced.filter((a) => a === 'claim')).toHaveLength(2);
  });

  it("cools down again with the holder's deadline when its probe failed", () => {
    const p = clustered();
    p.trip();
    p.clock.increment(1000);
    p.leaseDenied(2500);
    p.peerTripped(4000);
    expect(recovering(p)).toBe('coolingDown');
    expect(p.state().context.nextProbeAt).toBe(5000);
    expect(p.state().context.peerProbe).toBeNull();
  });

  it('announces its own trips with the deadline and its own successful probe as a recovery', () => {
    const p = clustered();
    p.fail({}, p.window(1, 1));
    for (let i = 0; i < 4; i++) p.fail({}, p.window(1, 1));
    expect(healthOf(p.state())).toBe('coolingDown');
    expect(p.announced).toEqual(['trip until 1000']);
    p.clock.increment(1000);
    p.leaseGranted();
    p.startProbe();
    p.fail({}, p.window(1, 1), true);
    expect(p.announced.at(-1)).toBe('trip until 3000'); // attempt 2: 2 s from t=1000
    p.clock.increment(2000);
    p.leaseGranted();
    p.startProbe();
    p.succeed(p.window(1, 0), true);
    expect(healthOf(p.state())).toBe('healthy');
    expect(p.announced.at(-1)).toBe('recovered');
  });

  it('probes at once without a cluster, never waiting for a lease', () => {
    const p = startProvider();
    p.trip();
    p.clock.increment(1000);
    expect(recovering(p)).toEqual({ probing: 'waiting' });
    expect(admission(p.state())).toBe('probe');
    p.leaseDenied(5000); // not a cluster's answer to anything: ignored
    expect(recovering(p)).toEqual({ probing: 'waiting' });
  });
});
