// POST /v1/chat/completions and GET /v1/models: OpenAI's shapes, so the openai SDK works unchanged. With
// `conversation_id` (or the x-conversation-id header) the server keeps the history: the client sends only its
// new message. Streams are SSE; a client that goes away aborts the upstream attempt.

import { randomUUID } from 'node:crypto';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { TurnStreamEvent } from '../../conversation/types.ts';
import { SwitchyardError } from '../../errors.ts';
import type { ChatCompletionRequest, ChatStreamEvent } from '../../routing/request.ts';
import type { Runtime } from '../../runtime.ts';
import { answerFor } from '../errors.ts';
import type { Metrics } from '../metrics.ts';

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

interface ChatBody extends ChatCompletionRequest {
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  conversation_id?: string;
}

/** An abort signal that fires when the client goes away before the answer is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new SwitchyardError('aborted', 'the client went away', { status: 499 }));
  });
  return controller.signal;
}

function chunk(
  id: string,
  created: number,
  model: string,
  delta: Record<string, unknown>,
  finish: string | null,
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    ...extra,
  };
}

/** Writes a runtime stream as OpenAI SSE. Nothing is sent until the first token, so early failures get a status. */
export async function writeSse(
  reply: FastifyReply,
  model: string,
  events: AsyncGenerator<ChatStreamEvent>,
  options: { includeUsage: boolean; headers?: Record<string, string>; metrics?: Metrics | undefined },
) {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const startedAt = performance.now();
  const first = await events.next(); // throws before any byte is written: the error handler answers
  options.metrics?.observeFirstToken(model, (performance.now() - startedAt) / 1000);
  reply.hijack();
  const raw = reply.raw;
  const deployment = first.done ? '' : first.value.type === 'delta' ? first.value.deployment : (first.value.route.deployments[0] ?? '');
  raw.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...(deployment ? { 'x-switchyard-deployment': deployment } : {}),
    ...options.headers,
  });
  const send = (data: unknown) => raw.write(`data: ${JSON.stringify(data)}\n\n`);
  send(chunk(id, created, model, { role: 'assistant', content: '' }, null));
  try {
    for (let next = first; !next.done; next = await events.next()) {
      const event = next.value;
      if (event.type === 'delta') {
        const delta = event.toolCalls
          ? { ...(event.content === '' ? {} : { content: event.content }), tool_calls: event.toolCalls }
          : { content: event.content };
        send(chunk(id, created, model, delta, null));
        continue;
      }
      send(chunk(id, created, model, {}, event.finishReason, { switchyard: event.route }));
      if (options.includeUsage && event.usage)
        send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: event.usage });
      options.metrics?.observeRoute(model, event.route, 'ok', event.usage);
    }
    raw.end('data: [DONE]\n\n');
  } catch (err) {
    // Headers are gone: the error travels as a final SSE event, which the openai SDK raises as an APIError.
    if (!raw.destroyed) raw.end(`data: ${JSON.stringify(answerFor(err).body)}\n\n`);
    options.metrics?.observeError(model, err);
  }
}

export function chatRoutes(runtime: Runtime, metrics: Metrics | undefined) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<ChatTypeProvider>();
    app.get('/v1/models', async () => ({
      object: 'list',
      data: runtime.models().map((id) => ({ id, object: 'model', created: 0, owned_by: 'switchyard' })),
    }));

    app.post('/v1/chat/completions', { schema: { body: chatSchema } }, async (request, reply) => {
      const body: ChatBody = request.body;
      const header = request.headers['x-conversation-id'];
      const conversationId = body.conversation_id ?? (typeof header === 'string' ? header : undefined);
      const signal = clientGone(reply);
      if (conversationId !== undefined) return conversationTurn(runtime, conversationId, body, request, reply, signal);
      const { stream, stream_options, conversation_id: _unused, ...chat } = body;
      const stop = metrics?.startTimer(body.model);
      try {
        if (stream) {
          await writeSse(reply, body.model, runtime.stream(chat, { signal }), {
            includeUsage: stream_options?.include_usage === true,
            metrics,
          });
          return reply;
        }
        const { completion, route } = await runtime.chat(chat, { signal });
        metrics?.observeRoute(body.model, route, 'ok', completion.usage ?? null);
        return reply
          .header('x-switchyard-deployment', route.deployments.join(','))
          .header('x-switchyard-attempts', String(route.attempts.length))
          .send({ ...completion, switchyard: route });
      } catch (err) {
        metrics?.observeError(body.model, err);
        throw err;
      } finally {
        stop?.();
      }
    });
  };
}

/** The stateful extension: the last user message is the new turn; the server supplies the history. */
async function conversationTurn(
  runtime: Runtime,
  id: string,
  body: ChatBody,
  request: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
) {
  const last = body.messages.at(-1);
  if (last?.role !== 'user' || typeof last.content !== 'string') {
    throw new SwitchyardError('invalid_request', 'with conversation_id, the last message must be the new user message, as text', {
      status: 400,
      param: 'messages',
    });
  }
  const key = request.headers['idempotency-key'];
  const postOptions = { idempotencyKey: typeof key === 'string' ? key : null, maxTokens: body.max_tokens ?? null, signal };
  if (body.stream) {
    await writeSse(reply, body.model, turnEvents(runtime.conversations.stream(id, last.content, postOptions), body.model), {
      includeUsage: body.stream_options?.include_usage === true,
      headers: { 'x-conversation-id': id },
    });
    return reply;
  }
  const turn = await runtime.conversations.post(id, last.content, postOptions);
  void reply.header('x-switchyard-deployment', turn.deployments.join(',')).header('x-conversation-id', id);
  return {
    id: `chatcmpl-${turn.turnId}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [
      { index: 0, message: { role: 'assistant', content: turn.content, refusal: null }, finish_reason: turn.finishReason, logprobs: null },
    ],
    usage: turn.usage,
    switchyard: { conversation_id: id, turn_id: turn.turnId, deployments: turn.deployments, replayed: turn.replayed },
  };
}

/** A conversation turn's stream as the events writeSse sends. */
export async function* turnEvents(events: AsyncGenerator<TurnStreamEvent>, model: string): AsyncGenerator<ChatStreamEvent> {
  for await (const event of events) {
    if (event.type === 'delta') {
      yield { type: 'delta', content: event.content, deployment: '' };
      continue;
    }
    const r = event.result;
    yield {
      type: 'end',
      finishReason: r.finishReason,
      usage: r.usage,
      route: { model, deployments: r.deployments, attempts: [], continued: false },
    };
  }
}
