import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
let conversation: string;
beforeAll(async () => {
  g = await startGateway({ server: { bodyLimit: 64 * 1024 } });
  conversation = ((await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string }).id;
  await g.post(`/v1/conversations/${conversation}/messages`, { content: 'the one turn' });
});
afterAll(async () => g.close());

const ok = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };
const chat = '/v1/chat/completions';
const invalidUtf8 = Buffer.concat([
  Buffer.from('{"model":"chat","messages":[{"role":"user","content":"'),
  Buffer.from([0xc3, 0x28]),
  Buffer.from('"}]}'),
]);

// [name, path, body, headers, expected status, expected param (when the error names a field)]
const cases: [string, string, unknown, Record<string, string>, number, string | null][] = [
  ['bad JSON', chat, '{"model": "chat",', {}, 400, 'body'],
  ['empty body', chat, '', {}, 400, null],
  ['a JSON array', chat, '[1,2]', {}, 400, null],
  ['a JSON string', chat, '"hello"', {}, 400, null],
  ['invalid UTF-8', chat, invalidUtf8, {}, 400, 'body'],
  ['wrong content type', chat, 'model=chat', { 'content-type': 'text/plain' }, 415, null],
  ['form content type', chat, 'model=chat', { 'content-type': 'application/x-www-form-urlencoded' }, 415, null],
  ['huge body', chat, { ...ok, messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }, {}, 413, null],
  ['missing model', chat, { messages: ok.messages }, {}, 400, 'model'],
  ['model not a string', chat, { ...ok, model: 42 }, {}, 400, 'model'],
  ['empty model', chat, { ...ok, model: '' }, {}, 400, 'model'],
  ['missing messages', chat, { model: 'chat' }, {}, 400, 'messages'],
  ['messages not an array', chat, { model: 'chat', messages: 'hi' }, {}, 400, 'messages'],
  ['empty messages', chat, { model: 'chat', messages: [] }, {}, 400, 'messages'],
  ['message not an object', chat, { model: 'chat', messages: ['hi'] }, {}, 400, 'messages[0]'],
  ['message without role', chat, { model: 'chat', messages: [{ content: 'hi' }] }, {}, 400, 'messages[0].role'],
  ['unknown role', chat, { model: 'chat', messages: [{ role: 'wizard', content: 'hi' }] }, {}, 400, 'messages[0].role'],
  ['content a number', chat, { model: 'chat', messages: [{ role: 'user', content: 7 }] }, {}, 400, 'messages[0].content'],
  ['negative max_tokens', chat, { ...ok, max_tokens: -5 }, {}, 400, 'max_tokens'],
  ['zero max_tokens', chat, { ...ok, max_tokens: 0 }, {}, 400, 'max_tokens'],
  ['fractional max_tokens', chat, { ...ok, max_tokens: 1.5 }, {}, 400, 'max_tokens'],
  ['max_tokens as a string', chat, { ...ok, max_tokens: '100' }, {}, 400, 'max_tokens'],
  ['temperature above 2', chat, { ...ok, temperature: 3 }, {}, 400, 'temperature'],
  ['stream not a boolean', chat, { ...ok, stream: 'yes' }, {}, 400, 'stream'],
  ['n above 1', chat, { ...ok, n: 3 }, {}, 400, 'n'],
  ['stop with five entries', chat, { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, {}, 400, 'stop'],
  ['unknown model', chat, { ...ok, model: 'gpt-nope' }, {}, 404, 'model'],
  ['conversation that does not exist', chat, { ...ok, conversation_id: 'nope' }, {}, 404, null],
  [
    'conversation turn ending with an assistant message',
    chat,
    { model: 'chat', messages: [{ role: 'assistant', content: 'hi' }], conversation_id: 'x' },
    {},
    400,
    'messages',
  ],
  ['conversation without model', '/v1/conversations', { system: 'hi' }, {}, 400, 'model'],
  ['conversation with unknown strategy', '/v1/conversations', { model: 'chat', strategy: 'forget' }, {}, 400, 'strategy'],
  ['conversation with unknown field', '/v1/conversations', { model: 'chat', colour: 'red' }, {}, 400, null],
  ['conversation with unknown model', '/v1/conversations', { model: 'gpt-nope' }, {}, 404, 'model'],
  ['turn without content', '/v1/conversations/CONV/messages', {}, {}, 400, 'content'],
  ['turn with empty content', '/v1/conversations/CONV/messages', { content: '' }, {}, 400, 'content'],
  ['turn with content a number', '/v1/conversations/CONV/messages', { content: 5 }, {}, 400, 'content'],
  ['turn to a missing conversation', '/v1/conversations/nope/messages', { content: 'hi' }, {}, 404, null],
  ['unknown route', '/v1/images/generations', ok, {}, 404, null],
  ['embeddings without input', '/v1/embeddings', { model: 'chat' }, {}, 400, 'input'],
  ['embeddings of an object', '/v1/embeddings', { model: 'chat', input: { text: 'hi' } }, {}, 400, 'input'],
  ['disable an unknown deployment', '/v1/providers/nope/disable', {}, {}, 404, null],
];

describe('malformed requests', () => {
  it.each(cases)('%s: a 4xx with an OpenAI error body', async (_name, path, body, headers, status, param) => {
    const res = await g.post(path.replace('CONV', conversation), body, headers);
    expect(res.status).toBe(status);
    const payload = (await res.json()) as { error: { message: string; type: string; code: string; param: string | null } };
    expect(payload.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expect.any(String) });
    if (param !== null) expect(payload.error.param).toBe(param);
  });

  it('accepts a body with a UTF-8 byte order mark, and multi-byte text', async () => {
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify({ ...ok, messages: [{ role: 'user', content: 'grüße, 你好' }] })),
    ]);
    const res = await g.post(chat, body);
    expect(res.status).toBe(200);
  });

  it('leaves the process serving and the conversation unchanged', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect((await g.client.chat.completions.create(ok as never)).choices).toHaveLength(1);
    const view = ((await (await fetch(`${g.url}/v1/conversations/${conversation}`)).json()) as { switchyard: { messages: unknown[] } })
      .switchyard;
    expect(view.messages).toHaveLength(2);
  });
});
