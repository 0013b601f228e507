// Experiment variants: which logical model serves each (its own, or a synthetic one over the deployments it
// names), what parameters it sets on a request, and the weighted pick from a point in [0, 1). Pure.

import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ExperimentConfig, SwitchyardConfig } from '../config.ts';
import type { ChatCompletionRequest, EmbeddingsRequest } from '../routing/request.ts';

type Variant = ExperimentConfig['variants'][number];

/** The synthetic logical model of a variant that names deployments; never listed to clients. */
export const variantModel = (experiment: string, variant: string) => `variant:${experiment}/${variant}`;
export const isVariantModel = (model: string) => model.startsWith('variant:');

/** The logical model that serves a variant. */
export const modelOfVariant = (experiment: string, v: Variant) => v.model ?? variantModel(experiment, v.name);

/** Synthetic model → the deployment ids that serve it, in order (the supervisor adds them as routes). */
export function variantRoutes(config: Pick<SwitchyardConfig, 'experiments'>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of config.experiments ?? []) {
    for (const v of e.variants) if (v.deployments) out.set(variantModel(e.id, v.name), v.deployments);
  }
  return out;
}

/** The variant whose share of [0, 1) holds `point` (shares in proportion to the weights). */
export function pickVariant<V extends { weight: number }>(variants: readonly V[], point: number): V {
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  let edge = 0;
  for (const v of variants) {
    edge += v.weight / total;
    if (point < edge && v.weight > 0) return v;
  }
  // Rounding may leave the very top of the range: it belongs to the last variant that takes traffic.
  return [...variants].reverse().find((v) => v.weight > 0) ?? (variants[0] as V);
}

/** The request as a variant sends it: its model, and the parameters it sets. */
export function variantRequest(request: ChatCompletionRequest, model: string, params: Variant['params']): ChatCompletionRequest {
  if (!params) return { ...request, model };
  const { systemPrefix, ...set } = params;
  const messages: ChatCompletionMessageParam[] = systemPrefix
    ? [{ role: 'system', content: systemPrefix }, ...request.messages]
    : request.messages;
  return { ...request, ...set, model, messages };
}

/**
 * An embeddings request as a variant sends it: only its model changes. A variant's parameters (temperature,
 * top_p, max_tokens, a system prefix) are chat parameters with no meaning for embeddings, so they are left
 * out rather than sent to an upstream that would refuse them.
 */
export function variantEmbeddingsRequest(request: EmbeddingsRequest, model: string): EmbeddingsRequest {
  return { ...request, model };
}
