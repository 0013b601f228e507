// The rollout's statechart: pending → ramping (one state per step: holding for holdMs, then judging the two
// arms) → promoted; a breached guard at any step goes to rolledBack (all traffic to the baseline, the reason
// kept); an operator may pause, resume, promote or abort. The arms' figures arrive as `arms.sampled` events
// from the request path; the machine only compares them. Built per rollout because each step is a state.

import { assign, setup } from 'xstate';
import type { ArmSample } from './stats.ts';

export interface RolloutGuard {
  minRequests: number;
  maxErrorRateIncrease: number;
  maxLatencyP95Ratio: number | null;
  maxTtftP95Ratio: number | null;
  /** A canary p95 less than this above the baseline's is never a breach. */
  latencyToleranceMs: number;
}

export interface RolloutInput {
  id: string;
  steps: readonly number[];
  holdMs: number;
  guard: RolloutGuard;
}

export interface Arms {
  baseline: ArmSample;
  canary: ArmSample;
}

export interface RolloutContext extends RolloutInput {
  /** Index of the current (or, paused, the last) step; -1 before the first. */
  step: number;
  /** The canary's share of subjects now, in percent. */
  percent: number;
  /** The arms' figures in the current step, as last sampled. */
  arms: Arms | null;
  /** Why it rolled back: the guard breached, or the operator. */
  reason: string | null;
}

export type RolloutEvent =
  | { type: 'rollout.start' }
  | { type: 'arms.sampled'; baseline: ArmSample; canary: ArmSample }
  | { type: 'operator.pause' }
  | { type: 'operator.resume' }
  | { type: 'operator.promote' }
  | { type: 'operator.abort' }
  /** In a cluster, on an instance that follows: the driving instance's state (src/rollout/cluster.ts). */
  | { type: 'cluster.synced'; phase: SyncedPhase; step: number; reason: string | null };

/** What a following instance learns of the driver's state: its top-level state and step. */
export type SyncedPhase = 'pending' | 'ramping' | 'paused' | 'promoted' | 'rolledBack';

const percentText = (rate: number) => `${(100 * rate).toFixed(1)} %`;
const rate = (arm: ArmSample) => (arm.requests === 0 ? 0 : arm.errors / arm.requests);

function ratioBreach(what: string, limit: number | null, tolerance: number, canary: number | null, baseline: number | null): string | null {
  if (limit === null || canary === null || baseline === null || baseline <= 0 || canary - baseline < tolerance) return null;
  const ratio = canary / baseline;
  return ratio > limit
    ? `${what} p95 ${canary.toFixed(0)} ms on the canary is ${ratio.toFixed(2)}× the baseline's (limit ${limit}×)`
    : null;
}

/** Which guard the arms breach, in words, or null: nothing is judged before the canary has `minRequests`. */
export function breachOf(guard: RolloutGuard, arms: Arms): string | null {
  const { baseline, canary } = arms;
  if (canary.requests < guard.minRequests) return null;
  const increase = rate(canary) - rate(baseline);
  if (increase > guard.maxErrorRateIncrease) {
    return `error rate ${percentText(rate(canary))} on the canary against ${percentText(rate(baseline))} on the baseline (${canary.errors} of ${canary.requests} requests; allowed increase ${percentText(guard.maxErrorRateIncrease)})`;
  }
  return (
    ratioBreach('latency', guard.maxLatencyP95Ratio, guard.latencyToleranceMs, canary.latencyP95Ms, baseline.latencyP95Ms) ??
    ratioBreach('time to first token', guard.maxTtftP95Ratio, guard.latencyToleranceMs, canary.ttftP95Ms, baseline.ttftP95Ms)
  );
}

/** The state key of step `index` (0-based): `step1`, `step2`, … */
export const stepKey = (index: number) => `step${index + 1}`;

/** The rollout machine for these steps (percentages, strictly increasing, ending at 100). */
export function createRolloutMachine(steps: readonly number[]) {
  const logic = setup({
    types: { context: {} as RolloutContext, events: {} as RolloutEvent, input: {} as RolloutInput },
    actions: {
      enterStep: assign((_, params: { index: number }) => ({ step: params.index, percent: steps[params.index] ?? 100, arms: null })),
      storeArms: assign(({ event }) => (event.type === 'arms.sampled' ? { arms: { baseline: event.baseline, canary: event.canary } } : {})),
      recordBreach: assign(({ context, event }) =>
        event.type === 'arms.sampled' ? { reason: breachOf(context.guard, { baseline: event.baseline, canary: event.canary }) } : {},
      ),
      recordAbort: assign({ reason: 'aborted by the operator' }),
      syncStep: assign(({ event }) =>
        event.type === 'cluster.synced' ? { step: event.step, percent: steps[event.step] ?? 0, reason: event.reason } : {},
      ),
      promote: assign({ percent: 100 }),
      rollBack: assign({ percent: 0 }),
      // Provided by the wiring: a new step compares the arms afresh.
      stepEntered: () => {},
    },
    guards: {
      guardBreached: ({ context, event }) =>
        event.type === 'arms.sampled' && breachOf(context.guard, { baseline: event.baseline, canary: event.canary }) !== null,
      armsHealthy: ({ context }) =>
        context.arms !== null &&
        context.arms.canary.requests >= context.guard.minRequests &&
        breachOf(context.guard, context.arms) === null,
      atStep: ({ context }, params: { index: number }) => context.step === params.index,
      syncedTo: ({ event }, params: { phase: SyncedPhase; index?: number }) =>
        event.type === 'cluster.synced' && event.phase === params.phase && (params.index === undefined || event.step === params.index),
    },
    delays: { hold: ({ context }) => context.holdMs },
  });
  const operatorEnds = {
    'operator.promote': { target: '#rollout.promoted' },
    'operator.abort': { target: '#rollout.rolledBack', actions: 'recordAbort' as const },
  };
  const stepStates = Object.fromEntries(
    steps.map((_, index) => [
      stepKey(index),
      {
        entry: [{ type: 'enterStep' as const, params: { index } }, 'stepEntered' as const],
        initial: 'holding',
        states: {
          holding: { after: { hold: 'judging' } },
          judging: {
            always: {
              guard: 'armsHealthy' as const,
              target: index + 1 < steps.length ? `#rollout.ramping.${stepKey(index + 1)}` : '#rollout.promoted',
            },
          },
        },
        on: {
          'arms.sampled': [
            { guard: 'guardBreached' as const, target: '#rollout.rolledBack', actions: 'recordBreach' as const },
            { actions: 'storeArms' as const },
          ],
        },
      },
    ]),
  );
  // A follower takes the driver's state as it is published; it compares no arms of its own.
  const synced = [
    ...steps.map((_, index) => ({
      guard: { type: 'syncedTo' as const, params: { phase: 'ramping' as const, index } },
      target: `#rollout.ramping.${stepKey(index)}`,
    })),
    { guard: { type: 'syncedTo' as const, params: { phase: 'paused' as const } }, target: '#rollout.paused', actions: 'syncStep' as const },
    { guard: { type: 'syncedTo' as const, params: { phase: 'promoted' as const } }, target: '#rollout.promoted' },
    {
      guard: { type: 'syncedTo' as const, params: { phase: 'rolledBack' as const } },
      target: '#rollout.rolledBack',
      actions: 'syncStep' as const,
    },
  ];
  return logic.createMachine({
    id: 'rollout',
    context: ({ input }) => ({ ...input, step: -1, percent: 0, arms: null, reason: null }),
    on: { 'cluster.synced': synced },
    initial: 'pending',
    states: {
      pending: { on: { 'rollout.start': { target: `ramping.${stepKey(0)}` }, ...operatorEnds } },
      ramping: {
        initial: stepKey(0),
        states: stepStates,
        on: { 'operator.pause': { target: 'paused' }, ...operatorEnds },
      },
      paused: {
        on: {
          // Back to the step it left: its hold starts again and the arms are compared afresh.
          'operator.resume': steps.map((_, index) => ({
            guard: { type: 'atStep' as const, params: { index } },
            target: `#rollout.ramping.${stepKey(index)}`,
          })),
          ...operatorEnds,
        },
      },
      promoted: { entry: 'promote' },
      rolledBack: { entry: 'rollBack' },
    },
  });
}

export type RolloutMachine = ReturnType<typeof createRolloutMachine>;
