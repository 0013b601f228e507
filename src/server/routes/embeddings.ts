// POST /v1/embeddings: OpenAI's shape through the same provider actors as chat (failover, health, budgets,
// usage) and the same experiments and rollouts (a split model: the subject's arm, named in
// `x-switchyard-variant`). The upstream's answer passes whole; `model` is the logical model the client sent,
// and `switchyard` the route taken.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Subject } from '../../rollout/hash.ts';
import type { EmbeddingsRequest } from '../../routing/request.ts';
import type { Runtime } from '../../runtime.ts';
import { tenantOf } from '../auth.ts';
import type { Metrics } from '../metrics.ts';
import { clientGone } from '../sse.ts';
import { subjectOf } from './rollouts.ts';

/** OpenAI's limit on inputs per request; the body limit bounds their size. */
export const maxEmbeddingInputs = 2048;
const maxTokensPerInput = 65_536;

const tokens = { type: 'array', minItems: 1, maxItems: maxTokensPerInput, items: { type: 'integer', minimum: 0 } } as const;

export const embeddingsSchema = {
  type: 'object',
  required: ['model', 'input'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    // A text, texts, a token array, or token arrays; OpenAI refuses empty strings and so does this.
    input: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, maxItems: maxEmbeddingInputs, items: { type: 'string', minLength: 1 } },
        tokens,
        { type: 'array', minItems: 1, maxItems: maxEmbeddingInputs, items: tokens },
      ],
    },
    dimensions: { type: 'integer', minimum: 1, maximum: 65_536 },
    encoding_format: { enum: ['float', 'base64'] },
    user: { type: 'string', maxLength: 256 },
  },
} as const;

/**
 * Who an embeddings request is, for sticky arms: as for chat (tenant, headers), and for `sticky: conversation`
 * the `x-conversation-id` header when the client sends one: embeddings belong to no conversation, but an app that
 * embeds on a conversation's behalf gets the arm that conversation's turns get. Without it the arm is drawn at
 * random, as under `none`.
 */
function embeddingsSubject(request: FastifyRequest): Subject {
  const conversation = request.headers['x-conversation-id'];
  return { ...subjectOf(request), ...(typeof conversation === 'string' ? { conversation } : {}) };
}

export function embeddingRoutes(runtime: Runtime, metrics: Metrics | undefined) {
  return async (app: FastifyInstance) => {
    app.post('/v1/embeddings', { schema: { body: embeddingsSchema } }, async (request, reply) => {
      const body = request.body as EmbeddingsRequest;
      const signal = clientGone(reply);
      const stop = metrics?.startTimer(body.model);
      try {
        const { embeddings, route } = await runtime.embeddings(body, {
          signal,
          subject: embeddingsSubject(request),
          tenant: tenantOf(request),
        });
        const usage = embeddings.usage ? { prompt_tokens: embeddings.usage.prompt_tokens, completion_tokens: 0 } : null;
        metrics?.observeRoute(body.model, route, 'ok', usage);
        if (route.variant !== undefined) void reply.header('x-switchyard-variant', route.variant);
        return reply
          .header('x-switchyard-deployment', route.deployments.join(','))
          .header('x-switchyard-attempts', String(route.attempts.length))
          .send({ ...embeddings, model: body.model, switchyard: route });
      } catch (err) {
        metrics?.observeError(body.model, err);
        throw err;
      } finally {
        stop?.();
      }
    });
  };
}
