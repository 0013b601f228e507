// Reloads as the inspector sees them: a `config` record in its event log for each reload (applied or rejected),
// the removed deployment's move to `draining`, and its removal from the overview once it has stopped.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
beforeAll(async () => {
  g = await startGateway({ mocks: [{}, {}] });
});
afterAll(async () => g.close());

/** Opens /inspect/events and yields its events as { event, data }. */
async function open(signal: AbortSignal) {
  const res = await fetch(`${g.url}/inspect/events`, { signal });
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async (): Promise<{ event: string; data: Record<string, unknown> }> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return { event: /^event: (.*)$/m.exec(frame)?.[1] ?? '', data: JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? 'null') };
      }
      const chunk = await reader?.read();
      if (!chunk || chunk.done) throw new Error('the event stream ended');
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
}

describe('the inspector during reloads', () => {
  it('logs each reload, shows the removed deployment draining, then drops it from the overview', async () => {
    const stop = new AbortController();
    try {
      const next = await open(stop.signal);
      expect((await next()).event).toBe('hello');
      const [one, two] = g.mocks.map((m) => m.url) as [string, string];
      const providers = (urls: string[]): SwitchyardConfigInput => ({
        providers: urls.map((url, i) => ({ id: `p${i}`, baseURL: url, models: { chat: 'mock-model' } })),
      });
      await g.runtime.reload({ providers: [{ id: 'p0', baseURL: 'bad', models: {} }] }).catch(() => {});
      await g.runtime.reload(providers([one]));
      expect(two).toBeTruthy();
      const seen: { event: string; data: Record<string, unknown> }[] = [];
      for (
        let i = 0;
        i < 50 && !seen.some((e) => e.event === 'delta' && (e.data.providersRemoved as string[]).includes('p1/mock-model'));
        i++
      ) {
        seen.push(await next());
      }
      const transitions = seen.filter((e) => e.event === 'transition').map((e) => e.data);
      expect(transitions).toContainEqual(expect.objectContaining({ machine: 'config', event: 'config.rejected', state: 'v0' }));
      expect(transitions).toContainEqual(expect.objectContaining({ machine: 'config', event: 'config.applied', from: 'v0', state: 'v1' }));
      expect(transitions).toContainEqual(
        expect.objectContaining({ machine: 'provider', actor: 'p1/mock-model', state: 'draining', event: 'config.removed' }),
      );
    } finally {
      stop.abort();
    }
  });
});
