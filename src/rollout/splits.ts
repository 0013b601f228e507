// Experiments and rollouts on the request path. A request for a split model is assigned an arm (a sticky hash
// of its subject, else a random draw), sent to that arm's logical model through the supervisor (failover
// inside the arm as usual), and its outcome counted for that arm. A rollout's canary that cannot serve (every
// deployment down or failing) hands the request to the baseline: counted as a canary failure, invisible to
// the client. A model that is not split never reaches this module (the runtime checks one Map first).

import type { InspectionEvent } from 'xstate';
import type { ClusterLink } from '../cluster/link.ts';
import type { SwitchyardConfig } from '../config.ts';
import { asSwitchyard, type ErrorCode, type RouteInfo, SwitchyardError } from '../errors.ts';
import type { CallOptions, ChatCompletionRequest, ChatResult, ChatStreamEnd, ChatStreamEvent } from '../routing/request.ts';
import { shareRollout } from './cluster.ts';
import { type Subject, subjectKey, subjectPoint } from './hash.ts';
import { type ArmName, createRollout, type Outcome, type Rollout, type RolloutCommand, type RolloutView } from './rollout.ts';
import { type ArmCounter, createSharedArms, type SharedArms } from './shared-arms.ts';
import { type ArmFigures, ArmStats } from './stats.ts';
import { modelOfVariant, pickVariant, variantRequest } from './variants.ts';

export type { Subject } from './hash.ts';
export type { RolloutCommand, RolloutView } from './rollout.ts';

/** What a split request passes besides its body: the caller's signal and tenant, and who it is (for sticky arms). */
export type SplitCallOptions = CallOptions;

/** The supervisor as a split uses it. */
export interface SplitTarget {
  chat(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatResult>;
  stream(request: ChatCompletionRequest, options?: CallOptions): AsyncGenerator<ChatStreamEvent, ChatStreamEnd, undefined>;
}

// The first upstream failure a request met inside its arm; a hedge the winner made redundant is no failure.
const failedWith = (route: RouteInfo) => route.attempts.find((a) => a.outcome !== 'ok' && a.outcome !== 'aborted')?.outcome ?? null;

interface Arm {
  name: string;
  model: string;
  params?: SwitchyardConfig['experiments'][number]['variants'][number]['params'];
  observe(outcome: Outcome): void;
}

interface Split {
  id: string;
  sticky: string;
  pick(point: number): Arm;
  /** The arm that serves when `arm` cannot: a rollout's baseline for its canary. */
  fallback(arm: Arm): Arm | null;
}

/** An experiment as the admin routes show it: each variant with its figures since start. */
export interface ExperimentView {
  id: string;
  model: string;
  sticky: string;
  /** With `scope: cluster`, each variant's `local` is this instance's own share (what /metrics exports). */
  variants: (ArmFigures & { name: string; model: string; weight: number; local?: ArmFigures })[];
  /** `cluster`: the figures are summed over every instance (Redis); `instance`: this one's alone. */
  scope: 'cluster' | 'instance';
}

// An arm that could not answer at all (down, failing, refused by its deployments): the other arm may. A caller's
// abort, the deadline and what the request itself got wrong would fail on the baseline too.
const availabilityFailure = (code: ErrorCode, retryable: boolean) =>
  retryable || code === 'no_provider_available' || code === 'provider_auth' || code === 'upstream_response_too_large';

export function createSplits(
  config: Pick<SwitchyardConfig, 'experiments' | 'rollouts'>,
  deps: {
    target: SplitTarget;
    now: () => number;
    random: () => number;
    inspect?: ((event: InspectionEvent) => void) | undefined;
    clock?: Parameters<typeof createRollout>[1]['clock'];
    /** In a cluster: one instance drives each rollout under a lease of `leaseMs`, the others follow. */
    cluster?: { link: ClusterLink; leaseMs: number; flushMs?: number | undefined } | undefined;
  },
) {
  const { target, now, random } = deps;
  const byModel = new Map<string, Split>();
  const experiments = new Map<
    string,
    { config: SwitchyardConfig['experiments'][number]; stats: Map<string, ArmStats>; shared: ArmCounter | null }
  >();
  // In a cluster the arms' figures are also summed in Redis, written in batches (src/rollout/shared-arms.ts);
  // made with the first split, so that a cluster without any runs no flush timer.
  const link = deps.cluster?.link;
  let sharedArms: SharedArms | null = null;
  const armsOf = (cluster: { link: ClusterLink; flushMs?: number | undefined }) =>
    (sharedArms ??= createSharedArms(cluster.link, { flushMs: cluster.flushMs }));
  const rollouts = new Map<string, Rollout>();
  const unshare: (() => Promise<void>)[] = [];

  for (const e of config.experiments) {
    const stats = new Map(e.variants.map((v) => [v.name, new ArmStats()]));
    const names = e.variants.map((v) => v.name);
    const shared = link && deps.cluster ? armsOf(deps.cluster).counter(`${link.prefix}:{experiment:${e.id}}:variants`, names) : null;
    experiments.set(e.id, { config: e, stats, shared });
    const arms = e.variants.map((v) => ({
      name: v.name,
      model: modelOfVariant(e.id, v),
      weight: v.weight,
      ...(v.params ? { params: v.params } : {}),
      observe: (o: Outcome) => {
        record(stats.get(v.name), o);
        shared?.record(v.name, o);
      },
    }));
    byModel.set(e.model, { id: e.id, sticky: e.sticky, pick: (point) => pickVariant(arms, point), fallback: () => null });
  }
  for (const r of config.rollouts) {
    const rollout = createRollout(r, { inspect: deps.inspect, clock: deps.clock });
    rollouts.set(r.id, rollout);
    const arm = (name: ArmName): Arm => ({ name, model: rollout.modelOf(name), observe: (o) => rollout.observe(name, o) });
    const baseline = arm('baseline');
    const canary = arm('canary');
    // Subjects below the percentage are the canary's: raising it only moves subjects from the baseline.
    byModel.set(r.model, {
      id: r.id,
      sticky: r.sticky,
      pick: (point) => (point < rollout.percent() / 100 ? canary : baseline),
      fallback: (a) => (a === canary ? baseline : null),
    });
    rollout.start();
    if (deps.cluster) {
      unshare.push(shareRollout(deps.cluster.link, rollout, { leaseMs: deps.cluster.leaseMs, arms: armsOf(deps.cluster) }));
    }
  }

  const armOf = (split: Split, subject: Subject | undefined) => {
    const key = subjectKey(split.sticky, subject);
    return split.pick(key === null ? random() : subjectPoint(split.id, key));
  };

  async function chatOn(split: Split, arm: Arm, request: ChatCompletionRequest, options: SplitCallOptions): Promise<ChatResult> {
    const started = now();
    try {
      const result = await target.chat(variantRequest(request, arm.model, arm.params), { signal: options.signal, tenant: options.tenant });
      const usage = result.completion.usage ?? null;
      arm.observe({ ok: true, latencyMs: now() - started, ttftMs: null, usage, failedWith: failedWith(result.route) });
      return { completion: result.completion, route: { ...result.route, model: request.model, variant: arm.name } };
    } catch (err) {
      const error = asSwitchyard(err);
      if (error.code !== 'aborted') arm.observe({ ok: false, code: error.code, latencyMs: now() - started });
      const other = split.fallback(arm);
      if (other && availabilityFailure(error.code, error.retryable)) return chatOn(split, other, request, options);
      throw error.route ? error.withRoute({ ...error.route, model: request.model, variant: arm.name }) : error;
    }
  }

  async function* streamOn(
    split: Split,
    arm: Arm,
    request: ChatCompletionRequest,
    options: SplitCallOptions,
  ): AsyncGenerator<ChatStreamEvent, ChatStreamEnd, undefined> {
    const started = now();
    let ttftMs: number | null = null;
    let end: ChatStreamEnd | undefined;
    const source = target.stream(variantRequest(request, arm.model, arm.params), { signal: options.signal, tenant: options.tenant });
    try {
      for (let next = await source.next(); ; next = await source.next()) {
        if (next.done) return end ?? next.value;
        const event = next.value;
        if (event.type === 'delta') {
          // The first event names the arm, so the server can say it in a header before the body.
          if (ttftMs === null) {
            ttftMs = now() - started;
            yield { ...event, variant: arm.name };
          } else yield event;
          continue;
        }
        end = { ...event, route: { ...event.route, model: request.model, variant: arm.name } };
        arm.observe({ ok: true, latencyMs: now() - started, ttftMs, usage: event.usage, failedWith: failedWith(event.route) });
        yield end;
      }
    } catch (err) {
      const error = asSwitchyard(err);
      if (error.code !== 'aborted') arm.observe({ ok: false, code: error.code, latencyMs: now() - started });
      const other = split.fallback(arm);
      // Before the first token nothing reached the client: the baseline can still answer the whole request.
      if (other && ttftMs === null && availabilityFailure(error.code, error.retryable))
        return yield* streamOn(split, other, request, options);
      throw error;
    } finally {
      if (!end) await source.return(undefined as never).catch(() => {});
    }
  }

  const splitOf = (model: string) => byModel.get(model) as Split;

  return {
    /** Whether `model` is split: the one lookup an unsplit request pays. */
    has: (model: string) => byModel.has(model),
    /** The split models (what clients may send besides the served ones). */
    models: () => [...byModel.keys()],
    chat: (request: ChatCompletionRequest, options: SplitCallOptions = {}) => {
      const split = splitOf(request.model);
      return chatOn(split, armOf(split, options.subject), request, options);
    },
    stream: (request: ChatCompletionRequest, options: SplitCallOptions = {}) => {
      const split = splitOf(request.model);
      return streamOn(split, armOf(split, options.subject), request, options);
    },
    /** The arm a subject gets now (the same arm the next request of that subject is sent to). */
    assign: (model: string, subject: Subject | undefined) => {
      const split = byModel.get(model);
      return split ? armOf(split, subject).name : null;
    },
    experiments: (): ExperimentView[] => [...experiments.keys()].map((id) => experimentView(id)),
    experiment: (id: string): ExperimentView => experimentView(id),
    rollouts: (): RolloutView[] => [...rollouts.values()].map((r) => r.view()),
    rollout: (id: string): RolloutView => rolloutOf(id).view(),
    /** An operator command on a rollout; `rollout_state_conflict` when its state does not take it. */
    command(id: string, command: RolloutCommand): RolloutView {
      const rollout = rolloutOf(id);
      rollout.command(command);
      return rollout.view();
    },
    /** Every rollout actor, for the inspector and the runtime's subscribe(). */
    actors: () => [...rollouts.values()].map((r) => r.actor),
    stop: async () => {
      await Promise.all(unshare.map((u) => u()));
      // The last counts of this instance still reach the cluster's sums (bounded by the command timeout).
      await sharedArms?.stop();
      for (const r of rollouts.values()) r.stop();
    },
  };

  function rolloutOf(id: string): Rollout {
    const rollout = rollouts.get(id);
    if (!rollout) throw new SwitchyardError('rollout_not_found', `no rollout "${id}"`, { param: 'id' });
    return rollout;
  }

  function experimentView(id: string): ExperimentView {
    const e = experiments.get(id);
    if (!e) throw new SwitchyardError('experiment_not_found', `no experiment "${id}"`, { param: 'id' });
    const cluster = e.shared?.figures() ?? null;
    return {
      id,
      model: e.config.model,
      sticky: e.config.sticky,
      variants: e.config.variants.map((v) => {
        const local = (e.stats.get(v.name) ?? new ArmStats()).figures();
        const summed = cluster?.get(v.name);
        return { name: v.name, model: modelOfVariant(id, v), weight: v.weight, ...(summed ? { ...summed, local } : local) };
      }),
      scope: cluster ? 'cluster' : 'instance',
    };
  }
}

function record(stats: ArmStats | undefined, o: Outcome) {
  if (!stats) return;
  if (o.ok) stats.succeeded(o.latencyMs, o.ttftMs, o.usage, o.failedWith);
  else stats.failed(o.code, o.latencyMs);
}

export type Splits = ReturnType<typeof createSplits>;
