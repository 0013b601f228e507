// Switchyard's configuration: one object (a YAML or JSON file for `switchyard serve`, the same object for
// createRuntime). Its shape, defaults and docs are the schema in ./config/schema.ts; this module resolves a
// config against it, adds the rules that span fields (unique ids, models that are served), and names the
// path of every error (`providers[1].baseURL: expected a URL`) so a bad config never starts.

import type { Static } from 'typebox';
import Value from 'typebox/value';
import { type AuthConfig, resolveAuth } from './config/auth.ts';
import { type ConfigIssue, schemaIssues } from './config/issues.ts';
import type { clusterSchema, serverSchema } from './config/operations-schema.ts';
import { type ExperimentInput, type RolloutInput, splitIssues } from './config/rollouts-schema.ts';
import { configSchema, type conversationsSchema, providerSchema, type routingSchema } from './config/schema.ts';
import { interpolate, readSource } from './config/source.ts';
import { SwitchyardError } from './errors.ts';
import type { LimitsConfig } from './limits.ts';
import { type ModelInfo, modelInfo } from './models/table.ts';
import type { Encoding } from './models/tokens.ts';
import { type ProviderHealthInput, resolveProviderHealthOptions } from './provider/options.ts';
import type { Strategy } from './routing/rank.ts';

export type { ConfigIssue, Strategy };

/** What callers write: everything but the providers' ids, URLs and models has a default. */
export type SwitchyardConfigInput = Static<typeof configSchema>;
type ProviderInput = Static<typeof providerSchema>;

/** How a deployment can continue a stream that broke on another one. */
export type Continuation = NonNullable<ProviderInput['continuation']>;

/** An upstream model: its name, and its window, output limit and encoding (from the model table or the config). */
export interface UpstreamModel extends ModelInfo {
  model: string;
}

/** How a model is written in the config: its name, or an object that also sets what the table does not know. */
export type UpstreamModelInput = ProviderInput['models'][string];

/** A provider with its defaults applied, its models resolved and its health merged over the top-level one. */
export type ProviderConfig = Required<Omit<ProviderInput, 'models' | 'apiKey' | 'headers' | 'health'>> &
  Pick<ProviderInput, 'apiKey' | 'headers'> & {
    /** Logical model name (what clients send) → the upstream model and what is known of it. */
    models: Record<string, UpstreamModel>;
    /** Health options over the top-level `health`. */
    health?: ProviderHealthInput | undefined;
  };

export type RoutingConfig = Required<Static<typeof routingSchema>>;
export type ConversationsConfig = Required<Static<typeof conversationsSchema>>;
export type ClusterConfig = Required<Static<typeof clusterSchema>>;
export type ServerConfig = Required<Static<typeof serverSchema>>;

export interface SwitchyardConfig {
  providers: ProviderConfig[];
  routing: RoutingConfig;
  /** Health options for every provider; a provider's own `health` overrides them. */
  health: ProviderHealthInput;
  conversations: ConversationsConfig;
  /** Instances that share a Redis (`redis`), or this process alone (`redis: null`). */
  cluster: ClusterConfig;
  /** API keys with their tenant and role; the server adds SWITCHYARD_API_KEYS and SWITCHYARD_ADMIN_KEYS. */
  auth: AuthConfig;
  /** Every bound on what a client or an upstream can make the gateway hold (docs/security.md, "Limits"). */
  limits: LimitsConfig;
  /** How the HTTP server drains on SIGTERM (docs/operations.md, "Rolling restarts"). */
  server: ServerConfig;
  /** A/B/n experiments: a logical model split across variants (src/rollout). */
  experiments: ExperimentConfig[];
  /** Canary rollouts: a logical model ramped from one logical model to another (src/rollout). */
  rollouts: RolloutConfig[];
}

/** An experiment with its defaults applied. */
export type ExperimentConfig = Required<Omit<ExperimentInput, 'variants'>> & {
  variants: (Omit<ExperimentInput['variants'][number], 'weight'> & { weight: number })[];
};
/** A rollout with its defaults applied. */
export type RolloutConfig = Required<Omit<RolloutInput, 'guard'>> & { guard: Required<NonNullable<RolloutInput['guard']>> };

// The schema's defaults, as the constants callers used before the schema existed.
const defaults = Value.Default(configSchema, { providers: [] }) as Omit<SwitchyardConfig, 'providers'>;
export const routingDefaults: RoutingConfig = defaults.routing;
export const conversationDefaults: ConversationsConfig = defaults.conversations;
export const providerDefaults = Value.Default(providerSchema, {}) as Pick<
  ProviderConfig,
  'api' | 'weight' | 'timeoutMs' | 'streamIdleTimeoutMs' | 'continuation' | 'rpm' | 'tpm' | 'maxResponseBytes'
>;

// The router owns Strategy and the tokenizer owns Encoding: the schema must offer exactly their values (a
// compile error here says the two drifted apart).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<Strategy, RoutingConfig['strategy']>;
true satisfies Same<Encoding, Exclude<UpstreamModelInput, string>['encoding'] & string>;

/** The result of checking a config: the resolved config, or every issue found. */
export type ConfigCheck = { ok: true; config: SwitchyardConfig } | { ok: false; issues: ConfigIssue[] };

function healthIssue(input: ProviderHealthInput, path: string): ConfigIssue[] {
  try {
    resolveProviderHealthOptions(input, path);
    return [];
  } catch (err) {
    const param = err instanceof SwitchyardError ? err.param : undefined;
    return [{ path: param ?? path, message: err instanceof Error ? err.message.replace(`${param}: `, '') : String(err) }];
  }
}

/** The rules that span fields, on a config whose shape is already valid. `ownHealth[i]`: provider i sets `health`. */
function crossFieldIssues(config: SwitchyardConfig, ownHealth: readonly boolean[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [...healthIssue(config.health, 'health')];
  const seen = new Set<string>();
  for (const [i, p] of config.providers.entries()) {
    if (seen.has(p.id)) issues.push({ path: `providers[${i}].id`, message: `duplicate id "${p.id}"` });
    seen.add(p.id);
    if (p.health && ownHealth[i]) issues.push(...healthIssue(p.health, `providers[${i}].health`));
  }
  const served = new Set(config.providers.flatMap((p) => Object.keys(p.models)));
  const model = (name: string, path: string) => {
    if (!served.has(name)) issues.push({ path, message: `expected a logical model that a provider serves (${[...served].join(', ')})` });
  };
  const keys = new Set<string>();
  for (const [i, k] of config.auth.keys.entries()) {
    // Never quote the key: it is a secret.
    if (keys.has(k.key)) issues.push({ path: `auth.keys[${i}].key`, message: 'a key listed twice' });
    keys.add(k.key);
  }
  const c = config.conversations;
  if (c.summarizerModel !== null) model(c.summarizerModel, 'conversations.summarizerModel');
  for (const [from, to] of Object.entries(c.contextFallbacks)) {
    model(from, `conversations.contextFallbacks.${from}`);
    model(to, `conversations.contextFallbacks.${from}`);
  }
  return issues.filter((issue, i) => issues.findIndex((other) => other.path === issue.path) === i);
}

function resolveProvider(p: ProviderInput, health: ProviderHealthInput): ProviderConfig {
  const own = p.health ?? {};
  const models: Record<string, UpstreamModel> = {};
  for (const [logical, spec] of Object.entries(p.models)) {
    const { model, ...overrides } = typeof spec === 'string' ? { model: spec } : spec;
    models[logical] = { model, ...modelInfo(model, overrides) };
  }
  return {
    ...(p as Required<ProviderInput>),
    models,
    health: { ...health, ...own, backoff: { ...health.backoff, ...own.backoff } },
  };
}

/** Validates a config, substitutes `${VAR}` from `env` and fills defaults; every issue is returned. */
export function checkConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  const envIssues: ConfigIssue[] = [];
  const raw = interpolate(input, env, envIssues);
  const shapeIssues = schemaIssues(configSchema, raw).filter((s) => !envIssues.some((e) => e.path === s.path));
  if (envIssues.length + shapeIssues.length > 0) return { ok: false, issues: [...envIssues, ...shapeIssues] };
  const filled = Value.Default(configSchema, Value.Clone(raw)) as SwitchyardConfigInput & Omit<SwitchyardConfig, 'providers'>;
  const health = filled.health as ProviderHealthInput;
  const config: SwitchyardConfig = {
    providers: filled.providers.map((p) => resolveProvider(p, health)),
    routing: filled.routing,
    health,
    conversations: filled.conversations,
    cluster: filled.cluster,
    auth: resolveAuth(filled.auth),
    limits: filled.limits,
    server: filled.server,
    experiments: filled.experiments as ExperimentConfig[],
    rollouts: filled.rollouts as RolloutConfig[],
  };
  const issues = crossFieldIssues(
    config,
    filled.providers.map((p) => p.health !== undefined),
  );
  const deployments = new Set(config.providers.flatMap((p) => Object.values(p.models).map((m) => `${p.id}/${m.model}`)));
  const served = new Set(config.providers.flatMap((p) => Object.keys(p.models)));
  issues.push(...splitIssues(config.experiments, config.rollouts, served, deployments));
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config };
}

/** Issues as lines, `path: message` (a file's own issues, whose path is the file, as just the message). */
export function issueLines(issues: readonly ConfigIssue[], source?: string): string[] {
  return issues.map((i) => (i.path === source ? i.message : `${i.path}: ${i.message}`));
}

/** The `invalid_config` error for a list of issues (all of them in the message); `param` is the first issue's path. */
export function configError(issues: readonly ConfigIssue[], source?: string): SwitchyardError {
  const lines = issueLines(issues, source);
  const head = source === undefined ? '' : `${source}: `;
  const message = lines.length === 1 ? `${head}${lines[0]}` : `${head}${lines.length} errors in the config\n  ${lines.join('\n  ')}`;
  return new SwitchyardError('invalid_config', message, { ...(issues[0] ? { param: issues[0].path } : {}) });
}

/** Validates a config object, fills defaults and substitutes `${VAR}` from `env`. Throws `invalid_config`. */
export function resolveConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): SwitchyardConfig {
  const result = checkConfig(input, env);
  if (!result.ok) throw configError(result.issues);
  return result.config;
}

/** Reads and checks a config file: YAML (`.yaml`, `.yml`) or JSON. */
export function checkConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): ConfigCheck {
  const source = readSource(path);
  return source.ok ? checkConfig(source.value, env) : source;
}

/** Reads and resolves a config file: YAML (`.yaml`, `.yml`) or JSON. Throws `invalid_config`. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): SwitchyardConfig {
  const result = checkConfigFile(path, env);
  if (!result.ok) throw configError(result.issues, path);
  return result.config;
}
