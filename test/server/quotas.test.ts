// Finding 11 of issue 14: quotas with clear 4xx codes. Conversations per tenant (403), tokens of a system prompt
// (413) and characters of a message (413), each from the config's `limits`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
beforeAll(async () => {
  g = await startGateway({ config: { limits: { conversationsPerTenant: 3, systemPromptTokens: 50, messageChars: 100 } } });
});
afterAll(async () => g.close());

const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('quotas', () => {
  it('refuses a tenant its fourth conversation with 403 conversation_quota_exceeded, and counts tenants apart', async () => {
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push((await g.runtime.conversations.create({ model: 'chat', tenant: 'team-a' })).id);
    await expect(g.runtime.conversations.create({ model: 'chat', tenant: 'team-a' })).rejects.toMatchObject({
      code: 'conversation_quota_exceeded',
    });
    expect((await g.runtime.conversations.create({ model: 'chat', tenant: 'team-b' })).id).toEqual(expect.any(String));
    await g.runtime.conversations.delete(created[0] as string);
    expect((await g.runtime.conversations.create({ model: 'chat', tenant: 'team-a' })).id).toEqual(expect.any(String));
  });

  it('answers an HTTP create over the quota with 403', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await g.post('/v1/conversations', { model: 'chat' })).status);
    expect(statuses).toEqual([201, 201, 201, 403]);
    expect(await code(await g.post('/v1/conversations', { model: 'chat' }))).toBe('conversation_quota_exceeded');
  });

  it('refuses a system prompt over the token limit with 413 system_prompt_too_large', async () => {
    const res = await g.post('/v1/conversations', { model: 'chat', system: 'be brief and kind '.repeat(100) });
    expect(res.status).toBe(413);
    expect(await code(res)).toBe('system_prompt_too_large');
  });

  it('refuses a message over the size limit with 413 message_too_large, and stores nothing', async () => {
    const id = (await g.runtime.conversations.create({ model: 'chat', tenant: 'team-c' })).id;
    const res = await g.post(`/v1/conversations/${id}/messages`, { content: 'x'.repeat(101) });
    expect(res.status).toBe(413);
    expect(await code(res)).toBe('message_too_large');
    const chat = await g.post('/v1/chat/completions', {
      model: 'chat',
      conversation_id: id,
      messages: [{ role: 'user', content: 'y'.repeat(101) }],
    });
    expect(chat.status).toBe(413);
    expect((await g.runtime.conversations.get(id)).messages).toHaveLength(0);
    expect((await g.post(`/v1/conversations/${id}/messages`, { content: 'x'.repeat(100) })).status).toBe(200);
  });
});
