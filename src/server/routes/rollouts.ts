// Experiments and rollouts (admin): GET /v1/experiments, /v1/experiments/{id}, /v1/rollouts, /v1/rollouts/{id},
// and POST /v1/rollouts/{id}/pause|resume|promote|abort. The routes translate; the rollout actor decides. Also
// the subject of a chat request (tenant, headers), which sticky arms are assigned by.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Subject } from '../../rollout/hash.ts';
import type { Runtime } from '../../runtime.ts';

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

const commandParams = {
  type: 'object',
  required: ['id', 'command'],
  properties: { id: idParams.properties.id, command: { enum: ['pause', 'resume', 'promote', 'abort'] } },
} as const;

/** Who a chat request is, for sticky arms: its key's tenant and its headers (read only for a `header:` split). */
export function subjectOf(request: FastifyRequest): Subject {
  return {
    tenant: request.principal?.tenant,
    header: (name) => {
      const value = request.headers[name];
      return typeof value === 'string' ? value : undefined;
    },
  };
}

export function rolloutRoutes(runtime: Runtime) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get('/v1/experiments', async () => ({ object: 'list', data: runtime.experiments() }));
    app.get('/v1/experiments/:id', { schema: { params: idParams } }, async (request) => runtime.experiment(request.params.id));
    app.get('/v1/rollouts', async () => ({ object: 'list', data: runtime.rollouts() }));
    app.get('/v1/rollouts/:id', { schema: { params: idParams } }, async (request) => runtime.rollout(request.params.id));
    app.post('/v1/rollouts/:id/:command', { schema: { params: commandParams } }, async (request) =>
      runtime.rolloutCommand(request.params.id, request.params.command),
    );
  };
}
