// Switchyard's configuration: one JSON object (a file for `switchyard serve`, the same object for
// createRuntime). `${VAR}` in any string reads the environment. Validation names the path of every error
// (`providers[1].baseURL: expected a URL`) so a bad config never starts.

import { readFileSync } from 'node:fs';
import { SwitchyardError } from './errors.ts';
import { type LimitsConfig, resolveLimits } from './limits.ts';
import { type ModelInfo, modelInfo } from './models/table.ts';
import type { Encoding } from './models/tokens.ts';
import { type ProviderHealthInput, resolveProviderHealthOptions } from './provider/options.ts';
import type { Strategy } from './routing/rank.ts';
import { defaultMaxResponseBytes } from './upstream/adapter.ts';

export type { Strategy };
/** How a deployment can continue a stream that broke on another one. */
export type Continuation = 'prefill' | 'instruct' | 'none';

export interface ProviderConfig {
  id: string;
  baseURL: string;
  apiKey?: string | undefined;
  /** Logical model name (what clients send) → the upstream model and what is known of it. */
  models: Record<string, UpstreamModel>;
  /** Share of traffic under the `weighted` strategy. */
  weight: number;
  timeoutMs: number;
  streamIdleTimeoutMs: number;
  headers?: Record<string, string> | undefined;
  continuation: Continuation;
  /** Requests per minute this deployment may receive; null for no limit. */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute; null for no limit. */
  tpm: number | null;
  /** Health options over the top-level `health`. */
  health?: ProviderHealthInput | undefined;
  /** Limits (issue 14): the largest non-streamed answer body, and stream event, read from this deployment. */
  maxResponseBytes: number;
}

/** An upstream model: its name, and its window, output limit and encoding (from the model table or the config). */
export interface UpstreamModel extends ModelInfo {
  model: string;
}

/** How a model is written in the config: its name, or an object that also sets what the table does not know. */
export type UpstreamModelInput = string | ({ model: string } & Partial<ModelInfo>);

export interface ConversationsConfig {
  /** A conversation actor idle this long is stopped; its next message restores it from the store. */
  idleMs: number;
  /** Tokens kept free for the reply when a turn does not set max_tokens. */
  reserveTokens: number;
  /** Default strategy for fitting history into the window. */
  strategy: 'sliding' | 'summarize';
  /** Logical model that writes summaries; null for the conversation's own model. */
  summarizerModel: string | null;
  /** Longest summary, in tokens. */
  summaryMaxTokens: number;
  /** Logical model → a larger-context logical model to move a prompt to when it does not fit. */
  contextFallbacks: Record<string, string>;
}

export const conversationDefaults: ConversationsConfig = {
  idleMs: 300_000,
  reserveTokens: 1024,
  strategy: 'sliding',
  summarizerModel: null,
  summaryMaxTokens: 512,
  contextFallbacks: {},
};

export interface RoutingConfig {
  strategy: Strategy;
  /** Attempts per request, hedges included. */
  maxAttempts: number;
  /** Total time for one request, all attempts and waits included. */
  deadlineMs: number;
  /** Start a second attempt when no first token arrived in time: milliseconds, `p95` of the deployment, or null. */
  hedgeAfterMs: number | 'p95' | null;
  /** After tokens reached the caller: `continue` on another deployment, or end with `stream_interrupted`. */
  midStreamFailover: 'continue' | 'error';
}

export interface SwitchyardConfig {
  providers: ProviderConfig[];
  routing: RoutingConfig;
  /** Health options for every provider; a provider's own `health` overrides them. */
  health: ProviderHealthInput;
  conversations: ConversationsConfig;
  /** Limits (issue 14): every bound on what a client or an upstream can make the gateway hold (src/limits.ts). */
  limits: LimitsConfig;
}

/** What callers write: everything but the providers' ids, URLs and models has a default. */
export interface SwitchyardConfigInput {
  providers: (Partial<Omit<ProviderConfig, 'models'>> &
    Pick<ProviderConfig, 'id' | 'baseURL'> & { models: Record<string, UpstreamModelInput> })[];
  routing?: Partial<RoutingConfig>;
  health?: ProviderHealthInput;
  conversations?: Partial<ConversationsConfig>;
  limits?: Partial<LimitsConfig>;
}

export const routingDefaults: RoutingConfig = {
  strategy: 'priority',
  maxAttempts: 3,
  deadlineMs: 60_000,
  hedgeAfterMs: null,
  midStreamFailover: 'continue',
};

export const providerDefaults = { weight: 1, timeoutMs: 30_000, streamIdleTimeoutMs: 30_000, continuation: 'instruct' as Continuation };

const fail = (path: string, expected: string): never => {
  throw new SwitchyardError('invalid_config', `${path}: ${expected}`, { param: path, status: 400 });
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function substitute(value: unknown, path: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env[name];
      if (found === undefined || found === '') return fail(path, `environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, `${path}[${i}]`, env));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, path ? `${path}.${k}` : k, env)]));
  }
  return value;
}

function onlyKeys(obj: Json, path: string, allowed: readonly string[]) {
  for (const key of Object.keys(obj))
    if (!allowed.includes(key)) fail(`${path}.${key}`, `unknown option (expected one of ${allowed.join(', ')})`);
}

function num(value: unknown, path: string, min: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    return fail(path, `expected ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return value;
}

function optionalLimit(value: unknown, path: string): number | null {
  return value === undefined || value === null ? null : num(value, path, 1);
}

function oneOf<T extends string>(value: unknown, path: string, options: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !options.includes(value as T))
    return fail(path, `expected one of ${options.map((o) => `"${o}"`).join(', ')}`);
  return value as T;
}

function stringMap(value: unknown, path: string, nonEmpty: boolean): Record<string, string> {
  if (!isObject(value)) return fail(path, 'expected an object of strings');
  const entries = Object.entries(value);
  if (nonEmpty && entries.length === 0) fail(path, 'expected at least one entry');
  for (const [k, v] of entries) if (typeof v !== 'string' || v === '') fail(`${path}.${k}`, 'expected a non-empty string');
  return value as Record<string, string>;
}

function resolveModels(value: unknown, path: string): Record<string, UpstreamModel> {
  if (!isObject(value) || Object.keys(value).length === 0) return fail(path, 'expected an object with at least one model');
  const out: Record<string, UpstreamModel> = {};
  for (const [logical, spec] of Object.entries(value)) {
    const at = `${path}.${logical}`;
    if (typeof spec === 'string' && spec !== '') {
      out[logical] = { model: spec, ...modelInfo(spec) };
      continue;
    }
    if (!isObject(spec) || typeof spec.model !== 'string' || spec.model === '') return fail(at, 'expected a model name or { "model": … }');
    onlyKeys(spec, at, ['model', 'contextWindow', 'maxOutput', 'encoding']);
    const overrides: Partial<ModelInfo> = {};
    if (spec.contextWindow !== undefined) overrides.contextWindow = num(spec.contextWindow, `${at}.contextWindow`, 16, true);
    if (spec.maxOutput !== undefined) overrides.maxOutput = num(spec.maxOutput, `${at}.maxOutput`, 1, true);
    if (spec.encoding !== undefined)
      overrides.encoding = oneOf<Encoding>(spec.encoding, `${at}.encoding`, ['o200k_base', 'cl100k_base'], 'o200k_base');
    out[logical] = { model: spec.model, ...modelInfo(spec.model, overrides) };
  }
  return out;
}

function resolveConversations(raw: unknown, models: ReadonlySet<string>): ConversationsConfig {
  if (raw === undefined) return { ...conversationDefaults };
  if (!isObject(raw)) return fail('conversations', 'expected an object');
  onlyKeys(raw, 'conversations', Object.keys(conversationDefaults));
  const model = (value: unknown, path: string) => {
    if (typeof value !== 'string' || !models.has(value)) fail(path, `expected a logical model (${[...models].join(', ')})`);
    return value as string;
  };
  const fallbacks = raw.contextFallbacks === undefined ? {} : stringMap(raw.contextFallbacks, 'conversations.contextFallbacks', false);
  for (const [from, to] of Object.entries(fallbacks)) {
    model(from, `conversations.contextFallbacks.${from}`);
    model(to, `conversations.contextFallbacks.${from}`);
  }
  const d = conversationDefaults;
  return {
    idleMs: raw.idleMs === undefined ? d.idleMs : num(raw.idleMs, 'conversations.idleMs', 1),
    reserveTokens: raw.reserveTokens === undefined ? d.reserveTokens : num(raw.reserveTokens, 'conversations.reserveTokens', 1, true),
    strategy: oneOf(raw.strategy, 'conversations.strategy', ['sliding', 'summarize'], d.strategy),
    summarizerModel:
      raw.summarizerModel === undefined || raw.summarizerModel === null
        ? null
        : model(raw.summarizerModel, 'conversations.summarizerModel'),
    summaryMaxTokens:
      raw.summaryMaxTokens === undefined ? d.summaryMaxTokens : num(raw.summaryMaxTokens, 'conversations.summaryMaxTokens', 16, true),
    contextFallbacks: fallbacks,
  };
}

const providerKeys = [
  'id',
  'baseURL',
  'apiKey',
  'models',
  'weight',
  'timeoutMs',
  'streamIdleTimeoutMs',
  'headers',
  'continuation',
  'rpm',
  'tpm',
  'health',
  'maxResponseBytes',
] as const;

function resolveProvider(raw: unknown, path: string, health: ProviderHealthInput): ProviderConfig {
  if (!isObject(raw)) return fail(path, 'expected an object');
  onlyKeys(raw, path, providerKeys);
  if (typeof raw.id !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(raw.id)) {
    fail(`${path}.id`, 'expected an id of letters, digits, ".", "_" or "-"');
  }
  let url: URL | undefined;
  try {
    url = typeof raw.baseURL === 'string' ? new URL(raw.baseURL) : undefined;
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail(`${path}.baseURL`, 'expected a URL');
  if (raw.apiKey !== undefined && typeof raw.apiKey !== 'string') fail(`${path}.apiKey`, 'expected a string');
  const own =
    raw.health === undefined
      ? {}
      : isObject(raw.health)
        ? (raw.health as ProviderHealthInput)
        : fail(`${path}.health`, 'expected an object');
  const merged: ProviderHealthInput = { ...health, ...own, backoff: { ...health.backoff, ...own.backoff } };
  resolveProviderHealthOptions(merged, `${path}.health`);
  return {
    id: raw.id as string,
    baseURL: raw.baseURL as string,
    ...(raw.apiKey === undefined ? {} : { apiKey: raw.apiKey as string }),
    models: resolveModels(raw.models, `${path}.models`),
    weight: raw.weight === undefined ? providerDefaults.weight : num(raw.weight, `${path}.weight`, 0),
    timeoutMs: raw.timeoutMs === undefined ? providerDefaults.timeoutMs : num(raw.timeoutMs, `${path}.timeoutMs`, 1),
    streamIdleTimeoutMs:
      raw.streamIdleTimeoutMs === undefined
        ? providerDefaults.streamIdleTimeoutMs
        : num(raw.streamIdleTimeoutMs, `${path}.streamIdleTimeoutMs`, 1),
    ...(raw.headers === undefined ? {} : { headers: stringMap(raw.headers, `${path}.headers`, false) }),
    continuation: oneOf(raw.continuation, `${path}.continuation`, ['prefill', 'instruct', 'none'], providerDefaults.continuation),
    rpm: optionalLimit(raw.rpm, `${path}.rpm`),
    tpm: optionalLimit(raw.tpm, `${path}.tpm`),
    health: merged,
    // Limits (issue 14).
    maxResponseBytes:
      raw.maxResponseBytes === undefined ? defaultMaxResponseBytes : num(raw.maxResponseBytes, `${path}.maxResponseBytes`, 1, true),
  };
}

function resolveRouting(raw: unknown): RoutingConfig {
  if (raw === undefined) return { ...routingDefaults };
  if (!isObject(raw)) return fail('routing', 'expected an object');
  onlyKeys(raw, 'routing', ['strategy', 'maxAttempts', 'deadlineMs', 'hedgeAfterMs', 'midStreamFailover']);
  const hedge = raw.hedgeAfterMs;
  return {
    strategy: oneOf(raw.strategy, 'routing.strategy', ['priority', 'weighted', 'least-latency', 'least-busy'], routingDefaults.strategy),
    maxAttempts: raw.maxAttempts === undefined ? routingDefaults.maxAttempts : num(raw.maxAttempts, 'routing.maxAttempts', 1, true),
    deadlineMs: raw.deadlineMs === undefined ? routingDefaults.deadlineMs : num(raw.deadlineMs, 'routing.deadlineMs', 1),
    hedgeAfterMs: hedge === undefined || hedge === null ? null : hedge === 'p95' ? 'p95' : num(hedge, 'routing.hedgeAfterMs', 0),
    midStreamFailover: oneOf(raw.midStreamFailover, 'routing.midStreamFailover', ['continue', 'error'], routingDefaults.midStreamFailover),
  };
}

/** Validates a config object, fills defaults and substitutes `${VAR}` from `env`. Throws `invalid_config`. */
export function resolveConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): SwitchyardConfig {
  if (!isObject(input)) return fail('config', 'expected an object');
  const raw = substitute(input, '', env) as Json;
  onlyKeys(raw, 'config', ['providers', 'routing', 'health', 'conversations', 'limits']);
  const health =
    raw.health === undefined ? {} : isObject(raw.health) ? (raw.health as ProviderHealthInput) : fail('health', 'expected an object');
  resolveProviderHealthOptions(health, 'health');
  if (!Array.isArray(raw.providers) || raw.providers.length === 0) fail('providers', 'expected a non-empty array');
  const providers = (raw.providers as unknown[]).map((p, i) => resolveProvider(p, `providers[${i}]`, health));
  const seen = new Set<string>();
  for (const [i, p] of providers.entries()) {
    if (seen.has(p.id)) fail(`providers[${i}].id`, `duplicate id "${p.id}"`);
    seen.add(p.id);
  }
  const logical = new Set(providers.flatMap((p) => Object.keys(p.models)));
  return {
    providers,
    routing: resolveRouting(raw.routing),
    health,
    conversations: resolveConversations(raw.conversations, logical),
    limits: resolveLimits(raw.limits),
  };
}

/** Reads and resolves a JSON config file. */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): SwitchyardConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new SwitchyardError('invalid_config', `${path}: cannot read the config file`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new SwitchyardError('invalid_config', `${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return resolveConfig(parsed, env);
}
