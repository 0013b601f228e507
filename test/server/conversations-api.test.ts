// Issue 16: OpenAI's Conversations API on the conversation actors, driven by the openai SDK's own
// `client.conversations` and `client.conversations.items`, and Switchyard's older create body beside it.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { type Recorder, startRecorder } from '../helpers/recorder.ts';

const key = 'sk-test-0123456789';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(models: Record<string, string> = { chat: 'mock-model' }) {
  const mock = await startMockUpstream();
  const recorder = await startRecorder(mock.url);
  const runtime = createRuntime({ providers: [{ id: 'p0', baseURL: recorder.url, models }] });
  // With a key, as in production: the keyless loopback guard refuses a DELETE without a JSON content type.
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [key] });
  cleanups.push(
    () => mock.close(),
    () => recorder.close(),
    () => server.shutdown(100),
  );
  return { client: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 }), recorder, url: server.url };
}

const sentContents = (r: Recorder) => ((r.chats.at(-1)?.messages ?? []) as { content: string | null }[]).map((m) => m.content);

describe("OpenAI's Conversations API", () => {
  it('creates a conversation with items and metadata, reads it, updates its metadata and deletes it', async () => {
    const { client } = await start();
    const created = await client.conversations.create({
      items: [
        { type: 'message', role: 'system', content: 'Answer in French.' },
        { type: 'message', role: 'user', content: 'Hello!' },
      ],
      metadata: { topic: 'demo' },
    });
    expect(created).toMatchObject({ object: 'conversation', metadata: { topic: 'demo' } });
    expect(created.id).toMatch(/^conv_[0-9a-f]{48}$/);
    expect(created.created_at).toBeGreaterThan(1_700_000_000);
    expect(created.created_at).toBeLessThan(Date.now() / 1000 + 1);
    expect(await client.conversations.retrieve(created.id)).toMatchObject({ id: created.id, object: 'conversation' });
    const updated = await client.conversations.update(created.id, { metadata: { topic: 'other', lang: 'fr' } });
    expect(updated.metadata).toEqual({ topic: 'other', lang: 'fr' });
    expect(await client.conversations.delete(created.id)).toEqual({ id: created.id, object: 'conversation.deleted', deleted: true });
    await expect(client.conversations.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('lists items newest first by default, pages with after and limit, and reads one item', async () => {
    const { client } = await start();
    const words = ['one', 'two', 'three', 'four', 'five'];
    const { id } = await client.conversations.create({
      items: words.map((w) => ({ type: 'message' as const, role: 'user' as const, content: w })),
    });
    const page = await client.conversations.items.list(id, { limit: 2 });
    expect(page.data.map((i) => (i.type === 'message' ? i.content[0] : null))).toEqual([
      { type: 'input_text', text: 'five' },
      { type: 'input_text', text: 'four' },
    ]);
    expect(page.has_more).toBe(true);
    // The SDK follows `last_id` as `after` through every page.
    const all: string[] = [];
    for await (const item of client.conversations.items.list(id, { limit: 2, order: 'asc' }))
      all.push(item.type === 'message' && item.content[0]?.type === 'input_text' ? item.content[0].text : '');
    expect(all).toEqual(words);
    const first = page.data[0];
    if (!first) throw new Error('no item');
    expect(first.id).toMatch(/^msg_/);
    expect(await client.conversations.items.retrieve(first.id ?? '', { conversation_id: id })).toEqual(first);
  });

  it('adds items that the next turn sees, and deletes one so that the next turn does not', async () => {
    const { client, recorder } = await start();
    const { id } = await client.conversations.create({});
    const added = await client.conversations.items.create(id, {
      items: [
        { type: 'message', role: 'user', content: 'My name is Ada.' },
        { type: 'message', role: 'assistant', content: 'Nice to meet you, Ada.' },
        { type: 'message', role: 'user', content: 'I like tea.' },
        { type: 'message', role: 'assistant', content: 'Tea it is.' },
      ],
    });
    expect(added.data.map((i) => i.type === 'message' && i.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    const turn = { model: 'chat', messages: [{ role: 'user' as const, content: 'What is my name?' }] };
    await client.chat.completions.create(turn, { headers: { 'x-conversation-id': id } });
    expect(sentContents(recorder).slice(0, 4)).toEqual(['My name is Ada.', 'Nice to meet you, Ada.', 'I like tea.', 'Tea it is.']);

    const tea = added.data[2];
    if (!tea) throw new Error('no item');
    const after = await client.conversations.items.delete(tea.id ?? '', { conversation_id: id });
    expect(after).toMatchObject({ id, object: 'conversation' });
    await expect(client.conversations.items.retrieve(tea.id ?? '', { conversation_id: id })).rejects.toMatchObject({
      status: 404,
      code: 'conversation_item_not_found',
    });
    await client.chat.completions.create(turn, { headers: { 'x-conversation-id': id } });
    expect(sentContents(recorder)).not.toContain('I like tea.');
    expect(sentContents(recorder)).toContain('My name is Ada.');
  });

  it('takes the older body and a model-less one: the first logical model, or the one in `switchyard`', async () => {
    const { client, url } = await start({ chat: 'mock-model', other: 'mock-model' });
    const older = await fetch(`${url}/v1/conversations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'other', system: 'Be brief.', strategy: 'summarize' }),
    });
    expect(older.status).toBe(201);
    const body = (await older.json()) as { id: string; switchyard: { model: string; system: string; strategy: string } };
    expect(body.switchyard).toMatchObject({ model: 'other', system: 'Be brief.', strategy: 'summarize' });
    const plain = (await client.conversations.create()) as unknown as { switchyard: { model: string } };
    expect(plain.switchyard.model).toBe('chat');
    const chosen = (await client.conversations.create({ switchyard: { model: 'other' } } as never)) as unknown as {
      switchyard: { model: string };
    };
    expect(chosen.switchyard.model).toBe('other');
    await expect(client.conversations.create({ switchyard: { model: 'nope' } } as never)).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
  });
});
