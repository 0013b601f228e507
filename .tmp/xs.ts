import { createActor } from 'xstate';
import { providerMachine } from '../src/machines/provider.ts';
for (const withInspect of [false, true, false, true]) {
  const a = createActor(providerMachine, { input: { id: 'p' }, ...(withInspect ? { inspect: () => {} } : {}) }).start();
  const n = 200_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) a.send({ type: 'call.succeeded', at: i, probe: false, latencyMs: 5, ttftMs: 5, tokensIn: 10, tokensOut: 10, window: { calls: 10, failures: 0, slowCalls: 0 } });
  console.log(withInspect ? 'inspect' : 'plain  ', ((performance.now() - t) / n * 1000).toFixed(2), 'us/event');
}
