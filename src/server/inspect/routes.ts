// The inspector: GET /inspect (a self-contained page), /inspect/machines (statecharts from the definitions),
// /inspect/state, and /inspect/events (SSE, src/server/inspect/events.ts: one snapshot, then state changes as they
// happen and what changed once a second).
// In demo mode, POST /inspect/demo/:name/break|heal switches a mock upstream's faults.

import type { FastifyInstance } from 'fastify';
import { SwitchyardError } from '../../errors.ts';
import { allCharts } from '../../inspection/charts.ts';
import { limitDefaults } from '../../limits.ts';
import type { Runtime } from '../../runtime.ts';
import { createInspectorFeed, type InspectorLimits, stateOf } from './events.ts';
import { inspectorPage } from './page.ts';

const inspectorDefaults: InspectorLimits = { clients: limitDefaults.inspectorClients, bufferBytes: limitDefaults.inspectorBufferBytes };

/** A mock upstream the inspector may break and heal (demo mode). */
export interface DemoTarget {
  name: string;
  break(): void;
  heal(): void;
}

export function inspectRoutes(runtime: Runtime, demo: DemoTarget[] = [], limits: InspectorLimits = inspectorDefaults) {
  return async (app: FastifyInstance) => {
    const charts = allCharts();
    const feed = createInspectorFeed(runtime, limits);
    app.addHook('preClose', async () => feed.close());
    app.get('/inspect', async (_request, reply) => reply.type('text/html; charset=utf-8').send(inspectorPage()));
    app.get('/inspect/machines', async () => charts);
    app.get('/inspect/state', async () => stateOf(runtime));
    app.get('/inspect/demo', async () => ({ targets: demo.map((d) => d.name) }));
    app.post('/inspect/demo/:name/:action', async (request) => {
      const { name, action } = request.params as { name: string; action: string };
      const target = demo.find((d) => d.name === name);
      if (!target || (action !== 'break' && action !== 'heal')) {
        throw new SwitchyardError('provider_not_found', `no demo target "${name}" with action "${action}"`, { status: 404 });
      }
      if (action === 'break') target.break();
      else target.heal();
      return { name, action };
    });

    app.get('/inspect/events', async (_request, reply) => feed.serve(reply));
  };
}
