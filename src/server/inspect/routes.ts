// The inspector: GET /inspect (a self-contained page), /inspect/machines (every statechart laid out as a
// diagram, once), /inspect/state, /inspect/conversations (searched and paged), and /inspect/events (SSE,
// src/server/inspect/events.ts: one snapshot, then state changes as they happen and what changed once a
// second). Each is a plain route, so an access check can wrap them. In demo mode, POST
// /inspect/demo/:name/break|heal switches a mock upstream's faults.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../../errors.ts';
import type { MachineName } from '../../inspection/charts.ts';
import type { Diagram } from '../../inspection/layout.ts';
import { limitDefaults } from '../../limits.ts';
import type { Runtime } from '../../runtime.ts';
import { createInspectorFeed, type InspectorLimits, stateOf } from './events.ts';

// The page's text and the diagram layout (elkjs) load on the first visit of /inspect, not with the server: a
// gateway nobody inspects never holds them.
let pageModule: Promise<typeof import('./page.ts')> | undefined;
async function inspectorPage(): Promise<string> {
  pageModule ??= import('./page.ts');
  return (await pageModule).inspectorPage();
}

const inspectorDefaults: InspectorLimits = { clients: limitDefaults.inspectorClients, bufferBytes: limitDefaults.inspectorBufferBytes };

/** A mock upstream the inspector may break and heal (demo mode). */
export interface DemoTarget {
  name: string;
  break(): void;
  heal(): void;
}

// Query strings arrive as text and the server's schemas do not coerce: numbers are validated as digits.
const conversationsQuery = {
  type: 'object',
  properties: {
    q: { type: 'string', maxLength: 200 },
    offset: { type: 'string', pattern: '^[0-9]{1,7}$' },
    limit: { type: 'string', pattern: '^(100|[1-9][0-9]?)$' },
  },
} as const;

// Any name and action reach the handler, which answers 404 for what it does not know.
const demoParams = {
  type: 'object',
  required: ['name', 'action'],
  properties: { name: { type: 'string' }, action: { type: 'string' } },
} as const;

interface ConversationsQuery {
  q?: string;
  offset?: string;
  limit?: string;
}

/** One page of the live conversation actors whose id contains `q`, oldest first. */
function conversationsOf(runtime: Runtime, query: ConversationsQuery) {
  const needle = (query.q ?? '').toLowerCase();
  const offset = Number(query.offset ?? 0);
  const limit = Number(query.limit ?? 20);
  const live = runtime.conversations.list();
  const matching = live.filter((c) => c.id.toLowerCase().includes(needle));
  const items = matching.slice(offset, offset + limit).map(({ id, state, queued, messages, summary }) => ({
    id,
    state,
    queued,
    messages: messages.length,
    tokens: messages.filter((m) => m.status === 'done').reduce((n, m) => n + m.tokens, 0) + (summary?.tokens ?? 0),
  }));
  return { active: live.length, total: matching.length, offset, items };
}

let diagrams: Promise<Record<MachineName, Diagram>> | undefined;

/** The machines never change while the process runs: lay them out once, on first use. */
function allDiagrams(): Promise<Record<MachineName, Diagram>> {
  diagrams ??= (async () => {
    const [{ allCharts }, { layoutChart }] = await Promise.all([
      import('../../inspection/charts.ts'),
      import('../../inspection/layout.ts'),
    ]);
    const charts = allCharts();
    const [provider, supervisor, conversation, rollout] = await Promise.all(
      [charts.provider, charts.supervisor, charts.conversation, charts.rollout].map(layoutChart),
    );
    if (!provider || !supervisor || !conversation || !rollout) throw new Error('a machine has no diagram');
    return { provider, supervisor, conversation, rollout };
  })();
  return diagrams;
}

export function inspectRoutes(runtime: Runtime, demo: DemoTarget[] = [], limits: InspectorLimits = inspectorDefaults) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    const feed = createInspectorFeed(runtime, limits);
    app.addHook('preClose', async () => feed.close());
    app.get('/inspect', async (_request, reply) => reply.type('text/html; charset=utf-8').send(await inspectorPage()));
    app.get('/inspect/machines', async () => allDiagrams());
    app.get('/inspect/state', async () => stateOf(runtime));
    app.get('/inspect/conversations', { schema: { querystring: conversationsQuery } }, async (request) =>
      conversationsOf(runtime, request.query),
    );
    app.get('/inspect/demo', async () => ({ targets: demo.map((d) => d.name) }));
    app.post('/inspect/demo/:name/:action', { schema: { params: demoParams } }, async (request) => {
      const { name, action } = request.params;
      const target = demo.find((d) => d.name === name);
      if (!target || (action !== 'break' && action !== 'heal')) {
        throw new SwitchyardError('provider_not_found', `no demo target "${name}" with action "${action}"`);
      }
      if (action === 'break') target.break();
      else target.heal();
      return { name, action };
    });

    app.get('/inspect/events', async (_request, reply) => feed.serve(reply));
  };
}
