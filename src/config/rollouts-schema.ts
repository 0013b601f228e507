// The config's traffic splits: A/B/n experiments (a logical model split across variants by a sticky hash) and
// canary rollouts (a logical model ramped from one logical model to another, with guards). Part of the one
// config schema (src/config/schema.ts); the rules that span fields are in splitIssues().

import Type, { type Static } from 'typebox';
import type { ConfigIssue } from './issues.ts';

const id = (what: string) =>
  Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
    patternErrorMessage: 'expected an id of up to 64 letters, digits, ".", "_" or "-"',
    description: `the ${what}'s id: letters, digits, \`.\`, \`_\`, \`-\`; unique among experiments and rollouts`,
  });

const sticky = Type.String({
  pattern: '^(conversation|tenant|none|header:[A-Za-z0-9-]{1,64})$',
  patternErrorMessage: 'expected conversation, tenant, none or header:<name>',
  default: 'conversation',
  description:
    "who keeps the same arm: `conversation` (a conversation id), `tenant` (the API key's tenant), `header:<name>` (e.g. a user id header) or `none` (each request drawn anew); a request without that subject is drawn at random",
});

const paramsSchema = Type.Object(
  {
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2, description: "replaces the request's temperature" })),
    top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: "replaces the request's top_p" })),
    max_tokens: Type.Optional(Type.Integer({ minimum: 1, description: "replaces the request's max_tokens" })),
    systemPrefix: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100_000, description: "a system message put before the request's messages" }),
    ),
  },
  { additionalProperties: false, description: 'request parameters this variant sets' },
);

export const variantSchema = Type.Object(
  {
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      patternErrorMessage: 'expected a name of up to 64 letters, digits, ".", "_" or "-"',
      description: 'shown in `x-switchyard-variant`, the `switchyard` field and the `variant` metric label',
    }),
    model: Type.Optional(Type.String({ minLength: 1, description: 'the logical model that serves this variant' })),
    deployments: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'or: the deployments (`<provider id>/<upstream model>`) that serve it, failing over in this order',
      }),
    ),
    weight: Type.Optional(Type.Number({ minimum: 0, default: 1, description: 'share of subjects (relative to the other variants)' })),
    params: Type.Optional(paramsSchema),
  },
  { additionalProperties: false, description: 'one arm: `model` or `deployments`, a weight and optional parameters' },
);

export const experimentSchema = Type.Object(
  {
    id: id('experiment'),
    model: Type.String({ minLength: 1, description: 'the logical model clients send; its requests are split across the variants' }),
    variants: Type.Array(variantSchema, { minItems: 1, maxItems: 32, description: 'the arms' }),
    sticky: Type.Optional(sticky),
  },
  { additionalProperties: false, description: 'an A/B/n experiment' },
);

const guardSchema = Type.Object(
  {
    minRequests: Type.Optional(
      Type.Integer({ minimum: 1, default: 100, description: 'canary requests in a step before the arms are compared' }),
    ),
    maxErrorRateIncrease: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        default: 0.02,
        description: "how far the canary's error rate may exceed the baseline's (0.02: two points) before a rollback",
      }),
    ),
    maxLatencyP95Ratio: Type.Optional(
      Type.Union([Type.Number({ minimum: 1 }), Type.Null()], {
        default: 2,
        description: "the canary's latency p95 over the baseline's above which it rolls back; null: not compared",
      }),
    ),
    maxTtftP95Ratio: Type.Optional(
      Type.Union([Type.Number({ minimum: 1 }), Type.Null()], {
        default: 2,
        description: 'the same for the time to first token of streams; null: not compared',
      }),
    ),
    latencyToleranceMs: Type.Optional(
      Type.Number({
        minimum: 0,
        default: 100,
        unit: 'ms',
        description:
          "a canary p95 less than this above the baseline's is noise, whatever the ratio (a cold connection makes a few ms look like 3×)",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'when a rollout rolls back on its own',
    default: { minRequests: 100, maxErrorRateIncrease: 0.02, maxLatencyP95Ratio: 2, maxTtftP95Ratio: 2, latencyToleranceMs: 100 },
  },
);

export const rolloutSchema = Type.Object(
  {
    id: id('rollout'),
    model: Type.String({ minLength: 1, description: 'the logical model clients send' }),
    from: Type.String({ minLength: 1, description: 'the baseline: the logical model that serves it now' }),
    to: Type.String({ minLength: 1, description: 'the canary: the logical model ramped in' }),
    steps: Type.Optional(
      Type.Array(Type.Number({ exclusiveMinimum: 0, maximum: 100 }), {
        minItems: 1,
        maxItems: 20,
        default: [10, 50, 100],
        description: "the canary's share of subjects at each step, in percent: strictly increasing, ending at 100",
      }),
    ),
    holdMs: Type.Optional(
      Type.Number({ minimum: 1, maximum: 2_147_483_647, default: 300_000, unit: 'ms', description: 'the shortest time at each step' }),
    ),
    sticky: Type.Optional(sticky),
    guard: Type.Optional(guardSchema),
  },
  { additionalProperties: false, description: 'a canary rollout' },
);

export type ExperimentInput = Static<typeof experimentSchema>;
export type RolloutInput = Static<typeof rolloutSchema>;

/** The rules that span fields: served models, unique ids and models, increasing steps, weights above zero. */
export function splitIssues(
  experiments: readonly ExperimentInput[],
  rollouts: readonly RolloutInput[],
  served: ReadonlySet<string>,
  deployments: ReadonlySet<string>,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const ids = new Set<string>();
  const models = new Set<string>();
  const model = (name: string, path: string) => {
    if (!served.has(name)) issues.push({ path, message: `expected a logical model that a provider serves (${[...served].join(', ')})` });
  };
  const unique = (value: string, seen: Set<string>, path: string, what: string) => {
    if (seen.has(value)) issues.push({ path, message: `${what} "${value}" is split twice` });
    seen.add(value);
  };
  for (const [i, e] of experiments.entries()) {
    const at = `experiments[${i}]`;
    unique(e.id, ids, `${at}.id`, 'id');
    unique(e.model, models, `${at}.model`, 'model');
    const names = new Set<string>();
    for (const [j, v] of e.variants.entries()) {
      const vat = `${at}.variants[${j}]`;
      if (names.has(v.name)) issues.push({ path: `${vat}.name`, message: `duplicate variant name "${v.name}"` });
      names.add(v.name);
      if ((v.model === undefined) === (v.deployments === undefined)) {
        issues.push({ path: vat, message: 'expected exactly one of `model` or `deployments`' });
      }
      if (v.model !== undefined) model(v.model, `${vat}.model`);
      for (const [k, d] of (v.deployments ?? []).entries()) {
        if (!deployments.has(d))
          issues.push({ path: `${vat}.deployments[${k}]`, message: `expected a deployment (${[...deployments].join(', ')})` });
      }
    }
    if (e.variants.reduce((sum, v) => sum + (v.weight ?? 1), 0) <= 0) {
      issues.push({ path: `${at}.variants`, message: 'the weights sum to 0: at least one variant needs a weight above 0' });
    }
  }
  for (const [i, r] of rollouts.entries()) {
    const at = `rollouts[${i}]`;
    unique(r.id, ids, `${at}.id`, 'id');
    unique(r.model, models, `${at}.model`, 'model');
    model(r.from, `${at}.from`);
    model(r.to, `${at}.to`);
    if (r.from === r.to) issues.push({ path: `${at}.to`, message: 'expected a canary other than the baseline (`from`)' });
    const steps = r.steps ?? [];
    const increasing = steps.every((s, k) => k === 0 || s > (steps[k - 1] ?? 0));
    if (!increasing || steps.at(-1) !== 100) {
      issues.push({ path: `${at}.steps`, message: 'expected strictly increasing percentages ending at 100 (e.g. [10, 50, 100])' });
    }
  }
  return issues;
}
