// The main job behind `npm start`: the gateway on PORT/HOST (default 127.0.0.1:8787) serving the logical model
// `chat` from three in-process mock upstreams (one flaky), with a SQLite store. Unless OPENAI_API_KEY puts
// OpenAI in front, it then drives a short outage through the gateway with the openai SDK: the primary breaks,
// every request is still answered, and each deployment's state changes are printed.

import OpenAI from 'openai';
import type { SwitchyardConfigInput } from './config.ts';
import { narrateFailures, narrateHealth } from './demo-narrator.ts';
import { isSwitchyardError } from './errors.ts';
import { type MockUpstream, startMockUpstream } from './mock/server.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import { startServer } from './server/index.ts';

export interface DemoOptions {
  port: number;
  host: string;
  /** Conversation store spec: sqlite:<path> or memory. */
  store: string;
  /** Run the outage scenario once, then shut down. */
  once: boolean;
  /** Puts OpenAI in front of the mocks when set. */
  openaiKey?: string | undefined;
}

const tickMs = 200;
const outage = { startTick: 6, endTick: 22, lastTick: 40 };
const names = ['primary', 'backup', 'flaky'];

/** Starts the demo gateway; resolves when the scenario is over (and, unless `once`, leaves it serving). */
export async function runDemo(options: DemoOptions): Promise<void> {
  const mocks: MockUpstream[] = [
    await startMockUpstream({ latencyMs: 20, chunkDelayMs: 5 }),
    await startMockUpstream({ latencyMs: 40, chunkDelayMs: 5 }),
    await startMockUpstream({ latencyMs: 30, chunkDelayMs: 5, faults: { mode: 'error', status: 502, rate: 0.15 } }),
  ];
  const providers: SwitchyardConfigInput['providers'] = mocks.map((m, i) => ({
    id: names[i] as string,
    baseURL: m.url,
    models: { chat: 'mock-model' },
    timeoutMs: 2000,
  }));
  if (options.openaiKey) {
    providers.unshift({ id: 'openai', baseURL: 'https://api.openai.com/v1', apiKey: options.openaiKey, models: { chat: 'gpt-4o-mini' } });
  }
  const runtime = createRuntime(
    {
      providers,
      routing: { strategy: 'priority', maxAttempts: 3, deadlineMs: 30_000 },
      // A short window, and an open threshold below the degraded one, so an outage trips the circuit within a
      // few requests and the whole cycle shows in seconds.
      health: {
        windowMs: 3000,
        minVolume: 3,
        degradedErrorRate: 0.6,
        openErrorRate: 0.5,
        probeIdleMs: 300,
        backoff: { initialMs: 500, maxMs: 2000 },
      },
    },
    { store: options.store },
  );
  const demo = mocks.map((m, i) => ({
    name: names[i] as string,
    break: () => m.setFaults({ mode: 'error', status: 503 }),
    heal: () => m.heal(),
  }));
  const server = await startServer(runtime, { port: options.port, host: options.host, apiKeys: [], demo });
  const closeAll = async () => {
    await server.shutdown(2000);
    await Promise.all(mocks.map((m) => m.close()));
  };
  console.log(`Switchyard is serving the logical model "chat" at ${server.url}/v1/chat/completions`);
  console.log(
    options.openaiKey
      ? '  from OpenAI (gpt-4o-mini), with three mock upstreams as fallbacks'
      : '  from three mock upstreams (no API key needed):',
  );
  for (const [i, m] of mocks.entries()) console.log(`    ${names[i]}: ${m.url}${i === 2 ? ' (fails 15% of requests)' : ''}`);
  console.log(`  inspector: ${server.url}/inspect   (watch the actors; break and heal the mocks)`);
  console.log(`  providers: ${server.url}/v1/providers   health: ${server.url}/readyz   metrics: ${server.url}/metrics`);
  console.log(`  try: curl ${server.url}/v1/chat/completions -H 'content-type: application/json' \\`);
  console.log(`         -d '{"model":"chat","messages":[{"role":"user","content":"hi"}]}'\n`);

  // Every health change of every deployment as it happens, for as long as the demo runs.
  const stopHealth = narrateHealth(runtime, console.log);
  if (!options.openaiKey) await outageScenario(server.url, runtime, mocks);
  if (options.once) {
    stopHealth();
    await closeAll();
    return;
  }
  const stopFailures = narrateFailures(runtime, console.log);
  const mockRoot = mocks[0]?.url.replace(/\/v1$/, '');
  console.log('\nStill serving, and printing every state change and every failed or failed-over request. Break a mock yourself:');
  console.log(`  curl -X POST ${mockRoot}/_mock/faults -d '{"mode":"error","status":429,"retryAfterSeconds":2}'`);
  console.log(`  then send requests (the curl above), and heal it: curl -X DELETE ${mockRoot}/_mock/faults`);
  console.log('Stop with Ctrl-C.');
  const stop = () => {
    stopHealth();
    stopFailures();
    void closeAll().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Sends a trickle of requests and streams through the gateway while the primary mock is down for a while. */
async function outageScenario(url: string, runtime: Runtime, mocks: MockUpstream[]) {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'demo', maxRetries: 0 });
  const servedBy = new Map<string, number>();
  let failed = 0;
  for (let tick = 0; tick < outage.lastTick; tick++) {
    if (tick === outage.startTick) {
      console.log('  ! primary starts answering 503');
      mocks[0]?.setFaults({ mode: 'error', status: 503 });
    }
    if (tick === outage.endTick) {
      console.log('  ! primary heals');
      mocks[0]?.heal();
    }
    const messages = [{ role: 'user' as const, content: `request ${tick}` }];
    try {
      let by = '';
      if (tick % 2 === 0) {
        const { response } = await client.chat.completions.create({ model: 'chat', messages }).withResponse();
        by = response.headers.get('x-switchyard-deployment') ?? '';
      } else {
        const stream = await client.chat.completions.create({ model: 'chat', messages, stream: true });
        for await (const chunk of stream) {
          const route = (chunk as { switchyard?: { deployments: string[] } }).switchyard;
          if (route) by = route.deployments.join(' + ');
        }
      }
      const name = by.replaceAll('/mock-model', '');
      servedBy.set(name, (servedBy.get(name) ?? 0) + 1);
    } catch (err) {
      failed++;
      console.log(`  request ${tick} failed: ${isSwitchyardError(err) ? err.code : String(err)}`);
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  const served = [...servedBy].map(([by, n]) => `${by}: ${n}`).join(', ');
  console.log(`\n${outage.lastTick} requests through the gateway, ${outage.lastTick - failed} answered, ${failed} failed.`);
  console.log(`Served by ${served}.`);
  console.log(`The primary upstream received ${mocks[0]?.stats().requests} requests in all, probes and failed attempts included.`);
  console.log(
    `Final states: ${runtime
      .providers()
      .map((p) => `${p.provider} ${p.health}`)
      .join(', ')}.`,
  );
}
