// POST /v1/chat/completions, GET /v1/models and GET /v1/models/{id}: OpenAI's shapes, so the openai SDK works unchanged. With
// `conversation_id` (or the x-conversation-id header) the server keeps the history: the client sends only its
// new message. Streams are SSE; a client that goes away aborts the upstream attempt.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { TurnResult } from '../../conversation/types.ts';
import { SwitchyardError } from '../../errors.ts';
import type { ChatCompletionRequest } from '../../routing/request.ts';
import type { Runtime } from '../../runtime.ts';
import { answerTextOf } from '../../upstream/wire.ts';
import { scopeOf, tenantOf } from '../auth.ts';
import { callerGone } from '../connections.ts';
import type { Metrics } from '../metrics.ts';
import { plainAnswer } from '../plain-answer.ts';
import { clientGone, writeSse } from '../sse.ts';
import { subjectOf } from './rollouts.ts';

const message = {
  type: 'object',
  required: ['role'],
  properties: {
    role: { enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
    content: { anyOf: [{ type: 'string' }, { type: 'array' }, { type: 'null' }] },
    name: { type: 'string', maxLength: 256 },
  },
} as const;

export const chatSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    messages: { type: 'array', minItems: 1, maxItems: 10_000, items: message },
    stream: { type: 'boolean' },
    stream_options: { type: 'object', properties: { include_usage: { type: 'boolean' } } },
    max_tokens: { type: 'integer', minimum: 1 },
    max_completion_tokens: { type: 'integer', minimum: 1 },
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    n: { type: 'integer', minimum: 1, maximum: 1 },
    presence_penalty: { type: 'number', minimum: -2, maximum: 2 },
    frequency_penalty: { type: 'number', minimum: -2, maximum: 2 },
    stop: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 4 }, { type: 'null' }] },
    user: { type: 'string' },
    seed: { type: 'integer' },
    conversation_id: { type: 'string', minLength: 1, maxLength: 128 },
  },
} as const;

/**
 * Bodies typed from the schema that validates them. A message is typed as the OpenAI message it is forwarded as:
 * the schema checks its role and content shape, the upstream the rest (tool calls, content parts).
 */
type ChatTypeProvider = JsonSchemaToTsProvider<{
  ValidatorSchemaOptions: { deserialize: [{ pattern: typeof message; output: ChatCompletionMessageParam }] };
}>;

const modelParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

/** OpenAI's model object; `created` is 0 because a logical model has no creation date. */
const modelObject = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'switchyard' });

interface ChatBody extends ChatCompletionRequest {
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  conversation_id?: string;
}

export function chatRoutes(runtime: Runtime, metrics: Metrics | undefined) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ChatTypeProvider>();
    app.get('/v1/models', async () => ({ object: 'list', data: runtime.models().map(modelObject) }));

    // OpenAI's model object for one logical model; an id the SDK encoded (`a%2Fb`) arrives decoded.
    app.get('/v1/models/:id', { schema: { params: modelParams } }, async (request) => {
      const { id } = request.params;
      if (!runtime.models().includes(id)) {
        throw new SwitchyardError('model_not_found', `the model '${id}' does not exist here`, { param: 'model' });
      }
      return modelObject(id);
    });

    app.post('/v1/chat/completions', { schema: { body: chatSchema } }, async (request, reply) => {
      const body: ChatBody = request.body;
      const header = request.headers['x-conversation-id'];
      const conversationId = body.conversation_id ?? (typeof header === 'string' ? header : undefined);
      if (conversationId !== undefined) {
        return conversationTurn(runtime, metrics, conversationId, body, { request, reply, signal: clientGone(reply) });
      }
      const { stream, stream_options, conversation_id: _unused, ...chat } = body;
      // A stream's writer may cut it through clientGone's controller; a plain answer needs only to hear that its
      // client went away, which its connection's own listener tells without a listener per request.
      const signal = stream ? clientGone(reply) : callerGone(request.server.server, reply.raw, () => clientGone(reply));
      const stop = metrics?.startTimer(body.model);
      const subject = subjectOf(request);
      try {
        if (stream) {
          await writeSse(reply, body.model, runtime.stream(chat, { signal, subject, tenant: tenantOf(request) }), {
            includeUsage: stream_options?.include_usage === true,
            metrics,
          });
          return reply;
        }
        const { completion, route } = await runtime.chat(chat, { signal, subject, tenant: tenantOf(request) });
        metrics?.observeRoute(body.model, route, 'ok', completion.usage ?? null);
        if (route.variant !== undefined) void reply.header('x-switchyard-variant', route.variant);
        void reply
          .header('x-switchyard-deployment', route.deployments.join(','))
          .header('x-switchyard-attempts', String(route.attempts.length));
        // The logical model the client asked for, as on streamed chunks; everything else as the upstream sent it:
        // its own text when the completion is the object parsed from it, else serialized.
        const upstreamText = answerTextOf(completion);
        const text = upstreamText && plainAnswer(upstreamText, JSON.stringify(body.model), JSON.stringify(route));
        if (text) return reply.type('application/json; charset=utf-8').send(text);
        return reply.send({ ...completion, model: body.model, switchyard: route });
      } catch (err) {
        metrics?.observeError(body.model, err);
        throw err;
      } finally {
        stop?.();
      }
    });
  };
}

/**
 * The stateful extension: the last user message (or the tool results that end the messages) is the new turn; the
 * server supplies the history, and every other parameter of the request reaches the upstream.
 */
async function conversationTurn(
  runtime: Runtime,
  metrics: Metrics | undefined,
  id: string,
  body: ChatBody,
  http: { request: FastifyRequest; reply: FastifyReply; signal: AbortSignal },
) {
  const { request, reply, signal } = http;
  const key = request.headers['idempotency-key'];
  const postOptions = { idempotencyKey: typeof key === 'string' ? key : null, signal, ...scopeOf(request) };
  const stop = metrics?.startTimer(body.model);
  try {
    if (body.stream) {
      await writeSse(reply, body.model, runtime.conversations.streamChat(id, body, postOptions), {
        includeUsage: body.stream_options?.include_usage === true,
        headers: { 'x-conversation-id': id },
        metrics,
      });
      return reply;
    }
    const turn = await runtime.conversations.postChat(id, body, postOptions);
    // Labelled with the model the client sent, as its stream is, and as chat requests are.
    metrics?.observeRoute(body.model, turn.route, 'ok', turn.usage);
    return conversationCompletion(reply, id, body.model, turn);
  } catch (err) {
    metrics?.observeError(body.model, err);
    throw err;
  } finally {
    stop?.();
  }
}

function conversationCompletion(reply: FastifyReply, id: string, model: string, turn: TurnResult) {
  void reply.header('x-switchyard-deployment', turn.deployments.join(',')).header('x-conversation-id', id);
  const variant = turn.route.variant;
  if (variant !== undefined) void reply.header('x-switchyard-variant', variant);
  return {
    id: `chatcmpl-${turn.turnId}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: messageOf(turn), finish_reason: turn.finishReason, logprobs: turn.logprobs ?? null }],
    usage: turn.usage,
    switchyard: {
      conversation_id: id,
      turn_id: turn.turnId,
      deployments: turn.deployments,
      replayed: turn.replayed,
      ...(variant === undefined ? {} : { variant }),
    },
  };
}

/** The reply as OpenAI's assistant message: its text (null when it only calls functions) and its calls. */
export function messageOf(turn: TurnResult) {
  const calls = turn.toolCalls ?? [];
  if (calls.length === 0) return { role: 'assistant', content: turn.content, refusal: null };
  return {
    role: 'assistant',
    content: turn.content === '' ? null : turn.content,
    refusal: null,
    tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
  };
}
