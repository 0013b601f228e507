// The config's sections for running the gateway rather than routing requests: the cluster (shared Redis), API
// keys with their tenants and roles, and the limits on what a client or an upstream may make it hold. Part of
// the one config schema (src/config/schema.ts).

import Type from 'typebox';
import { choice, maxTimerMs, ms, section } from './fields.ts';

const tenantPattern = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

export const clusterSchema = section(
  {
    redis: Type.Optional(
      Type.Union([Type.String({ pattern: '^rediss?://', writeOnly: true }), Type.Null()], {
        default: null,
        description:
          'instances that share this Redis (`redis://host:port/db`) form a cluster: deployment health, probes and rpm/tpm budgets are shared. Also `--redis` or `SWITCHYARD_REDIS_URL`. null: this process alone',
      }),
    ),
    instanceId: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$' }), Type.Null()], {
        default: null,
        description: "this instance's name in the cluster (events and the inspector show it); null: a random one",
      }),
    ),
    prefix: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z0-9._-]+$',
        default: 'switchyard',
        description: 'prefix of every key and channel, so several clusters can share one Redis',
      }),
    ),
    commandTimeoutMs: Type.Optional(
      ms('a Redis command slower than this fails and counts against the link (which then falls back to local state)', 1, 250),
    ),
    probeLeaseMs: Type.Optional(
      ms('how long one instance holds the probe of a recovering deployment; if it dies, another probes after this', 1, 10_000),
    ),
    failOpen: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'while Redis is unreachable, budgets are enforced per instance (true) or every budgeted request is refused (false)',
      }),
    ),
  },
  'instances that share one Redis: health, probes and budgets',
);

export const apiKeySchema = Type.Object(
  {
    key: Type.String({
      minLength: 1,
      writeOnly: true,
      description: 'the bearer key; take it from the environment with a variable reference rather than writing it in the file',
    }),
    tenant: Type.Optional(
      Type.String({
        pattern: tenantPattern,
        description: 'whose conversations the key reaches: up to 64 letters, digits, `.`, `_` or `-`; default: a hash of the key',
      }),
    ),
    role: Type.Optional(
      choice(['user', 'admin'], {
        default: 'user',
        description:
          "`user`: chat, models and the tenant's conversations; `admin`: also providers, metrics, the inspector and every tenant",
      }),
    ),
  },
  { additionalProperties: false },
);

const perMinute = (description: string) =>
  Type.Union([Type.Number({ minimum: 1 }), Type.Null()], { unit: 'per minute', description, default: null });

export const tenantBudgetSchema = Type.Object(
  {
    rpm: Type.Optional(perMinute("the tenant's requests per minute (chat, embeddings, conversation turns); null: no limit")),
    tpm: Type.Optional(
      perMinute(
        "the tenant's tokens per minute (estimated up front at ~4 characters a token plus `max_tokens`, corrected by the real usage); null: no limit",
      ),
    ),
  },
  { additionalProperties: false, description: "a tenant's budgets" },
);

export const authSchema = section(
  {
    keys: Type.Optional(
      Type.Array(apiKeySchema, {
        default: [],
        description:
          'API keys with a tenant and a role (`auth.keys[]` below), besides SWITCHYARD_API_KEYS (users) and SWITCHYARD_ADMIN_KEYS (admins)',
      }),
    ),
    tenants: Type.Optional(
      Type.Record(Type.String({ pattern: tenantPattern }), tenantBudgetSchema, {
        default: {},
        description:
          "rpm/tpm budgets by tenant (`auth.tenants.<tenant>` below), over every request of the tenant's keys; shared by the cluster through Redis. Over budget: 429 `rate_limited` with Retry-After",
      }),
    ),
  },
  'API keys, their tenants and roles (docs/security.md)',
);

const limit = (unit: string, fallback: number, description: string) =>
  Type.Integer({ minimum: 1, ...(unit === 'ms' ? { maximum: maxTimerMs } : {}), default: fallback, unit, description });

export const limitsSchema = section(
  {
    maxJsonDepth: Type.Optional(
      limit('levels', 64, 'deepest nesting of arrays and objects in a request body; deeper is 400 at parse time'),
    ),
    bodyTimeoutMs: Type.Optional(
      limit('ms', 10_000, 'time a client has to send a whole request (headers and body); then 408 and the connection closes'),
    ),
    headersTimeoutMs: Type.Optional(
      limit('ms', 10_000, 'time a client has to send the request headers; then 408 and the connection closes'),
    ),
    sseBufferBytes: Type.Optional(
      limit('bytes', 1024 * 1024, 'bytes a streaming client may leave unread before it is cut and its upstream call aborted'),
    ),
    sseStallMs: Type.Optional(limit('ms', 30_000, 'how long a write to a streaming client may wait for it to read before it is cut')),
    inspectorClients: Type.Optional(limit('readers', 32, 'concurrent /inspect/events readers; more get 503 `inspector_busy`')),
    inspectorBufferBytes: Type.Optional(limit('bytes', 1024 * 1024, 'bytes an /inspect/events reader may leave unread before it is cut')),
    conversationsPerTenant: Type.Optional(
      limit('conversations', 10_000, 'conversations one tenant may hold; more get 403 `conversation_quota_exceeded`'),
    ),
    systemPromptTokens: Type.Optional(
      limit('tokens', 32_768, "tokens of a conversation's system prompt; more get 413 `system_prompt_too_large`"),
    ),
    messageChars: Type.Optional(
      limit('characters', 1024 * 1024, 'characters of one message posted to a conversation; more get 413 `message_too_large`'),
    ),
  },
  'bounds on what a client or an upstream can make the gateway hold (docs/security.md)',
);

export const serverSchema = section(
  {
    drainDelayMs: Type.Optional(
      ms(
        'on SIGTERM, how long the instance reports not-ready (`/readyz` 503) while still serving, so a load balancer or Kubernetes stops sending before it stops accepting (`--drain-delay-ms`; a second signal skips the rest). 0: stop accepting at once',
        0,
        0,
      ),
    ),
    drainTimeoutMs: Type.Optional(
      ms(
        'then, how long in-flight requests and streams may take to finish; streams still open end with a `shutting_down` error event (`--drain-timeout-ms`, alias `--drain-ms`)',
        0,
        10_000,
      ),
    ),
  },
  'the HTTP server: how it drains on SIGTERM for a rolling restart (docs/operations.md)',
);
