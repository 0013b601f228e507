import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { readSse } from '../helpers/sse.ts';
import { pollUntil, waitUntil } from '../helpers/wait.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
async function gateway(options: Parameters<typeof startGateway>[0] = {}): Promise<Gateway> {
  const g = await startGateway(options);
  cleanup.push(() => g.close());
  return g;
}
const messages = [{ role: 'user', content: 'Tell me a long story about gateways.' }];

describe('streams and clients', () => {
  it('aborts the upstream attempt when the client disconnects mid-stream', async () => {
    const g = await gateway({ mocks: [{ chunkDelayMs: 30 }] });
    const controller = new AbortController();
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    await reader?.read(); // the first bytes arrived: the stream is under way
    controller.abort();
    const mock = g.mocks[0];
    await waitUntil(() => mock?.stats().aborted === 1 && mock.stats().inFlight === 0, 3000);
    await waitUntil(() => g.runtime.providers()[0]?.metrics.inFlight === 0);
  });
});

describe('operations endpoints', () => {
  it('reports readiness per logical model, and deployments with their state', async () => {
    const g = await gateway({ mocks: [{}] });
    expect(await (await fetch(`${g.url}/readyz`)).json()).toEqual({ status: 'ready', notReady: [], store: 'ok' });
    const id = encodeURIComponent('p0/mock-model');
    expect((await g.post(`/v1/providers/${id}/disable`, {})).status).toBe(200);
    const notReady = await fetch(`${g.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', notReady: ['chat'], store: 'ok' });
    const providers = (await (await fetch(`${g.url}/v1/providers`)).json()) as { data: { id: string; health: string }[] };
    expect(providers.data.map((p) => [p.id, p.health])).toEqual([['p0/mock-model', 'disabled']]);
    expect(((await (await g.post(`/v1/providers/${id}/enable`, {})).json()) as { health: string }).health).toBe('probing');
  });

  it('exposes Prometheus metrics: requests, attempts, tokens, provider states', async () => {
    const g = await gateway({ mocks: [{ faults: { mode: 'error', status: 500 } }, {}] });
    await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const text = await (await fetch(`${g.url}/metrics`)).text();
    expect(text).toContain('switchyard_requests_total{model="chat",deployment="p1/mock-model",outcome="ok"} 1');
    expect(text).toContain('switchyard_attempts_total{deployment="p0/mock-model",outcome="provider_unavailable"} 1');
    expect(text).toContain('switchyard_failovers_total{model="chat"} 1');
    expect(text).toMatch(/switchyard_tokens_total\{model="chat",direction="in"\} \d+/);
    expect(text).toContain('switchyard_provider_state{deployment="p1/mock-model",state="healthy"} 1');
    expect(text).toContain('switchyard_conversations_active 0');
    // Counts accumulate across scrapes (each scrape hands over what came since the last one).
    await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    for (const model of ['nope-1', 'nope-2']) {
      await g.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).catch(() => {});
    }
    const again = await (await fetch(`${g.url}/metrics`)).text();
    expect(again).toContain('switchyard_requests_total{model="chat",deployment="p1/mock-model",outcome="ok"} 2');
    // Unknown model names are the client's strings: they share one label instead of growing the series.
    expect(again).toContain('switchyard_requests_total{model="(unknown)",deployment="none",outcome="model_not_found"} 2');
    expect(again).not.toContain('nope-1');
  });

  it('counts deployment state transitions and times first tokens', async () => {
    const g = await gateway({ mocks: [{ faults: { mode: 'error', status: 500 } }, {}], config: { health: { minVolume: 1 } } });
    await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const stream = await g.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _chunk of stream) {
      // drain
    }
    const text = await (await fetch(`${g.url}/metrics`)).text();
    expect(text).toContain('switchyard_provider_transitions_total{deployment="p0/mock-model",from="healthy",to="coolingDown"} 1');
    expect(text).toContain('switchyard_time_to_first_token_seconds_count{model="chat"} 1');
  });

  it('refuses to listen beyond loopback without API keys', async () => {
    const mock = await startMockUpstream();
    cleanup.push(() => mock.close());
    const runtime = createRuntime({ providers: [{ id: 'p', baseURL: mock.url, models: { chat: 'm' } }] });
    cleanup.push(() => runtime.stop());
    await expect(startServer(runtime, { port: 0, host: '0.0.0.0', apiKeys: [] })).rejects.toMatchObject({
      code: 'invalid_config',
      param: 'host',
    });
  });
});

describe('switchyard serve', () => {
  it('on SIGTERM lets an in-flight stream finish, exits 0, and never logs prompts or keys', async () => {
    const mock = await startMockUpstream({ chunkDelayMs: 25 });
    cleanup.push(() => mock.close());
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-serve-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ providers: [{ id: 'mock', baseURL: mock.url, models: { chat: 'mock-model' } }] }));
    const bin = new URL('../../bin/switchyard.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'serve', '--config', config, '--port', '0', '--store', `sqlite:${join(dir, 's.db')}`], {
      env: { ...process.env, SWITCHYARD_API_KEYS: 'sk-secret-canary', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanup.push(() => child.kill('SIGKILL'));
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    await waitUntil(() => /switchyard listening: (\S+)\/v1/.test(output), 10_000);
    const url = /switchyard listening: (\S+)\/v1/.exec(output)?.[1];

    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-secret-canary' };
    const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'PROMPT-CANARY please' }], stream: true });
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers, body });
    expect(res.status).toBe(200);
    child.kill('SIGTERM');
    const frames = await readSse(res);
    expect(frames.at(-1)).toBe('[DONE]');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('"statusCode":200');
    expect(output).not.toContain('PROMPT-CANARY');
    expect(output).not.toContain('sk-secret-canary');
  }, 30_000);
});

describe('streamed conversation turns', () => {
  it('streams a turn token by token and stores the whole reply', async () => {
    const g = await gateway({ mocks: [{ chunkDelayMs: 2 }] });
    const { id } = (await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string };
    // conversation_id is Switchyard's extension; the SDK sends extra fields as they are.
    const params: ChatCompletionCreateParamsStreaming & { conversation_id: string } = {
      model: 'chat',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
      conversation_id: id,
    };
    const stream = await g.client.chat.completions.create(params);
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content ?? '';
      if (piece) chunks++;
      text += piece;
    }
    expect(chunks).toBeGreaterThan(5);
    const view = (
      (await (await fetch(`${g.url}/v1/conversations/${id}`)).json()) as {
        switchyard: { messages: { role: string; content: string; status: string }[] };
      }
    ).switchyard;
    expect(view.messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'done'],
      ['assistant', 'done'],
    ]);
    expect(view.messages[1]?.content).toBe(text);
  });

  it('keeps the conversation consistent when the client disconnects mid-stream: the partial reply is stored as interrupted', async () => {
    const g = await gateway({ mocks: [{ chunkDelayMs: 40 }] });
    const { id } = (await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string };
    const controller = new AbortController();
    const res = await fetch(`${g.url}/v1/conversations/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'a long answer please', stream: true }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('"content":" ')) seen += decoder.decode((await reader?.read())?.value);
    controller.abort();
    const mock = g.mocks[0];
    await waitUntil(() => mock?.stats().aborted === 1);
    type View = { pending: unknown[]; messages: { role: string; content: string; status: string }[] };
    const view = await pollUntil(
      async () => ((await (await fetch(`${g.url}/v1/conversations/${id}`)).json()) as { switchyard: View }).switchyard,
      (v) => v.messages.length === 2,
    );
    expect(view.messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'interrupted'],
      ['assistant', 'interrupted'],
    ]);
    expect(view.messages[1]?.content.length).toBeGreaterThan(0);
    expect(view.pending).toEqual([]);
    // The next turn runs normally, without the interrupted exchange.
    const next = (await (await g.post(`/v1/conversations/${id}/messages`, { content: 'again' })).json()) as { content: string };
    expect(next.content.length).toBeGreaterThan(0);
  });
});
