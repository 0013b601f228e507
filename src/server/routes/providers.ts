// Deployments and health: GET /v1/providers, operator enable/disable, /healthz (alive), /readyz (every
// logical model has a deployment that is not recovering, the conversation store can write, and the server is not
// draining for a shutdown), and /metrics.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../../runtime.ts';
import { isDraining } from '../drain.ts';
import type { Metrics } from '../metrics.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256 } } } as const;

export function providerRoutes(runtime: Runtime, metrics: Metrics | undefined) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get('/v1/providers', async () => {
      const cluster = runtime.cluster();
      return { data: runtime.providers(), config: runtime.configStatus(), ...(cluster ? { cluster } : {}) };
    });

    // Deployment ids contain a slash (`provider/model`): the id is URL-encoded in the path.
    app.post('/v1/providers/:id/disable', { schema: { params: idParams } }, async (request) => {
      const { id } = request.params;
      runtime.disable(id);
      return runtime.providers().find((p) => p.id === id);
    });
    app.post('/v1/providers/:id/enable', { schema: { params: idParams } }, async (request) => {
      const { id } = request.params;
      runtime.enable(id);
      return runtime.providers().find((p) => p.id === id);
    });

    app.get('/healthz', async () => ({ status: 'ok' }));

    app.get('/readyz', async (_request, reply) => {
      // Draining for a shutdown: the load balancer should send elsewhere, though requests are still served.
      if (isDraining(fastify.server)) return reply.code(503).send({ status: 'draining' });
      const providers = runtime.providers();
      // A split model (an experiment's, a rollout's) has no deployments of its own: its arms' models are checked.
      const notReady = runtime.models().filter((model) => {
        const own = providers.filter((p) => p.logicalModels.includes(model));
        return own.length > 0 && !own.some((p) => p.health === 'healthy' || p.health === 'degraded');
      });
      // A store that cannot write would lose turns: not ready until a write succeeds again.
      const store = await runtime.storeStatus();
      const ready = notReady.length === 0 && store.writable;
      const body = { status: ready ? 'ready' : 'not_ready', notReady, store: store.writable ? 'ok' : 'unavailable' };
      return reply.code(ready ? 200 : 503).send(body);
    });

    if (metrics) {
      app.get('/metrics', async (_request, reply) =>
        reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
      );
    }
  };
}
