// The inspector: GET /inspect (a self-contained page), /inspect/machines (statecharts from the definitions),
// /inspect/state, and /inspect/events (SSE: state changes as they happen, aggregated counters once a second).
// In demo mode, POST /inspect/demo/:name/break|heal switches a mock upstream's faults.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../../errors.ts';
import { allCharts } from '../../inspection/charts.ts';
import type { InspectionRecord } from '../../inspection/events.ts';
import type { Runtime } from '../../runtime.ts';
import { inspectorPage } from './page.ts';

/** A mock upstream the inspector may break and heal (demo mode). */
export interface DemoTarget {
  name: string;
  break(): void;
  heal(): void;
}

const statsEveryMs = 1000;

// Any name and action reach the handler, which answers 404 for what it does not know.
const demoParams = {
  type: 'object',
  required: ['name', 'action'],
  properties: { name: { type: 'string' }, action: { type: 'string' } },
} as const;

function stateOf(runtime: Runtime) {
  return {
    providers: runtime.providers(),
    decisions: runtime.decisions().slice(-20),
    conversations: runtime.conversations.list().map(({ id, state, queued, messages, summary }) => ({
      id,
      state,
      queued,
      messages: messages.length,
      tokens: messages.filter((m) => m.status === 'done').reduce((n, m) => n + m.tokens, 0) + (summary?.tokens ?? 0),
    })),
  };
}

export function inspectRoutes(runtime: Runtime, demo: DemoTarget[] = []) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    const charts = allCharts();
    app.get('/inspect', async (_request, reply) => reply.type('text/html; charset=utf-8').send(inspectorPage()));
    app.get('/inspect/machines', async () => charts);
    app.get('/inspect/state', async () => stateOf(runtime));
    app.get('/inspect/demo', async () => ({ targets: demo.map((d) => d.name) }));
    app.post('/inspect/demo/:name/:action', { schema: { params: demoParams } }, async (request) => {
      const { name, action } = request.params;
      const target = demo.find((d) => d.name === name);
      if (!target || (action !== 'break' && action !== 'heal')) {
        throw new SwitchyardError('provider_not_found', `no demo target "${name}" with action "${action}"`, { status: 404 });
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
