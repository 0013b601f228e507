import { describe, expect, it } from 'vitest';
import { allCharts, type ChartNode, statesOf, transitionsOfChart } from '../../src/inspection/charts.ts';
import { type Diagram, type DiagramNode, layoutChart } from '../../src/inspection/layout.ts';

const inside = (inner: DiagramNode, outer: DiagramNode) =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

const parentOf = (id: string) => id.slice(0, id.lastIndexOf('.'));

describe.each(Object.entries(allCharts()))('the %s diagram', (_name, chart: ChartNode) => {
  let diagram: Diagram;
  const laidOut = async () => {
    diagram ??= await layoutChart(chart);
    return diagram;
  };

  it('has one node per state and one arrow per transition, each routed and labelled', async () => {
    const d = await laidOut();
    expect(
      d.nodes
        .filter((n) => n.kind !== 'initial' && n.kind !== 'any')
        .map((n) => n.id)
        .sort(),
    ).toEqual(
      statesOf(chart)
        .map((s) => s.id)
        .sort(),
    );
    const arrows = d.edges.filter((e) => e.kind === 'transition');
    expect(arrows.map((e) => e.id).sort()).toEqual(
      transitionsOfChart(chart)
        .map((t) => t.id)
        .sort(),
    );
    for (const e of arrows) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      expect(e.labelBox?.width).toBeGreaterThan(0);
    }
  });

  it('nests every state inside the region of its parent, within the drawing', async () => {
    const d = await laidOut();
    const byId = new Map(d.nodes.map((n) => [n.id, n]));
    for (const n of d.nodes) {
      const parent = byId.get(parentOf(n.id));
      if (parent) expect(inside(n, parent), `${n.id} inside ${parent.id}`).toBe(true);
      expect(n.x + n.width).toBeLessThanOrEqual(d.width);
      expect(n.y + n.height).toBeLessThanOrEqual(d.height);
    }
    // Parents come before their children, so that drawing in order puts regions underneath.
    const order = d.nodes.map((n) => n.id);
    for (const n of d.nodes) if (byId.has(parentOf(n.id))) expect(order.indexOf(parentOf(n.id))).toBeLessThan(order.indexOf(n.id));
  });

  it('marks the initial state of the machine and of every compound state with an arrow into it', async () => {
    const d = await laidOut();
    const compounds = [chart, ...statesOf(chart)].filter((s) => s.initial);
    const initialArrows = d.edges.filter((e) => e.kind === 'initial');
    expect(initialArrows.map((e) => e.target).sort()).toEqual(compounds.map((s) => `${s.id}.${s.initial}`).sort());
  });
});

describe('chart transitions', () => {
  it('carry their guard and delay, and one arrow per guarded alternative', () => {
    const provider = allCharts().provider;
    const fromHealthy = transitionsOfChart(provider).filter((t) => t.source === 'provider.healthy' && t.target === 'provider.recovering');
    expect(fromHealthy.map((t) => t.label)).toEqual([
      'call.failed [rateLimitedWithRetryAfter]',
      'call.failed [consecutiveFailures]',
      'circuit.tripped',
      'cluster.tripped [peerDeadlineAhead]',
    ]);
    const probeIdle = transitionsOfChart(provider).find((t) => t.event === 'after probeIdle');
    expect(probeIdle).toMatchObject({ delay: 'probeIdle', guard: 'noProbeInFlight', target: 'provider.recovering.probing.checking' });
    // Declared on the machine itself: from any state.
    expect(provider.transitions.map((t) => t.label)).toEqual(['operator.disable', 'config.removed']);
  });
});
