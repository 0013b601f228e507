// Lays a chart out as a diagram with elkjs (the layered algorithm Stately's visualizer uses): compound states
// become regions holding their children, each transition a routed arrow with its label, each compound state an
// initial marker. The result is plain geometry in one coordinate space, ready to draw as SVG.

import type { default as ElkBundled, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk.bundled.js';
import { type ChartNode, type ChartTransition, statesOf, transitionsOfChart } from './charts.ts';

export interface DiagramNode {
  /** A state's full id; `<machine>.*` for the "any state" pseudo-node; `<compound>.[*]` for an initial marker. */
  id: string;
  kind: 'state' | 'compound' | 'final' | 'initial' | 'any';
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DiagramEdge {
  /** A transition's id, or `<compound>.[*]` for the arrow of an initial marker. */
  id: string;
  kind: 'transition' | 'initial';
  source: string;
  target: string;
  event: string;
  label: string;
  /** The label as drawn, one line each (the guard on its own line). */
  labelLines: string[];
  /** The arrow: start, bend points, end. */
  points: { x: number; y: number }[];
  labelBox: { x: number; y: number; width: number; height: number } | null;
}

export interface Diagram {
  machine: string;
  width: number;
  height: number;
  /** Parents before children, so that drawing in order nests regions correctly. */
  nodes: DiagramNode[];
  edges: DiagramEdge[];
}

// Text is measured by estimate: the page draws it in a fixed font size, and a few pixels of slack are
// cheaper than shipping a font-metrics table.
// elkjs (about 20 MB once loaded) is loaded on the first layout, i.e. the first visit to /inspect, not with
// the server. The bundle is CommonJS: its module is the constructor (and the constructor its own `default`).
let elk: Promise<typeof ElkBundled.default> | undefined;
const loadElk = () => {
  elk ??= import('elkjs/lib/elk.bundled.js').then(({ default: bundle }) => ('default' in bundle ? bundle.default : bundle));
  return elk;
};

const charWidth = { state: 7.4, label: 6.3 };
const stateHeight = 34;
const labelHeight = 15;
const markerSize = 12;

const anyId = (chart: ChartNode) => `${chart.id}.*`;
const initialId = (node: ChartNode) => `${node.id}.[*]`;

function elkNodeOf(node: ChartNode): ElkNode {
  if (node.children.length === 0) {
    return { id: node.id, width: Math.max(70, node.key.length * charWidth.state + 28), height: stateHeight };
  }
  const children = node.children.map(elkNodeOf);
  if (node.initial) children.unshift({ id: initialId(node), width: markerSize, height: markerSize });
  return {
    id: node.id,
    layoutOptions: { 'elk.padding': '[top=30,left=14,bottom=14,right=14]' },
    // Room for the region's name above its children.
    labels: [{ text: node.key, width: node.key.length * charWidth.state, height: 16 }],
    children,
  };
}

const labelLines = (t: ChartTransition) => (t.guard ? [t.event, `[${t.guard}]`] : [t.event]);

function edgesOf(chart: ChartNode): ElkExtendedEdge[] {
  const edges: ElkExtendedEdge[] = [];
  for (const node of [chart, ...statesOf(chart)]) {
    if (node.initial && node !== chart) {
      edges.push({ id: initialId(node), sources: [initialId(node)], targets: [`${node.id}.${node.initial}`] });
    }
  }
  for (const t of transitionsOfChart(chart)) {
    const source = t.source === chart.id ? anyId(chart) : t.source;
    // The guard goes on a line of its own: narrower labels keep the layers, and so the diagram, narrow.
    const lines = labelLines(t);
    const width = Math.max(...lines.map((l) => l.length)) * charWidth.label + 8;
    const label = { id: `${t.id}:label`, text: lines.join('\n'), width, height: lines.length * labelHeight };
    edges.push({ id: t.id, sources: [source], targets: [t.target], labels: [label] });
  }
  return edges;
}

const rootOptions = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': '20',
  'elk.layered.spacing.edgeNodeBetweenLayers': '6',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '5',
  'elk.layered.compaction.postCompaction.strategy': 'EDGE_LENGTH',
  'elk.spacing.nodeNode': '22',
  'elk.spacing.edgeLabel': '2',
  'elk.spacing.edgeEdge': '8',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  // One coordinate space for shapes and edges: nothing to add up while drawing.
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
};

function flatten(chart: ChartNode, laid: ElkNode): DiagramNode[] {
  const byId = new Map<string, ChartNode>([[chart.id, chart], ...statesOf(chart).map((s) => [s.id, s] as const)]);
  const out: DiagramNode[] = [];
  const walk = (n: ElkNode) => {
    const state = byId.get(n.id);
    const kind =
      n.id === anyId(chart)
        ? 'any'
        : n.id.endsWith('.[*]')
          ? 'initial'
          : state?.final
            ? 'final'
            : n.children?.length
              ? 'compound'
              : 'state';
    const label = kind === 'any' ? 'any state' : (state?.key ?? '');
    out.push({ id: n.id, kind, label, x: n.x ?? 0, y: n.y ?? 0, width: n.width ?? 0, height: n.height ?? 0 });
    for (const c of n.children ?? []) walk(c);
  };
  for (const c of laid.children ?? []) walk(c);
  return out;
}

function edgeOf(chart: ChartNode, e: ElkExtendedEdge): DiagramEdge {
  const t = transitionsOfChart(chart).find((x) => x.id === e.id);
  const points = (e.sections ?? []).flatMap((s) => [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]);
  const l = e.labels?.[0];
  const labelBox = l ? { x: l.x ?? 0, y: l.y ?? 0, width: l.width ?? 0, height: l.height ?? 0 } : null;
  return {
    id: e.id,
    kind: t ? 'transition' : 'initial',
    source: e.sources[0] ?? '',
    target: e.targets[0] ?? '',
    event: t?.event ?? '',
    label: t?.label ?? '',
    labelLines: t ? labelLines(t) : [],
    points: points.map((p) => ({ x: p.x, y: p.y })),
    labelBox,
  };
}

/** Lays out one chart (about 100 ms for the provider machine; callers cache the result). */
export async function layoutChart(chart: ChartNode): Promise<Diagram> {
  const children = chart.children.map(elkNodeOf);
  if (chart.initial) children.unshift({ id: initialId(chart), width: markerSize, height: markerSize });
  if (chart.transitions.length > 0) children.push({ id: anyId(chart), width: 84, height: 26 });
  const edges = edgesOf(chart);
  if (chart.initial) edges.push({ id: initialId(chart), sources: [initialId(chart)], targets: [`${chart.id}.${chart.initial}`] });
  const graph: ElkNode = { id: chart.id, layoutOptions: rootOptions, children, edges };
  const ELK = await loadElk();
  const laid = await new ELK().layout(graph);
  return {
    machine: chart.id,
    width: laid.width ?? 0,
    height: laid.height ?? 0,
    nodes: flatten(chart, laid),
    edges: (laid.edges ?? []).map((e) => edgeOf(chart, e)),
  };
}
