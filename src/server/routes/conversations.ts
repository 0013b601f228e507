// Switchyard's conversation extension beside OpenAI's Conversations API (openai-conversations.ts): POST
// /v1/conversations/{id}/messages posts a turn (idempotent with an idempotency-key header). Every chat parameter
// in its body (tools, tool_choice, temperature, max_completion_tokens…) reaches the upstream; `content` is the
// user message, or `messages` ends with the tool results of the last reply's calls.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ChatTurnRequest } from '../../conversation/chat-turn.ts';
import { isSwitchyardError, SwitchyardError } from '../../errors.ts';
import type { Runtime } from '../../runtime.ts';
import { scopeOf } from '../auth.ts';
import type { Metrics } from '../metrics.ts';
import { clientGone, writeSse } from '../sse.ts';
import { chatSchema } from './chat.ts';

const postSchema = {
  type: 'object',
  properties: {
    ...chatSchema.properties,
    content: { type: 'string', minLength: 1 },
    stream: { type: 'boolean' },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

export function conversationRoutes(runtime: Runtime, metrics: Metrics | undefined) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.post('/v1/conversations/:id/messages', { schema: { params: idParams, body: postSchema } }, async (request, reply) => {
      const { id } = request.params;
      const { content, stream, stream_options: _options, model: _model, conversation_id: _id, ...rest } = request.body;
      if ((content === undefined) === (rest.messages === undefined))
        throw new SwitchyardError('invalid_request', 'send content (a user message) or messages (ending with tool results)', {
          param: 'content',
        });
      const messages = (rest.messages as ChatCompletionMessageParam[] | undefined) ?? [{ role: 'user', content: content ?? '' }];
      const turnRequest: ChatTurnRequest = { ...rest, messages };
      const key = request.headers['idempotency-key'];
      const postOptions = { idempotencyKey: typeof key === 'string' ? key : null, signal: clientGone(reply), ...scopeOf(request) };
      // Conversation turns count like chat requests, with the route their request took.
      const stop = metrics?.startTimer();
      let model: string | undefined;
      try {
        if (stream) {
          model = (await runtime.conversations.get(id, scopeOf(request))).model;
          await writeSse(reply, model, runtime.conversations.streamChat(id, turnRequest, postOptions), { includeUsage: true, metrics });
          return reply;
        }
        const turn = await runtime.conversations.postChat(id, turnRequest, postOptions);
        model = turn.route.model;
        metrics?.observeRoute(model, turn.route, 'ok', turn.usage);
        return {
          turn_id: turn.turnId,
          role: 'assistant',
          content: turn.content,
          ...(turn.toolCalls
            ? {
                tool_calls: turn.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
              }
            : {}),
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
  };
}
