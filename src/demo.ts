// The demo behind `npm start`: three mock upstreams serving the logical model `chat` through the supervisor.
// It sends a steady trickle of requests (calls and streams), takes the primary down for a few seconds, and
// prints each deployment's state changes and who served what: the caller never sees the outage.

import { isSwitchyardError } from './errors.ts';
import { type MockUpstream, startMockUpstream } from './mock/server.ts';
import { createRuntime } from './runtime.ts';

export interface DemoOptions {
  /** Port of the primary mock upstream (0 picks a free one); the others take free ports. */
  port: number;
  host: string;
  /** Run the outage scenario once, then exit. */
  once: boolean;
}

const tickMs = 200;
const outage = { startTick: 6, endTick: 22, lastTick: 40 };

/** Runs the demo; resolves when the scenario is over (and, unless `once`, leaves the mocks serving). */
export async function runDemo(options: DemoOptions): Promise<void> {
  const mocks: MockUpstream[] = [
    await startMockUpstream({ port: options.port, host: options.host, latencyMs: 20, chunkDelayMs: 5 }),
    await startMockUpstream({ host: options.host, latencyMs: 40, chunkDelayMs: 5 }),
    await startMockUpstream({ host: options.host, latencyMs: 30, chunkDelayMs: 5, faults: { mode: 'error', status: 502, rate: 0.15 } }),
  ];
  const names = ['primary', 'backup', 'flaky'];
  const runtime = createRuntime({
    providers: mocks.map((m, i) => ({ id: names[i] as string, baseURL: m.url, models: { chat: 'mock-model' }, timeoutMs: 2000 })),
    routing: { strategy: 'priority', maxAttempts: 3, deadlineMs: 5000 },
    // A short window, and an open threshold below the degraded one, so the outage trips the circuit within
    // a few requests and the whole cycle shows in a few seconds.
    health: {
      windowMs: 3000,
      minVolume: 3,
      degradedErrorRate: 0.6,
      openErrorRate: 0.5,
      probeIdleMs: 300,
      backoff: { initialMs: 500, maxMs: 2000 },
    },
  });
  console.log('Switchyard demo: the logical model "chat" is served by three mock upstreams:');
  for (const [i, m] of mocks.entries()) console.log(`  ${names[i]}: ${m.url}${i === 2 ? ' (fails 15% of requests)' : ''}`);
  console.log('');
  const last = new Map<string, string>();
  const showChanges = () => {
    for (const p of runtime.providers()) {
      if (last.get(p.id) === p.health) continue;
      if (last.has(p.id)) console.log(`  ${p.provider} → ${p.health}${p.health === 'coolingDown' ? ` (attempt ${p.attempt})` : ''}`);
      last.set(p.id, p.health);
    }
  };
  showChanges();
  const servedBy = new Map<string, number>();
  let failed = 0;
  let retried = 0;
  for (let tick = 0; tick < outage.lastTick; tick++) {
    if (tick === outage.startTick) {
      console.log('  ! primary starts answering 503');
      mocks[0]?.setFaults({ mode: 'error', status: 503 });
    }
    if (tick === outage.endTick) {
      console.log('  ! primary heals');
      mocks[0]?.heal();
    }
    const request = { model: 'chat', messages: [{ role: 'user' as const, content: `request ${tick}` }] };
    try {
      let route: { deployments: string[]; attempts: unknown[] } | undefined;
      if (tick % 2 === 0) route = (await runtime.chat(request)).route;
      else for await (const event of runtime.stream(request)) if (event.type === 'end') route = event.route;
      const by = route?.deployments.join(' + ') ?? '?';
      servedBy.set(by, (servedBy.get(by) ?? 0) + 1);
      if ((route?.attempts.length ?? 0) > 1) retried++;
    } catch (err) {
      failed++;
      console.log(`  request ${tick} failed: ${isSwitchyardError(err) ? err.code : String(err)}`);
    }
    showChanges();
    await new Promise((r) => setTimeout(r, tickMs));
  }
  const served = [...servedBy].map(([by, n]) => `${by.replaceAll('/mock-model', '')}: ${n}`).join(', ');
  console.log(`\n${outage.lastTick} requests, ${outage.lastTick - failed} answered (${retried} after a retry), ${failed} failed.`);
  console.log(`Served by ${served}.`);
  console.log(`The primary upstream received ${mocks[0]?.stats().requests} requests in all, probes and failed attempts included.`);
  console.log(
    `Final states: ${runtime
      .providers()
      .map((p) => `${p.provider} ${p.health}`)
      .join(', ')}.`,
  );
  await runtime.stop();
  if (options.once) {
    await Promise.all(mocks.map((m) => m.close()));
    return;
  }
  const primary = mocks[0] as MockUpstream;
  console.log('\nThe mock upstreams keep serving. Try the primary:');
  console.log(`  curl ${primary.url}/chat/completions -H 'content-type: application/json' \\`);
  console.log(`    -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}'`);
  console.log(`  curl -X POST ${primary.url.replace(/\/v1$/, '')}/_mock/faults -d '{"mode":"error","status":429,"retryAfterSeconds":2}'`);
  console.log('Stop with Ctrl-C.');
  const stop = () => void Promise.all(mocks.map((m) => m.close())).then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
