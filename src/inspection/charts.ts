// Statecharts read from the machine definitions themselves (xstate/graph): the inspector page draws them and
// `npm run docs:charts` writes them as Mermaid diagrams, so neither can drift from the code.

import type { AnyStateMachine } from 'xstate';
import { toDirectedGraph } from 'xstate/graph';
import { conversationMachine } from '../conversation/machine.ts';
import { providerMachine } from '../provider/machine.ts';
import { supervisorMachine } from '../routing/supervisor.machine.ts';
import { eventName } from './events.ts';

export interface ChartEdge {
  event: string;
  target: string;
}

export interface ChartNode {
  /** Full id, e.g. `provider.recovering.coolingDown`. */
  id: string;
  key: string;
  initial: string | null;
  final: boolean;
  children: ChartNode[];
  edges: ChartEdge[];
}

type GraphNode = ReturnType<typeof toDirectedGraph>;

function nodeOf(graph: GraphNode): ChartNode {
  const state = graph.stateNode;
  const seen = new Set<string>();
  const edges: ChartEdge[] = [];
  for (const edge of graph.edges) {
    // Transitions without a target only record data (metrics): they are not part of the chart.
    if (!edge.transition.target) continue;
    const event = eventName(edge.transition.eventType);
    const key = `${event}→${edge.target.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({ event, target: edge.target.id });
  }
  // Eventless transitions are not graph edges: read them from the state node, with their guards.
  for (const t of state.always ?? []) {
    const target = t.target?.[0];
    if (!target) continue;
    const guard = typeof t.guard === 'string' ? t.guard : ((t.guard as { type?: string } | undefined)?.type ?? '');
    edges.push({ event: guard ? `always [${guard}]` : 'always', target: target.id });
  }
  const initial = state.initial?.target[0]?.key ?? null;
  return { id: state.id, key: state.key, initial, final: state.type === 'final', children: graph.children.map(nodeOf), edges };
}

export function chartOf(machine: AnyStateMachine): ChartNode {
  return nodeOf(toDirectedGraph(machine));
}

/** Every machine of Switchyard, by the name its actors are known by. */
export function allCharts(): { provider: ChartNode; supervisor: ChartNode; conversation: ChartNode } {
  return { provider: chartOf(providerMachine), supervisor: chartOf(supervisorMachine), conversation: chartOf(conversationMachine) };
}

const mermaidId = (id: string) => id.replaceAll('.', '_');

/** A Mermaid stateDiagram-v2 of a chart, nested states included. */
export function toMermaid(chart: ChartNode): string {
  const lines = ['stateDiagram-v2'];
  const walk = (node: ChartNode, indent: string) => {
    if (node.initial) lines.push(`${indent}[*] --> ${mermaidId(`${node.id}.${node.initial}`)}`);
    for (const child of node.children) {
      lines.push(`${indent}state "${child.key}" as ${mermaidId(child.id)}`);
      if (child.children.length > 0) {
        lines.push(`${indent}state ${mermaidId(child.id)} {`);
        walk(child, `${indent}  `);
        lines.push(`${indent}}`);
      }
      if (child.final) lines.push(`${indent}${mermaidId(child.id)} --> [*]`);
    }
    for (const child of node.children) {
      for (const e of child.edges) lines.push(`${indent}${mermaidId(child.id)} --> ${mermaidId(e.target)}: ${e.event}`);
    }
  };
  walk(chart, '  ');
  // Transitions declared on the root apply in every state.
  for (const e of chart.edges) lines.push(`  note right of ${mermaidId(e.target)}: from any state on ${e.event}`);
  return lines.join('\n');
}

/** The Markdown page of every statechart. */
export function chartsMarkdown(): string {
  const parts = [
    '# Statecharts',
    '',
    'Generated from the machine definitions by `npm run docs:charts`; a test fails when this page is out of date.',
  ];
  for (const [name, chart] of Object.entries(allCharts())) {
    parts.push('', `## ${name}`, '', '```mermaid', toMermaid(chart), '```');
  }
  return `${parts.join('\n')}\n`;
}
