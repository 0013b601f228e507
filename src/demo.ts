// The demo behind `npm start`: a mock upstream and one provider actor in front of it. It sends a steady
// trickle of requests, breaks the upstream for a few seconds, and prints every state the actor goes through.

import { createProvider } from './actors/provider.ts';
import { isSwitchyardError } from './errors.ts';
import { startMockUpstream } from './mock/server.ts';

export interface DemoOptions {
  port: number;
  host: string;
  /** Run the outage scenario once, then exit. */
  once: boolean;
}

const tickMs = 250;
const outage = { startTick: 8, endTick: 24, lastTick: 44 };

/** Runs the demo; resolves when the scenario is over (and, unless `once`, leaves the mock serving). */
export async function runDemo(options: DemoOptions): Promise<void> {
  const mock = await startMockUpstream({ port: options.port, host: options.host, latencyMs: 20, chunkDelayMs: 15 });
  const provider = createProvider({
    id: 'mock-1',
    baseURL: mock.url,
    model: 'mock-model',
    timeoutMs: 2000,
    health: { minVolume: 3, probeIdleMs: 300, backoff: { initialMs: 500, maxMs: 4000 } },
  });
  const base = mock.url.replace(/\/v1$/, '');
  console.log(`Switchyard demo: mock upstream at ${mock.url}, provider actor "mock-1" in front of it.\n`);
  let last = '';
  provider.actor.subscribe((snapshot) => {
    const state = JSON.stringify(snapshot.value);
    if (state === last) return;
    last = state;
    const { attempt, backoffDelayMs } = snapshot.context;
    const cooling = snapshot.matches({ recovering: 'coolingDown' });
    const detail = cooling ? ` (attempt ${attempt}, next probe in ${backoffDelayMs} ms)` : '';
    console.log(`  state → ${state}${detail}`);
  });
  let ok = 0;
  let refused = 0;
  let failed = 0;
  for (let tick = 0; tick < outage.lastTick; tick++) {
    if (tick === outage.startTick) {
      console.log('  ! the upstream starts answering 503');
      mock.setFaults({ mode: 'error', status: 503 });
    }
    if (tick === outage.endTick) {
      console.log('  ! the upstream heals');
      mock.heal();
    }
    try {
      await provider.complete({ messages: [{ role: 'user', content: `request ${tick}` }] });
      ok++;
    } catch (err) {
      if (isSwitchyardError(err, 'provider_circuit_open')) refused++;
      else failed++;
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  const stats = mock.stats();
  console.log(
    `\n${outage.lastTick} requests: ${ok} answered, ${failed} failed upstream, ${refused} refused by the open circuit ` +
      `without reaching the upstream (it saw ${stats.requests}).`,
  );
  console.log(`Final state: ${provider.view().health}.`);
  provider.stop();
  if (options.once) {
    await mock.close();
    return;
  }
  console.log(`\nThe mock upstream keeps serving. Try it:`);
  console.log(`  curl ${mock.url}/chat/completions -H 'content-type: application/json' \\`);
  console.log(`    -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}'`);
  console.log(`  curl -X POST ${base}/_mock/faults -d '{"mode":"error","status":429,"retryAfterSeconds":2}'`);
  console.log('Stop with Ctrl-C.');
  const stop = () => void mock.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
