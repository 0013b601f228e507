// createRuntime(config): the one entry point for embedding Switchyard. It validates the config and builds the
// actor system: the supervisor with its provider actors, and the conversation actors over a store.

import type { InspectionEvent } from 'xstate';
import { type ClusterView, createCluster } from './cluster/index.ts';
import { resolveConfig, type SwitchyardConfig, type SwitchyardConfigInput } from './config.ts';
import type { ChatTurnRequest } from './conversation/chat-turn.ts';
import { type Conversations, createConversations } from './conversation/registry.ts';
import type { ConversationView, PostOptions, TurnResult, TurnStreamEvent } from './conversation/types.ts';
import { createInspection, type InspectionRecord, statePath } from './inspection/events.ts';
import { linkStately, type StatelyOptions } from './inspection/stately.ts';
import { nowOf } from './provider/actor.ts';
import type { ProviderView } from './provider/deployment.ts';
import { type ConfigStatus, createReloader, liveConfig, type ReloadResult, type ReloadSource } from './reload/reloader.ts';
import { createSplits, type ExperimentView, type RolloutCommand, type RolloutView } from './rollout/splits.ts';
import { isVariantModel } from './rollout/variants.ts';
import {
  type CallOptions,
  type ChatCompletionRequest,
  type ChatResult,
  type ChatStreamEvent,
  createSupervisor,
  type Decision,
  type EmbeddingsRequest,
  type EmbeddingsResult,
  type Supervisor,
  type SupervisorOptions,
} from './routing/supervisor.ts';
import { type StoreStatus, trackStore } from './stores/health.ts';
import { openStore } from './stores/index.ts';
import type { ConversationStore } from './stores/types.ts';

export type RuntimeOptions = SupervisorOptions & {
  /** Environment for `${VAR}` in the config; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** Where conversations live: a store, or `memory`, `sqlite:<path>` or `postgres://…` (default: `conversations.store`, else memory). */
  store?: ConversationStore | string;
  /** Streams every actor to a Stately inspector over WebSocket (payloads redacted); off by default. */
  stately?: StatelyOptions | undefined;
};

export type { ConfigStatus, ReloadResult, ReloadSource };

/** A deployment as the runtime reports it: its provider, the logical models it serves, and its health. */
export interface DeploymentView extends ProviderView {
  provider: string;
  logicalModels: string[];
}

export interface ConversationHandle {
  readonly id: string;
  post(content: string, options?: PostOptions): Promise<TurnResult>;
  stream(content: string, options?: PostOptions): AsyncGenerator<TurnStreamEvent>;
  /** A turn from a whole chat request (tools, tool results, temperature…): its new messages are stored. */
  postChat(request: ChatTurnRequest, options?: PostOptions): Promise<TurnResult>;
  /** postChat, streamed as chat stream events. */
  streamChat(request: ChatTurnRequest, options?: PostOptions): AsyncGenerator<TurnStreamEvent>;
  get(): Promise<ConversationView>;
  delete(): Promise<boolean>;
}

export interface Runtime {
  /** A completion from the first deployment of `request.model` that can serve it, within the deadline. */
  /** `subject`: who the request is, for the sticky arm of an experiment or rollout on `request.model`. */
  chat(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatResult>;
  /** A streamed completion: deltas, then one `end` event with usage and the route taken. */
  stream(request: ChatCompletionRequest, options?: CallOptions): AsyncGenerator<ChatStreamEvent>;
  /**
   * Embeddings from the first deployment of `request.model` that can serve them, within the deadline: the same
   * failover, health, budgets and decision log as chat. Any logical model may be used; its deployments' upstream
   * models get the request on their `/embeddings`.
   */
  embeddings(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResult>;
  /** Logical model names. */
  models(): string[];
  /** Every deployment's state and metrics. */
  providers(): DeploymentView[];
  /** The most recent routing decisions (a bounded ring). */
  decisions(): Decision[];
  disable(deployment: string): void;
  enable(deployment: string): void;
  /**
   * The inspection stream: `listener` gets a record for every state change of every actor (providers,
   * supervisor, conversations), without payloads. Returns the unsubscribe function.
   */
  subscribe(listener: (record: InspectionRecord) => void): () => void;
  /**
   * Reports an actor that runs beside the runtime (the server's drain) to the inspection stream and the Stately
   * inspector: pass it as createActor's `inspect` option.
   */
  inspect(event: InspectionEvent): void;
  /** Stateful conversations: create, read, post turns, delete. */
  conversations: Omit<Conversations, 'stop'>;
  /** A handle on one conversation: its turns, its view and its deletion. */
  conversation(id: string): ConversationHandle;
  /** Whether the conversation store can write (a probe write is tried, at most once a second, while it cannot). */
  storeStatus(): Promise<StoreStatus>;
  /** This instance in its cluster (`cluster.redis`): its id, the link to Redis and the members; null alone. */
  cluster(): ClusterView | null;
  /** Experiments with each variant's figures since start; `experiment_not_found` for an unknown id. */
  experiments(): ExperimentView[];
  experiment(id: string): ExperimentView;
  /** Rollouts: state, percentage, guards, both arms' figures; `rollout_not_found` for an unknown id. */
  rollouts(): RolloutView[];
  rollout(id: string): RolloutView;
  /** pause | resume | promote | abort; `rollout_state_conflict` when the rollout's state does not take it. */
  rolloutCommand(id: string, command: RolloutCommand): RolloutView;
  /** The config in use, resolved (secrets included: mask them before showing it). */
  config(): SwitchyardConfig;
  /**
   * Checks `input` as a whole config and applies it live, keeping every unchanged deployment's, experiment's and
   * rollout's actor and state (docs/configuration.md, "Live reload"); in a cluster it then reaches every instance. Throws `invalid_config`
   * naming the field, and changes nothing, when any part of it is wrong.
   */
  reload(input: unknown, options?: { source?: ReloadSource }): Promise<ReloadResult>;
  /** The config version in use, when and how it was applied, and the last one refused here. */
  configStatus(): ConfigStatus;
  /** Stops every actor, and closes the store when the runtime opened it. */
  stop(): Promise<void>;
}

/** Builds and starts a runtime. Throws `invalid_config` (naming the path) on a bad config. */
export function createRuntime(config: SwitchyardConfigInput, options: RuntimeOptions = {}): Runtime {
  const { env, store: storeOption, stately: statelyOption, ...supervisorOptions } = options;
  const resolved = resolveConfig(config, env);
  // Before the store opens: a bad URL throws here and leaves nothing open.
  const stately = statelyOption ? linkStately(statelyOption) : undefined;
  const ownsStore = typeof storeOption !== 'object';
  const opened = typeof storeOption === 'object' ? storeOption : openStore(storeOption ?? resolved.conversations.store ?? 'memory');
  // Store failures become 503 store_unavailable and make the runtime not ready until a write succeeds.
  const tracked = trackStore(opened);
  const store = tracked.store;
  // Every actor reports to the inspection stream, and to the caller's own observer and the Stately inspector when given.
  const inspection = createInspection();
  const observers = [inspection.observer, supervisorOptions.inspect, stately?.observer].filter((o) => o !== undefined);
  const inspect =
    observers.length === 1
      ? inspection.observer
      : (event: InspectionEvent) => {
          for (const observer of observers) observer(event);
        };
  // Instances that share a Redis form a cluster; without one nothing of it is loaded.
  const redis = resolved.cluster.redis ?? (env ?? process.env).SWITCHYARD_REDIS_URL ?? null;
  const cluster = redis ? createCluster({ ...resolved.cluster, redis }, nowOf(supervisorOptions.clock)) : undefined;
  const supervisor = createSupervisor(resolved, { ...supervisorOptions, inspect, cluster });
  // Experiments and rollouts: a request for a model that is not split pays one Map lookup (splits.has).
  const splits = createSplits(resolved, {
    target: supervisor,
    now: nowOf(supervisorOptions.clock),
    random: supervisorOptions.random ?? Math.random,
    inspect,
    clock: supervisorOptions.clock,
    // The driver's lease: a driver that dies is replaced within this; its followers see each step within 1 s.
    cluster: cluster ? { link: cluster.link, leaseMs: 3000 } : undefined,
  });
  const chat: Supervisor['chat'] = (request, o) => (splits.has(request.model) ? splits.chat(request, o) : supervisor.chat(request, o));
  const stream: Supervisor['stream'] = (request, o) =>
    splits.has(request.model) ? splits.stream(request, o) : supervisor.stream(request, o);
  const routed = { ...supervisor, chat, stream };
  const reloader = createReloader({ supervisor, splits, env: env ?? process.env, now: Date.now, publish: (r) => inspection.publish(r) });
  // Conversations read the config in use at each turn: its models' windows, its conversation settings.
  const live = liveConfig(() => supervisor.generation().config);
  const conversations = createConversations({ store, supervisor: routed, config: live, inspect, timers: supervisor.timers });
  const sync = cluster?.configSync<ReloadSource, ReloadResult>(reloader);
  return {
    subscribe: (listener) => {
      // The first change of each provider then reports where it came from.
      for (const d of supervisor.deployments()) inspection.seed(d.id, statePath(d.actor.getSnapshot().value));
      for (const a of splits.actors()) inspection.seed(a.id, statePath(a.getSnapshot().value));
      const unsubscribe = inspection.subscribe(listener);
      return unsubscribe;
    },
    inspect,
    chat,
    stream,
    embeddings: (request, callOptions) =>
      splits.has(request.model) ? splits.embeddings(request, callOptions) : supervisor.embeddings(request, callOptions),
    models: () => {
      const served = supervisor.models().filter((m) => !isVariantModel(m));
      return [...served, ...splits.models().filter((m) => !served.includes(m))];
    },
    providers: () => {
      const { servedBy } = supervisor.generation();
      return supervisor.deployments().map((d) => {
        const served = servedBy.get(d.id);
        return { ...d.view(), provider: served?.provider ?? d.id.slice(0, d.id.indexOf('/')), logicalModels: served?.models ?? [] };
      });
    },
    decisions: () => supervisor.decisions(),
    disable: (id) => supervisor.disable(id),
    enable: (id) => supervisor.enable(id),
    conversations,
    conversation: (id) => ({
      id,
      post: (content, postOptions) => conversations.post(id, content, postOptions),
      stream: (content, postOptions) => conversations.stream(id, content, postOptions),
      postChat: (request, postOptions) => conversations.postChat(id, request, postOptions),
      streamChat: (request, postOptions) => conversations.streamChat(id, request, postOptions),
      get: () => conversations.get(id),
      delete: () => conversations.delete(id),
    }),
    storeStatus: () => tracked.status(),
    cluster: () => cluster?.view() ?? null,
    experiments: () => splits.experiments(),
    experiment: (id) => splits.experiment(id),
    rollouts: () => splits.rollouts(),
    rollout: (id) => splits.rollout(id),
    rolloutCommand: (id, command) => splits.command(id, command),
    config: () => reloader.config(),
    reload: async (input, reloadOptions = {}) => {
      const source = reloadOptions.source ?? 'embedding';
      return sync ? sync.publish(input, source) : reloader.reload(input, source);
    },
    configStatus: () => reloader.status(),
    stop: async () => {
      conversations.stop();
      await splits.stop();
      supervisor.stop();
      stately?.stop();
      await cluster?.stop();
      if (ownsStore) await opened.close();
    },
  };
}
