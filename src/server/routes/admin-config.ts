// The live config: GET /admin/config (the config in use, secrets masked; its version in
// `x-switchyard-config-version`) and PUT /admin/config (a whole new config, checked first and applied live, or
// 400 invalid_config naming the field with nothing changed). Admin keys only (src/server/auth.ts: every route
// not listed there is the admins'); the body's size and depth are bounded like every body.

import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { FastifyInstance } from 'fastify';
import { maskSecrets } from '../../config/print.ts';
import { configSchema } from '../../config/schema.ts';
import { unmaskSecrets } from '../../reload/unmask.ts';
import type { Runtime } from '../../runtime.ts';

export function adminConfigRoutes(runtime: Runtime) {
  return async (fastify: FastifyInstance) => {
    const app = fastify.withTypeProvider<JsonSchemaToTsProvider>();
    app.get('/admin/config', async (_request, reply) =>
      reply.header('x-switchyard-config-version', String(runtime.configStatus().version)).send(maskSecrets(runtime.config(), configSchema)),
    );
    app.put('/admin/config', { schema: { body: { type: 'object' } } }, async (request) => {
      const result = await runtime.reload(unmaskSecrets(request.body, runtime.config()), { source: 'api' });
      return {
        version: result.version,
        deployments: result.deployments,
        experiments: result.experiments,
        rollouts: result.rollouts,
        restartRequired: result.restartRequired,
        ...(result.shared === undefined ? {} : { shared: result.shared }),
      };
    });
  };
}
