// The conversations API: create, read, post a turn (idempotent with an idempotency-key header), delete.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.ts';
import { clientGone, turnEvents, writeSse } from './chat.ts';

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

export function conversationRoutes(runtime: Runtime) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.post('/v1/conversations', { schema: { body: createSchema } }, async (request, reply) => {
      const created = await runtime.conversations.create(request.body);
      return reply.code(201).send(created);
    });

    app.get('/v1/conversations/:id', { schema: { params: idParams } }, async (request) => {
      const { id } = request.params;
      return runtime.conversations.get(id);
    });

    app.post('/v1/conversations/:id/messages', { schema: { params: idParams, body: postSchema } }, async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      const key = request.headers['idempotency-key'];
      const postOptions = {
        idempotencyKey: typeof key === 'string' ? key : null,
        maxTokens: body.max_tokens ?? null,
        signal: clientGone(reply),
      };
      if (body.stream) {
        const model = (await runtime.conversations.get(id)).model;
        await writeSse(reply, model, turnEvents(runtime.conversations.stream(id, body.content, postOptions), model), {
          includeUsage: true,
        });
        return reply;
      }
      const turn = await runtime.conversations.post(id, body.content, postOptions);
      return {
        turn_id: turn.turnId,
        role: 'assistant',
        content: turn.content,
        finish_reason: turn.finishReason,
        usage: turn.usage,
        deployments: turn.deployments,
        replayed: turn.replayed,
      };
    });

    app.delete('/v1/conversations/:id', { schema: { params: idParams } }, async (request, reply) => {
      const { id } = request.params;
      const deleted = await runtime.conversations.delete(id);
      if (!deleted)
        return reply
          .code(404)
          .send({ error: { message: `no conversation "${id}"`, type: 'not_found_error', code: 'conversation_not_found', param: null } });
      return { id, deleted: true };
    });
  };
}
