// The HTTP layer: a fastify app over a runtime. Thin: it validates input, calls the runtime, and maps typed
// errors to statuses and OpenAI error bodies; nothing here decides routing or health.

import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { SwitchyardError } from '../errors.ts';
import { type LimitsConfig, limitDefaults } from '../limits.ts';
import type { Runtime } from '../runtime.ts';
import type { Timers } from '../timers.ts';
import { type ApiKeyConfig, authenticator, bearerAuth, decoratePrincipal, keyTable, redactUrl } from './auth.ts';
import { trackConnections } from './connections.ts';
import { createDrain, registerDrainMetrics } from './drain.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { type DemoTarget, inspectRoutes } from './inspect/routes.ts';
import { strictJson } from './json.ts';
import { keylessGuard } from './loopback.ts';
import { createMetrics } from './metrics.ts';
import { adminConfigRoutes } from './routes/admin-config.ts';
import { chatRoutes } from './routes/chat.ts';
import { conversationRoutes } from './routes/conversations.ts';
import { embeddingRoutes } from './routes/embeddings.ts';
import { openaiConversationRoutes } from './routes/openai-conversations.ts';
import { providerRoutes } from './routes/providers.ts';
import { responsesRoutes } from './routes/responses.ts';
import { rolloutRoutes } from './routes/rollouts.ts';
import { configureSse } from './sse.ts';

export type { Principal } from './auth.ts';

export interface ServerOptions {
  /** User keys, each its own tenant; default SWITCHYARD_API_KEYS. With no keys at all, the server binds to loopback only. */
  apiKeys?: string[];
  /** Admin keys, each its own tenant; default SWITCHYARD_ADMIN_KEYS. */
  adminKeys?: string[];
  /** Keys with their tenant and role (the config's `auth.keys`). */
  keys?: ApiKeyConfig[];
  /** Largest request body in bytes (default 4 MiB); larger ones get 413. */
  bodyLimit?: number;
  /** pino logger options, or false for none. Authorization is always redacted; bodies are never logged unless logPrompts. */
  logger?: boolean | { level?: string; stream?: { write(line: string): void } };
  /** Log request bodies (prompts) at debug level. Off by default. */
  logPrompts?: boolean;
  /** Serve /metrics (default true). */
  metrics?: boolean;
  /** Serve the inspector at /inspect (default true). */
  inspector?: boolean;
  /** Mock upstreams the inspector may break and heal (the demo). */
  demo?: DemoTarget[];
  /** Limits on what a client may make the server hold (src/limits.ts; the config's `limits` section). */
  limits?: Partial<LimitsConfig>;
}

export const serverDefaults = { bodyLimit: 4 * 1024 * 1024 } as const;

/** For an app that mounts switchyardPlugin itself: end its open streams with an error event before closing it. */
export { endOpenStreams } from './sse.ts';

export interface PluginOptions {
  runtime: Runtime;
  /** Serve the inspector at /inspect (default true); `demo` adds break/heal buttons for mock upstreams. */
  inspector?: boolean;
  demo?: DemoTarget[];
  /** Serve /metrics (default true). */
  metrics?: boolean;
  /** User keys for these routes, each its own tenant; with no keys at all, no authentication. */
  apiKeys?: string[];
  /** Admin keys, each its own tenant. */
  adminKeys?: string[];
  /** Keys with their tenant and role. */
  keys?: ApiKeyConfig[];
  logPrompts?: boolean;
  limits?: Partial<LimitsConfig>;
}

/**
 * Switchyard's routes as a fastify plugin, for an existing app:
 * `app.register(switchyardPlugin, { runtime, prefix: '/llm' })`. Its JSON parsing, errors and auth stay inside it.
 */
export async function switchyardPlugin(app: FastifyInstance, options: PluginOptions) {
  const { runtime } = options;
  const limits = { ...limitDefaults, ...options.limits };
  strictJson(app, { maxDepth: limits.maxJsonDepth });
  configureSse(app.server, { bufferBytes: limits.sseBufferBytes, stallMs: limits.sseStallMs });
  // Before the server listens: every connection is known to the drain and to the client-gone signal of
  // non-streamed requests (connections.ts), which then add nothing per request.
  trackConnections(app.server);
  app.setErrorHandler(errorHandler);
  // The plugin reads no environment: its keys are what the embedding app passes.
  const keys = keyTable({ apiKeys: options.apiKeys ?? [], adminKeys: options.adminKeys ?? [], keys: options.keys }, {});
  decoratePrincipal(app);
  if (keys.length > 0) bearerAuth(app, keys);
  if (options.logPrompts) app.addHook('preHandler', async (request) => request.log.debug({ body: request.body }, 'request body'));
  const metrics = options.metrics === false ? undefined : createMetrics(runtime);
  if (metrics) registerDrainMetrics(metrics.registry, app.server);
  await app.register(chatRoutes(runtime, metrics));
  await app.register(embeddingRoutes(runtime, metrics));
  await app.register(responsesRoutes(runtime, metrics));
  await app.register(openaiConversationRoutes(runtime));
  await app.register(conversationRoutes(runtime, metrics));
  await app.register(providerRoutes(runtime, metrics));
  await app.register(rolloutRoutes(runtime));
  await app.register(adminConfigRoutes(runtime));
  if (options.inspector !== false)
    await app.register(
      inspectRoutes(runtime, options.demo, { clients: limits.inspectorClients, bufferBytes: limits.inspectorBufferBytes }),
    );
}

/** Builds the fastify app for `runtime`; call listen() yourself, or use startServer(). */
export function buildServer(runtime: Runtime, options: ServerOptions = {}): FastifyInstance {
  const logger =
    options.logger === undefined || options.logger === false
      ? false
      : {
          ...(typeof options.logger === 'object' ? options.logger : {}),
          redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]'], censor: '[redacted]' },
          // The inspector's ?key= is in the URL: every logged URL goes through redactUrl.
          serializers: {
            req: (request: FastifyRequest) => ({
              method: request.method,
              url: redactUrl(request.url),
              host: request.host,
              remoteAddress: request.ip,
              remotePort: request.socket?.remotePort,
            }),
          },
        };
  const limits = { ...limitDefaults, ...options.limits };
  // A client that trickles its headers or body (slowloris) is answered 408 and closed. Node checks these
  // timeouts only every connectionsCheckingInterval (30 s by default): check often enough for them to bite.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.bodyTimeoutMs);
  const app = Fastify({
    logger,
    bodyLimit: options.bodyLimit ?? serverDefaults.bodyLimit,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // A request that still reaches a connection open while the server drains (a balancer reused it as its last
    // answer ended) is answered, with Connection: close, rather than refused with a 503 that a balancer may not
    // retry for a POST; the drain time bounds how long (drain.ts).
    return503OnClosing: false,
    requestTimeout: limits.bodyTimeoutMs,
    // Ids are bounded by the routes' schemas (400 in OpenAI's shape); the router's own limit sits above them, and
    // what it and the URL parser refuse is answered in the same shape, never with fastify's own body.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors: errorHandler,
    http: {
      requestTimeout: limits.bodyTimeoutMs,
      headersTimeout,
      connectionsCheckingInterval: Math.min(1000, Math.ceil(headersTimeout / 4)),
    },
  });
  // Outside the plugin too: unknown routes and bodies that are not JSON get the same error shape.
  strictJson(app, { maxDepth: limits.maxJsonDepth });
  app.setErrorHandler(errorHandler);
  const keys = keyTable(options);
  decoratePrincipal(app);
  // With keys, an unknown path needs one too: an unauthenticated caller learns nothing of the route table.
  if (keys.length > 0) app.setNotFoundHandler({ preValidation: authenticator(keys) }, notFoundHandler);
  else {
    app.setNotFoundHandler(notFoundHandler);
    keylessGuard(app);
  }
  app.register(switchyardPlugin, {
    runtime,
    keys,
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(options.logPrompts === undefined ? {} : { logPrompts: options.logPrompts }),
    ...(options.inspector === undefined ? {} : { inspector: options.inspector }),
    ...(options.demo === undefined ? {} : { demo: options.demo }),
    limits,
  });
  return app;
}

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

export interface StartOptions extends ServerOptions {
  port: number;
  host: string;
  /** On shutdown, how long to report not-ready (/readyz 503) while still serving, in ms (default 0). */
  drainDelayMs?: number;
  /** Then, how long in-flight requests and streams may take to finish, in ms (default 10000). */
  drainTimeoutMs?: number;
  /** The former name of drainTimeoutMs. */
  drainMs?: number;
  /** The clock of the drain's waits (a SimulatedClock in tests); real timers by default. */
  drainClock?: Timers;
}

/** Builds and starts the server. Refuses to bind beyond loopback without API keys. */
export async function startServer(runtime: Runtime, options: StartOptions) {
  const keys = keyTable(options);
  if (keys.length === 0 && !loopback.has(options.host)) {
    throw new SwitchyardError(
      'invalid_config',
      `refusing to listen on ${options.host} without API keys: set SWITCHYARD_API_KEYS or bind to 127.0.0.1`,
      { param: 'host' },
    );
  }
  const app = buildServer(runtime, { ...options, apiKeys: [], adminKeys: [], keys });
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  // Finds the responses in flight when a drain begins through the connections tracked since the plugin registered.
  const drain = createDrain(app, {
    delayMs: options.drainDelayMs ?? 0,
    timeoutMs: options.drainTimeoutMs ?? options.drainMs ?? 10_000,
    clock: options.drainClock,
    inspect: runtime.inspect,
  });
  let stopped: Promise<void> | undefined;
  return {
    app,
    url: `http://${host}:${port}`,
    authenticated: keys.length > 0,
    /**
     * Drains and stops (docs/operations.md, "Rolling restarts"): /readyz answers 503 for drainDelayMs while
     * requests are still served, then no new connection is accepted while in-flight requests and streams finish
     * for up to drainTimeoutMs (or `drainTimeoutMs` given here); streams still open then end with a
     * `shutting_down` error event. The runtime stops last. A further call skips the rest of the current wait.
     */
    shutdown(drainTimeoutMs?: number): Promise<void> {
      const drained = drain.signal(drainTimeoutMs);
      stopped ??= drained.then(() => runtime.stop());
      return stopped;
    },
  };
}
