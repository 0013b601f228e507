// The `switchyard` command: `mock` runs the chaos-testing upstream, `demo` (npm start) shows a provider
// actor riding out an outage of that upstream, `serve` runs the gateway from a config file, `config check` and
// `config print` read a config file without starting anything, `migrate` applies a Postgres store's migrations.

// First, for its effect: it limits the young generation while the modules below load.
import './startup-heap.ts';
import { parseArgs } from 'node:util';
import { SwitchyardError } from './errors.ts';
import type { ContinuationMode } from './mock/reply.ts';
import { startupDone } from './startup-heap.ts';

// Every module beyond these is loaded by the command that uses it: `config check` (a CI step) loads neither
// the runtime, the server nor the mock, and the modules load after startup-heap.ts has taken effect (a static
// import is compiled before any module body runs, that one's included).

const help = `switchyard — a resilient actor-model runtime for LLM providers

Usage:
  switchyard serve --config F [options]   run the gateway: OpenAI-compatible /v1/chat/completions and more
  switchyard config check F…  check config files (exit 1 listing every error with its path)
  switchyard config print F   the config as it will run: defaults applied, \${VAR} resolved, secrets masked
  switchyard migrate --store postgres://…   apply the Postgres store's schema migrations and exit
  switchyard mock [options]   run the OpenAI-compatible mock upstream with fault injection
  switchyard demo [options]   the gateway over three mock upstreams; the primary breaks live (npm start)
  switchyard --help           this text

Getting started:
  examples/config/switchyard.yaml is a commented config (also in JSON) that runs against the mock upstream
  without any key; it is in the repository and in the package (node_modules/switchyard/examples/config/):
    switchyard mock &
    switchyard serve --config examples/config/switchyard.yaml --store memory
  Every config option, its default and unit: docs/configuration.md (also in the package).

serve options:
  --config F            the config, YAML (.yaml/.yml) or JSON (see docs/configuration.md and
                        switchyard.schema.json); \${VAR} and \${VAR:-default} read the environment
  --port N              port (default $PORT or 8787)
  --host H              address (default $HOST or 127.0.0.1; beyond loopback needs API keys)
  --store S             conversation store: sqlite:<path> (default sqlite:./switchyard.db), memory, or
                        postgres://user:pass@host/db shared by instances (add ?migrate=false to leave
                        migrations to switchyard migrate; docs/conversations-postgres.md)
  --drain-delay-ms N    on SIGTERM/SIGINT, how long /readyz answers 503 while requests are still served, so a
                        load balancer stops sending first (default: the config's server.drainDelayMs, 0)
  --drain-timeout-ms N  then, how long in-flight requests and streams may finish before the rest end with an
                        error event (default: server.drainTimeoutMs, 10000; --drain-ms is the same)
                        A second signal skips the rest of the delay, a third the rest of the timeout.
  --watch               reload the config when its file changes (SIGHUP always reloads it; docs/configuration.md)
  --redis URL           join the cluster of instances sharing this Redis (redis://host:port; also
                        SWITCHYARD_REDIS_URL or the config's cluster.redis): shared health, probes, budgets
  --stately URL         also stream every actor to a Stately inspector at URL (ws://…; payloads redacted), e.g.
                        the bridge of @statelyai/inspect/server: ws://127.0.0.1:8080
  API keys: SWITCHYARD_API_KEYS (users), SWITCHYARD_ADMIN_KEYS (admins), comma-separated, or the config's
  auth.keys with tenants and roles (docs/security.md)

mock options:
  --port N              port to listen on (default 8000; 0 picks a free one)
  --host H              address to bind (default 127.0.0.1)
  --latency-ms N        delay before the first byte of every answer (default 0)
  --chunk-delay-ms N    delay between stream chunks (default 0)
  --context-window N    prompts longer than N tokens get context_length_exceeded (default 128000)
  --api-key K           require "Authorization: Bearer K"
  --continuation M      how a request to continue a cut answer is met: exact | overlap | restart (default exact)

demo options:
  --port N              port of the gateway (default $PORT or 8787)
  --host H              address to bind (default $HOST or 127.0.0.1)
  --store S             conversation store (default sqlite:./switchyard.db)
  --once                run the outage scenario once and exit instead of serving on
  With OPENAI_API_KEY set, OpenAI (gpt-4o-mini) serves "chat" first and the mocks are its fallbacks.

Faults are switched at run time:
  curl -X POST http://127.0.0.1:8000/_mock/faults -d '{"mode":"error","status":503,"rate":0.5}'
  modes: ok | error | hang | reset | cut
  fields: status, rate, retryAfterSeconds, afterChunks, latencyMs, continuation
  curl http://127.0.0.1:8000/_mock/stats     curl -X DELETE http://127.0.0.1:8000/_mock/faults
`;

function integer(name: string, value: string | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new SwitchyardError('invalid_config', `--${name}: expected an integer ≥ ${min}, got "${value}"`, { param: name });
  }
  return n;
}

function continuationMode(value: string | undefined): ContinuationMode {
  if (value === undefined) return 'exact';
  if (value === 'exact' || value === 'overlap' || value === 'restart') return value;
  throw new SwitchyardError('invalid_config', `--continuation: expected exact, overlap or restart, got "${value}"`, {
    param: 'continuation',
  });
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string' },
      host: { type: 'string' },
      'latency-ms': { type: 'string' },
      'chunk-delay-ms': { type: 'string' },
      'context-window': { type: 'string' },
      'api-key': { type: 'string' },
      continuation: { type: 'string' },
      stately: { type: 'string' },
      once: { type: 'boolean' },
      config: { type: 'string' },
      store: { type: 'string' },
      'drain-ms': { type: 'string' },
      'drain-delay-ms': { type: 'string' },
      'drain-timeout-ms': { type: 'string' },
      redis: { type: 'string' },
      watch: { type: 'boolean' },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(help);
    return;
  }
  if (command === 'mock') {
    const { startMockUpstream } = await import('./mock/server.ts');
    const mock = await startMockUpstream({
      port: integer('port', values.port, 8000),
      host: values.host ?? '127.0.0.1',
      latencyMs: integer('latency-ms', values['latency-ms'], 0),
      chunkDelayMs: integer('chunk-delay-ms', values['chunk-delay-ms'], 0),
      contextWindow: integer('context-window', values['context-window'], 128_000, 1),
      ...(values['api-key'] === undefined ? {} : { apiKey: values['api-key'] }),
      continuation: continuationMode(values.continuation),
    });
    console.log(`switchyard mock upstream listening: ${mock.url}`);
    console.log(`faults: POST ${mock.url.replace(/\/v1$/, '')}/_mock/faults   stats: GET ${mock.url.replace(/\/v1$/, '')}/_mock/stats`);
    const stop = () => void mock.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  if (command === 'config') {
    const { configCommand } = await import('./config/command.ts');
    process.exitCode = configCommand(positionals.slice(1), {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
    });
    return;
  }
  if (command === 'serve') {
    if (values.config === undefined)
      throw new SwitchyardError('invalid_config', '--config: a config file is required (see --help)', { param: 'config' });
    const { loadConfigFile } = await import('./config.ts');
    const loaded = loadConfigFile(values.config);
    const config = values.redis === undefined ? loaded : { ...loaded, cluster: { ...loaded.cluster, redis: values.redis } };
    const [{ createRuntime }, { startServer }] = await Promise.all([import('./runtime.ts'), import('./server/index.ts')]);
    const runtime = createRuntime(config, {
      store: values.store ?? config.conversations?.store ?? 'sqlite:./switchyard.db',
      ...(values.stately === undefined ? {} : { stately: { url: values.stately } }),
    });
    const server = await startServer(runtime, {
      port: integer('port', values.port ?? process.env.PORT, 8787),
      host: values.host ?? process.env.HOST ?? '127.0.0.1',
      drainDelayMs: integer('drain-delay-ms', values['drain-delay-ms'], config.server.drainDelayMs),
      drainTimeoutMs:
        values['drain-timeout-ms'] === undefined
          ? integer('drain-ms', values['drain-ms'], config.server.drainTimeoutMs)
          : integer('drain-timeout-ms', values['drain-timeout-ms'], config.server.drainTimeoutMs),
      keys: config.auth.keys,
      logger: { level: process.env.LOG_LEVEL ?? 'info' },
      limits: config.limits,
    }).catch(async (err: unknown) => {
      await runtime.stop();
      throw err;
    });
    (await import('./reload/cli.ts')).reloadFromFile(runtime, values.config, { watch: values.watch === true });
    console.log(`switchyard listening: ${server.url}/v1/chat/completions (models: ${runtime.models().join(', ')})`);
    if (!server.authenticated) console.log('no API keys configured: bound to loopback only; set SWITCHYARD_API_KEYS to require keys');
    // Each signal moves the drain on: the first starts it, the next skip the rest of its delay, then of its timeout.
    const stop = () => {
      void server.shutdown().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }
  if (command === 'migrate') {
    const { migrateCommand } = await import('./stores/migrate-command.ts');
    await migrateCommand(values.store, (line) => console.log(line));
    return;
  }
  if (command === 'demo') {
    const { runDemo } = await import('./demo.ts');
    await runDemo({
      port: integer('port', values.port ?? process.env.PORT, 8787),
      host: values.host ?? process.env.HOST ?? '127.0.0.1',
      store: values.store ?? 'sqlite:./switchyard.db',
      once: values.once === true,
      openaiKey: process.env.OPENAI_API_KEY || undefined,
    });
    return;
  }
  throw new SwitchyardError('invalid_request', `unknown command "${command}" (try --help)`);
}

main(process.argv.slice(2)).then(startupDone, (err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`switchyard: ${message}`);
  process.exit(2);
});
