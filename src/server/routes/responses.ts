// POST /v1/responses, GET and DELETE /v1/responses/{id}: OpenAI's Responses API over the same routing as chat
// (failover, hedging, budgets, health, mid-stream continuation). The request is translated to chat for the
// router; a deployment that speaks Responses gets the client's original instead (src/upstream/responses-wire.ts).
// previous_response_id and item_reference are resolved here from the tenant's stored responses, so any
// deployment can serve a continued conversation; `conversation` takes the conversation actors' turn path.

import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { SwitchyardError } from '../../errors.ts';
import type { Runtime } from '../../runtime.ts';
import type { ChatRequest } from '../../upstream/adapter.ts';
import { ResponsesStreamComposer } from '../../upstream/responses-stream.ts';
import { chatOfResponses, checkInputItems, echoOf, responseOfCompletion } from '../../upstream/responses-translate.ts';
import { type InputItem, type ResponsesBody, responsesSource, upstreamResponses } from '../../upstream/responses-wire.ts';
import { ownerOf, scopeOf, tenantOf } from '../auth.ts';
import type { Metrics } from '../metrics.ts';
import { writeResponsesSse } from '../responses-sse.ts';
import { clientGone } from '../sse.ts';
import { messageOf } from './chat.ts';
import { type ResponsesCreate, responseIdParams, responsesSchema } from './responses-schema.ts';
import { createResponseStore, type ResponseStore } from './responses-store.ts';
import { subjectOf } from './rollouts.ts';

const newId = (prefix: string) => `${prefix}_${randomUUID().replaceAll('-', '')}`;

const notFound = (id: string) =>
  new SwitchyardError('response_not_found', `No response found with id '${id.slice(0, 256)}'.`, { param: 'response_id' });

/** The tenant whose stored responses a request reads and writes (one shared tenant without keys). */
/** The stored responses' owner: the key's tenant, or '' without keys. */
const storeOwner = (request: FastifyRequest) => ownerOf(request) ?? '';

/** The input as items, item references resolved from the tenant's stored responses, every type checked. */
function itemsOf(input: ResponsesCreate['input'], store: ResponseStore, tenant: string): InputItem[] {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  const items = input.map((item, i) => {
    if (item.type !== 'item_reference') return item;
    const found = typeof item.id === 'string' ? store.item(tenant, item.id) : undefined;
    if (!found)
      throw new SwitchyardError('invalid_request', `Item with id '${String(item.id).slice(0, 256)}' not found.`, {
        param: `input[${i}].id`,
      });
    return found;
  });
  checkInputItems(items);
  return items;
}

export function responsesRoutes(runtime: Runtime, metrics: Metrics | undefined, store: ResponseStore = createResponseStore()) {
  return async (app: FastifyInstance) => {
    app.post('/v1/responses', { schema: { body: responsesSchema } }, async (request, reply) => {
      const create = request.body as ResponsesCreate;
      const tenant = storeOwner(request);
      const { model, stream, previous_response_id: previous, conversation, input: _input, ...rest } = create;
      const conversationId = typeof conversation === 'string' ? conversation : (conversation?.id ?? null);
      if (conversationId !== null && previous)
        throw new SwitchyardError('invalid_request', 'previous_response_id and conversation cannot be used together', {
          param: 'conversation',
        });
      let history: InputItem[] = [];
      if (previous) {
        const earlier = store.get(tenant, previous);
        if (!earlier)
          throw new SwitchyardError('previous_response_not_found', `Previous response with id '${previous.slice(0, 256)}' not found.`, {
            param: 'previous_response_id',
          });
        history = earlier.history;
      }
      const input = itemsOf(create.input, store, tenant);
      const body: ResponsesBody = { ...rest, input: [...history, ...input] };
      const id = newId('resp');
      const base = { id, created_at: Math.floor(Date.now() / 1000), ...echoOf(body, model, previous ?? null) };
      const keep = (response: Record<string, unknown>) => {
        if (create.store === false) return;
        const output = Array.isArray(response.output) ? (response.output as InputItem[]) : [];
        store.put(tenant, id, { response, history: [...body.input, ...output] });
      };
      const signal = clientGone(reply);
      if (conversationId !== null)
        return conversationTurn(
          runtime,
          { request, reply, signal, metrics },
          { conversationId, create, chat: chatOfResponses({ ...rest, input }), base, keep },
        );
      const chat = chatOfResponses(body);
      const routed = { ...chat, model, [responsesSource]: { body, messages: chat.messages.length } };
      const stop = metrics?.startTimer(model);
      try {
        if (stream) {
          const composer = new ResponsesStreamComposer(base, newId);
          await writeResponsesSse(
            reply,
            composer,
            runtime.stream(routed, { signal, tenant: tenantOf(request), subject: subjectOf(request) }),
            { model, metrics, onEnd: keep },
          );
          return reply;
        }
        const { completion, route } = await runtime.chat(routed, { signal, tenant: tenantOf(request), subject: subjectOf(request) });
        metrics?.observeRoute(model, route, 'ok', completion.usage ?? null);
        const upstream = upstreamResponses.get(completion);
        // A Responses upstream's own Response passes whole; the gateway's id, the logical model and the route are set on it.
        const response = upstream
          ? { ...upstream, id, model, previous_response_id: previous ?? null, switchyard: route }
          : { ...responseOfCompletion(completion, id, base, () => randomUUID().replaceAll('-', '')), switchyard: route };
        keep(response);
        return reply
          .header('x-switchyard-deployment', route.deployments.join(','))
          .header('x-switchyard-attempts', String(route.attempts.length))
          .send(response);
      } catch (err) {
        metrics?.observeError(model, err);
        throw err;
      } finally {
        stop?.();
      }
    });

    app.get('/v1/responses/:id', { schema: { params: responseIdParams } }, async (request) => {
      const { id } = request.params as { id: string };
      const stored = store.get(storeOwner(request), id);
      if (!stored) throw notFound(id);
      return stored.response;
    });

    app.delete('/v1/responses/:id', { schema: { params: responseIdParams } }, async (request) => {
      const { id } = request.params as { id: string };
      if (!store.delete(storeOwner(request), id)) throw notFound(id);
      return { id, object: 'response', deleted: true };
    });
  };
}

interface Turn {
  conversationId: string;
  create: ResponsesCreate;
  /** This turn alone as a chat request (its new items as messages, every parameter): the conversation adds the history. */
  chat: ChatRequest;
  base: ReturnType<typeof echoOf> & { id: string; created_at: number };
  keep(response: Record<string, unknown>): void;
}

/** A Responses turn on a stored conversation: the same turn path as chat's x-conversation-id. */
async function conversationTurn(
  runtime: Runtime,
  http: { request: FastifyRequest; reply: FastifyReply; signal: AbortSignal; metrics: Metrics | undefined },
  turn: Turn,
) {
  const { request, reply, signal, metrics } = http;
  const { conversationId, create, base, keep, chat } = turn;
  const key = request.headers['idempotency-key'];
  const postOptions = { idempotencyKey: typeof key === 'string' ? key : null, signal, ...scopeOf(request) };
  const withConversation = { ...base, conversation: { id: conversationId } };
  const stop = metrics?.startTimer(create.model);
  try {
    if (create.stream) {
      const composer = new ResponsesStreamComposer(withConversation, newId);
      await writeResponsesSse(reply, composer, runtime.conversations.streamChat(conversationId, chat, postOptions), {
        model: create.model,
        metrics,
        headers: { 'x-conversation-id': conversationId },
        onEnd: keep,
      });
      return reply;
    }
    const result = await runtime.conversations.postChat(conversationId, chat, postOptions);
    metrics?.observeRoute(create.model, result.route, 'ok', result.usage);
    const completion = {
      created: base.created_at,
      choices: [{ index: 0, message: messageOf(result), finish_reason: result.finishReason }],
      usage: result.usage,
    } as unknown as ChatCompletion;
    const ids = () => randomUUID().replaceAll('-', '');
    const response = { ...responseOfCompletion(completion, base.id, withConversation, ids), conversation: { id: conversationId } };
    keep(response);
    return reply.header('x-switchyard-deployment', result.deployments.join(',')).header('x-conversation-id', conversationId).send(response);
  } catch (err) {
    metrics?.observeError(create.model, err);
    throw err;
  } finally {
    stop?.();
  }
}
