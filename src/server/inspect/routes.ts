// The inspector: GET /inspect (a self-contained page), /inspect/machines (every statechart laid out as a
// diagram, once), /inspect/state, /inspect/conversations (searched and paged), and /inspect/events (SSE: state
// changes as they happen, deployments and decisions once a second). Each is a plain route, so an access
// check can wrap them. In demo mode, POST /inspect/demo/:name/break|heal switches a mock upstream's faults.

import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../../errors.ts';
import { allCharts, type MachineName } from '../../inspection/charts.ts';
import type { InspectionRecord } from '../../inspection/events.ts';
import { type Diagram, layoutChart } from '../../inspection/layout.ts';
import type { Runtime } from '../../runtime.ts';
import { inspectorPage } from './page.ts';

/** A mock upstream the inspector may break and heal (demo mode). */
export interface DemoTarget {
  name: string;
  break(): void;
  heal(): void;
}

const statsEveryMs = 1000;

function stateOf(runtime: Runtime) {
  return { now: Date.now(), providers: runtime.providers(), decisions: runtime.decisions().slice(-48) };
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
    const charts = allCharts();
    const [provider, supervisor, conversation] = await Promise.all(
      [charts.provider, charts.supervisor, charts.conversation].map(layoutChart),
    );
    if (!provider || !supervisor || !conversation) throw new Error('a machine has no diagram');
    return { provider, supervisor, conversation };
  })();
  return diagrams;
}

export function inspectRoutes(runtime: Runtime, demo: DemoTarget[] = []) {
  return async (app: FastifyInstance) => {
    app.get('/inspect', async (_request, reply) => reply.type('text/html; charset=utf-8').send(inspectorPage()));
    app.get('/inspect/machines', async () => allDiagrams());
    app.get('/inspect/state', async () => stateOf(runtime));
    app.get('/inspect/conversations', { schema: { querystring: conversationsQuery } }, async (request) =>
      conversationsOf(runtime, request.query as ConversationsQuery),
    );
    app.get('/inspect/demo', async () => ({ targets: demo.map((d) => d.name) }));
    app.post('/inspect/demo/:name/:action', async (request) => {
      const { name, action } = request.params as { name: string; action: string };
      const target = demo.find((d) => d.name === name);
      if (!target || (action !== 'break' && action !== 'heal')) {
        throw new SwitchyardError('provider_not_found', `no demo target "${name}" with action "${action}"`);
      }
      if (action === 'break') target.break();
      else target.heal();
      return { name, action };
    });

    app.get('/inspect/events', (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('hello', stateOf(runtime));
      const unsubscribe = runtime.subscribe((record: InspectionRecord) => send('transition', record));
      const timer = setInterval(() => send('stats', stateOf(runtime)), statsEveryMs);
      request.raw.on('close', () => {
        clearInterval(timer);
        unsubscribe();
      });
    });
  };
}
