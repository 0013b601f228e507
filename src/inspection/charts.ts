// Statecharts read from the machine definitions themselves: the inspector page lays them out and draws them,
// and `npm run docs:charts` writes them as Mermaid diagrams, so neither can drift from the code. Pure data.

import type { AnyStateMachine } from 'xstate';
import { conversationMachine } from '../conversation/machine.ts';
import { providerMachine } from '../provider/machine.ts';
import { createRolloutMachine } from '../rollout/machine.ts';
import { supervisorMachine } from '../routing/supervisor.machine.ts';
import { eventName } from './events.ts';

/** One transition with a target: one arrow in a diagram. */
export interface ChartTransition {
  /** Unique within its machine: `<source>#<n>`. */
  id: string;
  /** Full id of the state that declares it, e.g. `provider.healthy` (the machine id for "in any state"). */
  source: string;
  target: string;
  /** What `runtime.subscribe()` reports as the event: `call.failed`, `after backoff`, `done`, `always`. */
  event: string;
  guard: string | null;
  /** The named delay of an `after` transition. */
  delay: string | null;
  /** The event with its guard, as drawn: `call.failed [retryableFailure]`. */
  label: string;
}

export interface ChartNode {
  /** Full id, e.g. `provider.recovering.coolingDown`. */
  id: string;
  key: string;
  /** Key of the initial child of a compound state. */
  initial: string | null;
  final: boolean;
  children: ChartNode[];
  /** The transitions this state declares. */
  transitions: ChartTransition[];
}

/** The parts of an XState state node this module reads (stable across XState 5 releases). */
interface StateNodeLike {
  id: string;
  key: string;
  type: string;
  states: Record<string, StateNodeLike>;
  initial?: { target: readonly { key: string }[] } | undefined;
  transitions: Map<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[] | undefined;
}

interface TransitionLike {
  eventType: string;
  target?: readonly { id: string }[] | undefined;
  guard?: unknown;
  delay?: unknown;
}

function guardName(guard: unknown): string | null {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  if (guard && typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  return null;
}

function transitionsOf(state: StateNodeLike): ChartTransition[] {
  const declared = [...[...state.transitions.values()].flat(), ...(state.always ?? [])];
  const out: ChartTransition[] = [];
  for (const t of declared) {
    // Transitions without a target only record data (metrics): they are not part of the chart.
    for (const target of t.target ?? []) {
      const event = eventName(t.eventType);
      const guard = guardName(t.guard);
      const delay = event.startsWith('after ') ? event.slice('after '.length) : null;
      const label = guard ? `${event} [${guard}]` : event;
      out.push({ id: `${state.id}#${out.length}`, source: state.id, target: target.id, event, guard, delay, label });
    }
  }
  return out;
}

function nodeOf(state: StateNodeLike): ChartNode {
  return {
    id: state.id,
    key: state.key,
    initial: state.initial?.target[0]?.key ?? null,
    final: state.type === 'final',
    children: Object.values(state.states).map(nodeOf),
    transitions: transitionsOf(state),
  };
}

/** The chart of a machine: its root node, whose children are the top-level states. */
export function chartOf(machine: AnyStateMachine): ChartNode {
  return nodeOf(machine.root as unknown as StateNodeLike);
}

/** Every state below the root, depth first. */
export function statesOf(chart: ChartNode): ChartNode[] {
  return chart.children.flatMap((c) => [c, ...statesOf(c)]);
}

/** Every transition of a chart, the root's ("in any state") included. */
export function transitionsOfChart(chart: ChartNode): ChartTransition[] {
  return [...chart.transitions, ...statesOf(chart).flatMap((s) => s.transitions)];
}

export type MachineName = 'provider' | 'supervisor' | 'conversation' | 'rollout';

/** Every machine of Switchyard, by the name its actors are known by. A rollout is drawn with the default steps. */
export function allCharts(): Record<MachineName, ChartNode> {
  return {
    provider: chartOf(providerMachine),
    supervisor: chartOf(supervisorMachine),
    conversation: chartOf(conversationMachine),
    rollout: chartOf(createRolloutMachine([10, 50, 100])),
  };
}

const mermaidId = (id: string) => id.replaceAll('.', '_');
// Mermaid reads `:` as the start of a label and `;` as a statement end.
const mermaidLabel = (label: string) => label.replaceAll(/[:;]/g, ' ');

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
      for (const t of child.transitions) {
        lines.push(`${indent}${mermaidId(child.id)} --> ${mermaidId(t.target)}: ${mermaidLabel(t.label)}`);
      }
    }
  };
  walk(chart, '  ');
  // Transitions declared on the root apply in every state.
  for (const t of chart.transitions) lines.push(`  note right of ${mermaidId(t.target)}: from any state on ${mermaidLabel(t.label)}`);
  return lines.join('\n');
}

/** The Markdown page of every statechart. */
export function chartsMarkdown(): string {
  const parts = [
    '# Statecharts',
    '',
    'Generated from the machine definitions by `npm run docs:charts`; a test fails when this page is out of date.',
    'Each arrow is one transition: its event, and its guard in brackets. `/inspect` draws the same charts live.',
  ];
  for (const [name, chart] of Object.entries(allCharts())) {
    parts.push('', `## ${name}`, '', '```mermaid', toMermaid(chart), '```');
  }
  return `${parts.join('\n')}\n`;
}
