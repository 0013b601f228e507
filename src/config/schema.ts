// The one description of Switchyard's config: a TypeBox schema from which come the TypeScript types, the
// validation, the defaults, switchyard.schema.json (editor completion) and the tables of docs/configuration.md.
// A section is one `section(...)` entry in `configSchema`; its defaults come from its fields' `default`s.
//
// Beyond JSON Schema's own keywords the schema carries annotations that validators ignore: `unit` (for the
// docs), `patternErrorMessage` (VS Code shows it when a pattern fails; the error messages use it too) and
// `writeOnly` (a secret: masked by `config print`, never echoed).

import Type, { type TSchema } from 'typebox';
import { choice, envReference, ms, section } from './fields.ts';
import { healthProperties, healthSchema } from './health-schema.ts';
import { apiKeySchema, authSchema, clusterSchema, limitsSchema, serverSchema, tenantBudgetSchema } from './operations-schema.ts';
import { experimentSchema, rolloutSchema, variantSchema } from './rollouts-schema.ts';

export { envReference, healthSchema };

const upstreamModelSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'the upstream model name' }),
    contextWindow: Type.Optional(
      Type.Integer({
        minimum: 16,
        unit: 'tokens',
        description: 'the context window; known OpenAI models have theirs, others default to 8192',
      }),
    ),
    maxOutput: Type.Optional(Type.Integer({ minimum: 1, unit: 'tokens', description: 'the longest completion the model writes' })),
    encoding: Type.Optional(
      choice(['o200k_base', 'cl100k_base'], {
        description: 'the tokenizer; known OpenAI models have theirs, others default to `o200k_base`',
      }),
    ),
  },
  { additionalProperties: false, description: 'an upstream model and what the model table does not know of it' },
);

const perMinute = (description: string) =>
  Type.Union([Type.Number({ minimum: 1 }), Type.Null()], { unit: 'per minute', description, default: null });

export const providerSchema = Type.Object(
  {
    id: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      patternErrorMessage: 'expected an id of letters, digits, ".", "_" or "-"',
      description: 'letters, digits, `.`, `_`, `-`; unique',
    }),
    baseURL: Type.String({
      // A file may hold `${VAR}` here (the JSON Schema describes the file as written); resolved, it is a URL.
      pattern: `^(https?://[^\\s/?#]+|${envReference})`,
      patternErrorMessage: 'expected a URL',
      description: 'the OpenAI-compatible base URL (http or https), usually ending in `/v1`',
    }),
    apiKey: Type.Optional(Type.String({ writeOnly: true, description: 'sent as `Authorization: Bearer …`' })),
    models: Type.Record(Type.String({ minLength: 1 }), Type.Union([Type.String({ minLength: 1 }), upstreamModelSchema]), {
      minProperties: 1,
      description:
        'logical model (what clients send) → the upstream model name, or an object that also sets `contextWindow`, `maxOutput`, `encoding`; at least one',
    }),
    api: Type.Optional(
      choice(['chat', 'responses'], {
        default: 'chat',
        description:
          'what the upstream speaks: `chat` (`/chat/completions`; Responses requests are translated to it and back, streams included) or `responses` (`/responses`; Responses requests pass through, chat requests are translated)',
      }),
    ),
    weight: Type.Optional(
      Type.Number({ minimum: 0, default: 1, description: 'share of traffic under `weighted` (0 takes none while others can serve)' }),
    ),
    timeoutMs: Type.Optional(ms("per attempt: the whole call, or a stream's time to its first chunk", 1, 30_000)),
    streamIdleTimeoutMs: Type.Optional(ms('the longest silence between two stream chunks', 1, 30_000)),
    headers: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1, writeOnly: true }), {
        description: "extra headers on every request (e.g. Azure's `api-key`); their values are treated as secrets",
      }),
    ),
    continuation: Type.Optional(
      choice(['prefill', 'instruct', 'none'], {
        default: 'instruct',
        description:
          'how this deployment can continue a stream that broke elsewhere: `prefill` (the server truly continues a final assistant message: vLLM `continue_final_message` + `add_generation_prompt: false`, DeepSeek `prefix: true`), `instruct` (the partial answer plus an instruction; repeats are removed), `none` (never used to continue)',
      }),
    ),
    rpm: Type.Optional(
      perMinute('requests per minute; over budget, the deployment is used only when nothing better is left; null: no limit'),
    ),
    tpm: Type.Optional(
      perMinute(
        'tokens per minute (estimated up front at ~4 characters a token plus `max_tokens`, corrected by the real usage); null: no limit',
      ),
    ),
    maxResponseBytes: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 32 * 1024 * 1024,
        unit: 'bytes',
        description:
          'largest non-streamed answer body (and stream event) read from this deployment; larger is 502 `upstream_response_too_large`, counted as its failure',
      }),
    ),
    health: Type.Optional(
      Type.Object(healthProperties(false), {
        additionalProperties: false,
        description: 'health options for this provider, merged over the top-level `health` (same fields)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const routingSchema = section(
  {
    strategy: Type.Optional(
      choice(['priority', 'weighted', 'least-latency', 'least-busy'], {
        default: 'priority',
        description:
          'order within a tier: `priority` (config order), `weighted` (random by weight), `least-latency` (latency EWMA; unmeasured first), `least-busy` (fewest in flight)',
      }),
    ),
    maxAttempts: Type.Optional(
      Type.Integer({ minimum: 1, default: 3, unit: 'attempts', description: 'attempts per request, hedges and continuations included' }),
    ),
    deadlineMs: Type.Optional(ms('the whole request: every attempt and every wait; past it, `deadline_exceeded` (504)', 1, 60_000)),
    maxWaitForRecoveryMs: Type.Optional(
      ms(
        'when every deployment of the model is recovering, how long one request waits in all for a probe to let it through; a probe further off answers `no_provider_available` (503) at once, with `Retry-After` at the next probe. 0: never wait',
        0,
        1000,
      ),
    ),
    maxWaitingRequests: Type.Optional(
      Type.Integer({
        minimum: 0,
        default: 64,
        unit: 'requests',
        description:
          'requests of one logical model that may wait for a recovery at once; more answer `no_provider_available` (503) at once, with `Retry-After` at the next probe',
      }),
    ),
    hedgeAfterMs: Type.Optional(
      Type.Union([Type.Number({ minimum: 0 }), Type.Literal('p95'), Type.Null()], {
        default: null,
        unit: 'ms',
        description:
          'with no first token (or answer) after this many ms, start a second attempt on another deployment; the first ready wins and the other is aborted. `"p95"` uses the first deployment\'s rolling p95 latency; null: never',
      }),
    ),
    midStreamFailover: Type.Optional(
      choice(['continue', 'error'], {
        default: 'continue',
        description: 'after tokens reached the caller: `continue` on a deployment that can, or `error` (end with `stream_interrupted`)',
      }),
    ),
  },
  'how a request picks deployments, retries and hedges',
);

export const conversationsSchema = section(
  {
    idleMs: Type.Optional(ms('a conversation actor idle this long is stopped; its next message restores it from the store', 1, 300_000)),
    store: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
        default: null,
        writeOnly: true,
        description:
          'where conversations live: `memory`, `sqlite:<path>` or `postgres://…` (shared by instances; docs/conversations-postgres.md); `--store` and the embedding option win; null: their default',
      }),
    ),
    leaseMs: Type.Optional(
      ms(
        "a conversation's write lease on a shared store (Postgres): renewed while turns run, taken over by another instance once expired",
        100,
        30_000,
      ),
    ),
    reserveTokens: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 1024,
        unit: 'tokens',
        description: 'tokens kept free for the reply when a turn sets no `max_tokens`',
      }),
    ),
    strategy: Type.Optional(
      choice(['sliding', 'summarize'], {
        default: 'sliding',
        description:
          'default for new conversations: `sliding` (drop the oldest turns whole) or `summarize` (fold them into a running summary)',
      }),
    ),
    summarizerModel: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
        default: null,
        description: "logical model that writes summaries; null: the conversation's own",
      }),
    ),
    summaryMaxTokens: Type.Optional(Type.Integer({ minimum: 16, default: 512, unit: 'tokens', description: 'longest summary' })),
    contextFallbacks: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), {
        default: {},
        description: 'logical model → larger-context logical model for prompts that do not fit',
      }),
    ),
  },
  'conversation actors: idle time, context fitting, summaries',
);

/** The whole config. A new section is one more entry here (its types and docs follow). */
export const configSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'the JSON Schema this file follows, for editors (`switchyard.schema.json`)' })),
    providers: Type.Array(providerSchema, {
      minItems: 1,
      description: 'the upstream deployments; array order is the priority',
    }),
    routing: Type.Optional(routingSchema),
    health: Type.Optional(healthSchema),
    conversations: Type.Optional(conversationsSchema),
    cluster: Type.Optional(clusterSchema),
    auth: Type.Optional(authSchema),
    limits: Type.Optional(limitsSchema),
    server: Type.Optional(serverSchema),
    experiments: Type.Optional(
      Type.Array(experimentSchema, { maxItems: 64, default: [], description: 'A/B/n experiments (docs/rollouts.md)' }),
    ),
    rollouts: Type.Optional(Type.Array(rolloutSchema, { maxItems: 64, default: [], description: 'canary rollouts (docs/rollouts.md)' })),
  },
  { additionalProperties: false, title: 'Switchyard configuration' },
);

/** The sections documented as tables, by the name of their marker in docs/configuration.md. */
export const documentedSections: Record<string, TSchema> = {
  providers: providerSchema,
  'providers.models': upstreamModelSchema,
  routing: routingSchema,
  health: healthSchema,
  conversations: conversationsSchema,
  cluster: clusterSchema,
  auth: authSchema,
  'auth.keys': apiKeySchema,
  'auth.tenants': tenantBudgetSchema,
  limits: limitsSchema,
  server: serverSchema,
  experiments: experimentSchema,
  'experiments.variants': variantSchema,
  rollouts: rolloutSchema,
};

/** switchyard.schema.json: the schema as plain JSON, with the draft it follows. */
export function jsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...(JSON.parse(JSON.stringify(configSchema)) as Record<string, unknown>),
  };
}

/** The text of switchyard.schema.json (as `npm run docs:config` writes it). */
export const jsonSchemaText = () => `${JSON.stringify(jsonSchema(), null, 2)}\n`;
