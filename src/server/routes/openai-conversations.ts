// OpenAI's Conversations API in OpenAI's shapes, so the openai SDK's `client.conversations` and
// `client.conversations.items` work unchanged: create, read, update metadata, delete; items listed, read,
// added, deleted. Switchyard's own settings (logical model, system prompt, fitting strategy) and the window ride
// in `switchyard`, a field OpenAI's shapes do not have. POST /v1/conversations also takes Switchyard's older body
// (`{ model, system?, strategy? }`, answered 201).

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { ItemInput } from '../../conversation/items.ts';
import type { ConversationView } from '../../conversation/types.ts';
import { SwitchyardError } from '../../errors.ts';
import type { Runtime } from '../../runtime.ts';
import { ownerOf, scopeOf } from '../auth.ts';

const text = { anyOf: [{ type: 'string' }, { type: 'array', maxItems: 256, items: { type: 'object', required: ['type'] } }] } as const;

/** One item: its type's own fields are checked by the runtime (src/conversation/items.ts), with their paths. */
const item = {
  type: 'object',
  properties: {
    type: { enum: ['message', 'function_call', 'function_call_output'] },
    role: { enum: ['user', 'assistant', 'system', 'developer'] },
    content: text,
    call_id: { type: 'string', minLength: 1, maxLength: 256 },
    name: { type: 'string', minLength: 1, maxLength: 256 },
    arguments: { type: 'string' },
    output: text,
  },
} as const;

/** OpenAI's limit of items per create or add call. */
const items = { type: 'array', maxItems: 20, items: item } as const;
const metadata = { anyOf: [{ type: 'object' }, { type: 'null' }] } as const;
const model = { type: 'string', minLength: 1, maxLength: 256 } as const;
const system = { anyOf: [{ type: 'string', maxLength: 1_000_000 }, { type: 'null' }] } as const;
const strategy = { enum: ['sliding', 'summarize'] } as const;

const createSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    items,
    metadata,
    switchyard: { type: 'object', additionalProperties: false, properties: { model, system, strategy } },
    // Switchyard's older body, still taken.
    model,
    system,
    strategy,
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;
const itemParams = {
  type: 'object',
  required: ['id', 'item_id'],
  properties: { id: idParams.properties.id, item_id: { type: 'string', minLength: 1, maxLength: 128 } },
} as const;
const listQuery = {
  type: 'object',
  properties: {
    after: { type: 'string', maxLength: 256 },
    // A query string is text (the server does not coerce types): 1 to 100.
    limit: { type: 'string', pattern: '^(100|[1-9][0-9]?)$' },
    order: { enum: ['asc', 'desc'] },
  },
} as const;

/** OpenAI's conversation object, with Switchyard's settings and window in `switchyard`. */
export function conversationObject(view: ConversationView) {
  const { id, createdAt, metadata: meta, ...settings } = view;
  return { id, object: 'conversation', created_at: Math.floor(createdAt / 1000), metadata: meta, switchyard: settings };
}

export function openaiConversationRoutes(runtime: Runtime) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    const conversations = runtime.conversations;

    app.post('/v1/conversations', { schema: { body: createSchema } }, async (request, reply) => {
      const body = request.body ?? {};
      const older = body.model !== undefined;
      if (!older && (body.system !== undefined || body.strategy !== undefined))
        throw new SwitchyardError('invalid_request', 'system and strategy go in switchyard (or beside model)', { param: 'model' });
      const settings = { ...body.switchyard, ...(older ? { model: body.model, system: body.system, strategy: body.strategy } : {}) };
      const { id } = await conversations.create({
        ...(settings.model === undefined ? {} : { model: settings.model }),
        ...(settings.system === undefined ? {} : { system: settings.system }),
        ...(settings.strategy === undefined ? {} : { strategy: settings.strategy }),
        ...(body.metadata === undefined ? {} : { metadata: body.metadata as Record<string, string> | null }),
        ...(body.items === undefined ? {} : { items: body.items as ItemInput[] }),
        tenant: ownerOf(request),
      });
      const created = conversationObject(await conversations.get(id));
      return older ? reply.code(201).send(created) : created;
    });

    app.get('/v1/conversations/:id', { schema: { params: idParams } }, async (request) =>
      conversationObject(await conversations.get(request.params.id, scopeOf(request))),
    );

    app.post(
      '/v1/conversations/:id',
      {
        schema: {
          params: idParams,
          body: { type: 'object', required: ['metadata'], additionalProperties: false, properties: { metadata } },
        },
      },
      async (request) => {
        const meta = request.body.metadata as Record<string, string> | null;
        return conversationObject(await conversations.setMetadata(request.params.id, meta, scopeOf(request)));
      },
    );

    app.delete('/v1/conversations/:id', { schema: { params: idParams } }, async (request) => {
      const { id } = request.params;
      // Another tenant's conversation answers exactly like a missing one.
      if (!(await conversations.delete(id, scopeOf(request))))
        throw new SwitchyardError('conversation_not_found', `no conversation "${id}"`);
      return { id, object: 'conversation.deleted', deleted: true };
    });

    app.get('/v1/conversations/:id/items', { schema: { params: idParams, querystring: listQuery } }, async (request) => {
      const { after, limit, order } = request.query;
      const options = { after, order, limit: limit === undefined ? undefined : Number(limit) };
      const page = await conversations.listItems(request.params.id, options, scopeOf(request));
      return { object: 'list', data: page.data, first_id: page.firstId, last_id: page.lastId, has_more: page.hasMore };
    });

    app.post(
      '/v1/conversations/:id/items',
      { schema: { params: idParams, body: { type: 'object', required: ['items'], additionalProperties: false, properties: { items } } } },
      async (request) => {
        const added = await conversations.addItems(request.params.id, request.body.items as ItemInput[], scopeOf(request));
        return { object: 'list', data: added, first_id: added[0]?.id ?? null, last_id: added.at(-1)?.id ?? null, has_more: false };
      },
    );

    app.get('/v1/conversations/:id/items/:item_id', { schema: { params: itemParams } }, async (request) =>
      conversations.getItem(request.params.id, request.params.item_id, scopeOf(request)),
    );

    // OpenAI answers an item's deletion with the conversation.
    app.delete('/v1/conversations/:id/items/:item_id', { schema: { params: itemParams } }, async (request) =>
      conversationObject(await conversations.deleteItem(request.params.id, request.params.item_id, scopeOf(request))),
    );
  };
}
