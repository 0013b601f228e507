// Findings 7 and 11 of issue 14: an idempotency key reused with a different message is refused (422), and a
// retry of a turn whose stream was cut restarts it cleanly: one user and one assistant message under the turn,
// and a later replay returns the whole reply.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';
import { pollUntil } from '../helpers/wait.ts';

let g: Gateway;
beforeAll(async () => {
  g = await startGateway({ mocks: [{ chunkDelayMs: 20 }] });
});
afterAll(async () => g.close());

type View = { messages: { role: string; content: string; status: string; turnId: string }[] };
const conversation = async () => ((await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string }).id;
const view = async (id: string) => ((await (await fetch(`${g.url}/v1/conversations/${id}`)).json()) as { switchyard: View }).switchyard;

describe('idempotency keys', () => {
  it('refuses the same key with a different message with 422 idempotency_key_reused, and stores nothing', async () => {
    const id = await conversation();
    const key = { 'idempotency-key': 'k-reused' };
    expect((await g.post(`/v1/conversations/${id}/messages`, { content: 'first question' }, key)).status).toBe(200);
    const res = await g.post(`/v1/conversations/${id}/messages`, { content: 'another question' }, key);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    expect((await view(id)).messages).toHaveLength(2);
  });

  it('restarts a turn whose stream was cut: one user and one assistant message, and the third post replays it whole', async () => {
    const id = await conversation();
    const key = { 'idempotency-key': 'k-cut' };
    const path = `/v1/conversations/${id}/messages`;
    // The first attempt streams; the client reads its first token and goes away.
    const cut = new AbortController();
    const first = await fetch(`${g.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...key },
      body: JSON.stringify({ content: 'tell me everything', stream: true }),
      signal: cut.signal,
    });
    const reader = first.body?.getReader();
    let seen = '';
    for (let i = 0; i < 1000 && !/"content":"[^"]+"/.test(seen); i++) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      seen += new TextDecoder().decode(chunk.value);
    }
    expect(seen).toMatch(/"content":"[^"]+"/);
    cut.abort();
    await pollUntil(
      () => view(id),
      (v) => v.messages.some((m) => m.status === 'interrupted'),
    );
    const partial = (await view(id)).messages.find((m) => m.role === 'assistant');

    const retried = (await (await g.post(path, { content: 'tell me everything' }, key)).json()) as { content: string; turn_id: string };
    const stored = (await view(id)).messages;
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'done'],
      ['assistant', 'done'],
    ]);
    expect(new Set(stored.map((m) => m.turnId)).size).toBe(1);
    expect(stored[1]?.content).toBe(retried.content);
    expect(retried.content.length).toBeGreaterThan(partial?.content.length ?? 0);

    const third = (await (await g.post(path, { content: 'tell me everything' }, key)).json()) as { content: string; replayed: boolean };
    expect(third).toMatchObject({ content: retried.content, replayed: true });
  });
});
