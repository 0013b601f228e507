// The conversations API: create, read, post a turn (idempotent with an idempotency-key header), delete.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import { isSwitchyardError, SwitchyardError } from '../../errors.ts';
import type { Runtime } from '../../runtime.ts';
import { ownerOf, scopeOf } from '../auth.ts';
import type { Metrics } from '../metrics.ts';
import { clientGone, writeSse } from '../sse.ts';

const createSchema = {
  type: 'object',
  required: ['model'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    system: { anyOf: [{ type: 'string', maxLength: 1_000_000 }, { type: 'null' }] },
    strategy: { enum: ['sliding', 'summarize'] },
  },
} as const;

const postSchema = {
  type: 'object',
  required: ['content'],
  additionalProperties: false,
  properties: {
    content: { type: 'string', minLength: 1 },
    stream: { type: 'boolean' },
    max_tokens: { type: 'integer', minimum: 1 },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

export function conversationRoutes(runtime: Runtime, metrics: Metrics | undefined) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.post('/v1/conversations', { schema: { body: createSchema } }, async (request, reply) => {
      const created = await runtime.conversations.create({ ...request.body, tenant: ownerOf(request) });
      return reply.code(201).send(created);
    });

    app.get('/v1/conversations/:id', { schema: { params: idParams } }, async (request) => {
      const { id } = request.params;
      return runtime.conversations.get(id, scopeOf(request));
    });

    app.post('/v1/conversations/:id/messages', { schema: { params: idParams, body: postSchema } }, async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      const key = request.headers['idempotency-key'];
      const postOptions = {
        idempotencyKey: typeof key === 'string' ? key : null,
        maxTokens: body.max_tokens ?? null,
        signal: clientGone(reply),
        ...scopeOf(request),
      };
      // Conversation turns count like chat requests, with the route their request took.
      const stop = metrics?.startTimer();
      let model: string | undefined;
      try {
        if (body.stream) {
          model = (await runtime.conversations.get(id, scopeOf(request))).model;
          await writeSse(reply, model, runtime.conversations.stream(id, body.content, postOptions), { includeUsage: true, metrics });
          return reply;
        }
        const turn = await runtime.conversations.post(id, body.content, postOptions);
        model = turn.route.model;
        metrics?.observeRoute(model, turn.route, 'ok', turn.usage);
        return {
          turn_id: turn.turnId,
          role: 'assistant',
          content: turn.content,
          finish_reason: turn.finishReason,
          usage: turn.usage,
          deployments: turn.deployments,
          replayed: turn.replayed,
        };
      } catch (err) {
        // The model of a turn that failed is in its route when a request was made.
        model ??= isSwitchyardError(err) ? err.route?.model : undefined;
        metrics?.observeError(model ?? '', err);
        throw err;
      } finally {
        stop?.(model);
      }
    });

    app.delete('/v1/conversations/:id', { schema: { params: idParams } }, async (request) => {
      const { id } = request.params;
      const deleted = await runtime.conversations.delete(id, scopeOf(request));
      // Another tenant's conversation answers exactly like a missing one.
      if (!deleted) throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
      return { id, deleted: true };
    });
  };
}
