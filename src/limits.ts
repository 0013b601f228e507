// Every bound on what a client or an upstream can make Switchyard hold: one typed object with its defaults, the
// `limits` section of the config (docs/security.md, "Limits"). The per-deployment cap on an upstream answer is
// `providers[].maxResponseBytes` beside the other per-deployment options.

import { SwitchyardError } from './errors.ts';

export interface LimitsConfig {
  /** Deepest nesting of arrays and objects in a request body; deeper is 400 at parse time. */
  maxJsonDepth: number;
  /** Time a client has to send a whole request body (and its headers), in ms; then 408 and the connection closes. */
  bodyTimeoutMs: number;
  /** Time a client has to send the request headers, in ms. */
  headersTimeoutMs: number;
  /** Bytes a streaming client may leave unread before it is cut and its upstream call aborted. */
  sseBufferBytes: number;
  /** How long a write to a streaming client may wait for it to read, in ms, before it is cut. */
  sseStallMs: number;
  /** Concurrent /inspect/events readers; more get 503 inspector_busy. */
  inspectorClients: number;
  /** Bytes an /inspect/events reader may leave unread before it is cut. */
  inspectorBufferBytes: number;
  /** Live conversations one tenant may hold; more get 403 conversation_quota_exceeded. */
  conversationsPerTenant: number;
  /** Tokens of a conversation's system prompt; more get 413 system_prompt_too_large. */
  systemPromptTokens: number;
  /** Characters of one message posted to a conversation; more get 413 message_too_large. */
  messageChars: number;
}

export const limitDefaults: LimitsConfig = {
  maxJsonDepth: 64,
  bodyTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  sseBufferBytes: 1024 * 1024,
  sseStallMs: 30_000,
  inspectorClients: 32,
  inspectorBufferBytes: 1024 * 1024,
  conversationsPerTenant: 10_000,
  systemPromptTokens: 32_768,
  messageChars: 1024 * 1024,
};

/** Validates the `limits` section (every entry a positive integer) and fills its defaults. */
export function resolveLimits(raw: unknown, path = 'limits'): LimitsConfig {
  if (raw === undefined) return { ...limitDefaults };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new SwitchyardError('invalid_config', `${path}: expected an object`, { param: path });
  const out: LimitsConfig = { ...limitDefaults };
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in limitDefaults)) {
      const known = Object.keys(limitDefaults).join(', ');
      throw new SwitchyardError('invalid_config', `${path}.${key}: unknown option (expected one of ${known})`, { param: `${path}.${key}` });
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      throw new SwitchyardError('invalid_config', `${path}.${key}: expected an integer ≥ 1`, { param: `${path}.${key}` });
    out[key as keyof LimitsConfig] = value;
  }
  return out;
}
