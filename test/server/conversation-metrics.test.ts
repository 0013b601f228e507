import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway | undefined;
afterEach(async () => {
  await g?.close();
  g = undefined;
});

async function conversation(gateway: Gateway): Promise<string> {
  const res = await gateway.post('/v1/conversations', { model: 'chat' });
  return ((await res.json()) as { id: string }).id;
}

describe('metrics of conversation turns', () => {
  it('counts a conversation turn like a chat request: its serving deployment, every attempt, the failover and tokens', async () => {
    g = await startGateway({ mocks: [{ faults: { mode: 'error', status: 500 } }, {}], config: { health: { minVolume: 1000 } } });
    const plain = await g.post(`/v1/conversations/${await conversation(g)}/messages`, { content: 'hi' });
    expect(plain.status).toBe(200);
    const streamed = await g.post(`/v1/conversations/${await conversation(g)}/messages`, { content: 'hi', stream: true });
    expect(streamed.status).toBe(200);
    await streamed.text();
    const text = await (await fetch(`${g.url}/metrics`)).text();
    expect(text).toContain('switchyard_requests_total{model="chat",deployment="p1/mock-model",outcome="ok"} 2');
    expect(text).toContain('switchyard_attempts_total{deployment="p0/mock-model",outcome="provider_unavailable"} 2');
    expect(text).toContain('switchyard_attempts_total{deployment="p1/mock-model",outcome="ok"} 2');
    expect(text).toContain('switchyard_failovers_total{model="chat"} 2');
    expect(text).toMatch(/switchyard_tokens_total\{model="chat",direction="out"\} [1-9]/);
    expect(text).toMatch(/switchyard_request_duration_seconds_count\{model="chat"\} 2/);
  });

  it('counts a failed conversation turn with its code and the attempts it made', async () => {
    g = await startGateway({ mocks: [{ faults: { mode: 'error', status: 400 } }] });
    const res = await g.post(`/v1/conversations/${await conversation(g)}/messages`, { content: 'hi' });
    expect(res.status).toBe(400);
    const text = await (await fetch(`${g.url}/metrics`)).text();
    expect(text).toContain('switchyard_requests_total{model="chat",deployment="none",outcome="provider_bad_request"} 1');
    expect(text).toContain('switchyard_attempts_total{deployment="p0/mock-model",outcome="provider_bad_request"} 1');
  });

  it('labels a chat turn that names a made-up model like every unknown model, so a client cannot grow the series', async () => {
    g = await startGateway();
    const id = await conversation(g);
    for (const model of ['made-up-1', 'made-up-2']) {
      const res = await g.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], conversation_id: id });
      expect(res.status).toBe(200);
    }
    const text = await (await fetch(`${g.url}/metrics`)).text();
    expect(text).not.toContain('made-up');
    expect(text).toContain('switchyard_requests_total{model="(unknown)",deployment="p0/mock-model",outcome="ok"} 2');
  });
});
