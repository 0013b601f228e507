import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../helpers/gateway.ts';

let g: Gateway;
let conversation: string;
beforeAll(async () => {
  g = await startGateway({ server: { bodyLimit: 256 * 1024 } });
  conversation = ((await (await g.post('/v1/conversations', { model: 'chat' })).json()) as { id: string }).id;
});
afterAll(async () => g.close());

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, -1, 0, 1.5, '', 'chat', true, [], {}));
const message = fc.record(
  { role: fc.oneof(fc.constantFrom('user', 'system', 'assistant', 'tool', 'developer'), anyValue), content: anyValue, name: anyValue },
  { requiredKeys: [] },
);
// Bodies near the valid shape, each field possibly of the wrong type, possibly missing.
const chatBody = fc.record(
  {
    model: fc.oneof(fc.constant('chat'), anyValue),
    messages: fc.oneof(fc.array(message, { maxLength: 4 }), anyValue),
    stream: fc.oneof(fc.boolean(), anyValue),
    max_tokens: fc.oneof(fc.integer({ min: -5, max: 50 }), anyValue),
    temperature: fc.oneof(fc.double({ min: -1, max: 3, noNaN: true }), anyValue),
    conversation_id: fc.oneof(fc.constant('nope'), anyValue),
  },
  { requiredKeys: [] },
);
const target = fc.oneof(
  fc.record({ path: fc.constant('/v1/chat/completions'), body: fc.oneof(chatBody, anyValue) }),
  fc.record({
    path: fc.constant('/v1/conversations'),
    body: fc.oneof(fc.record({ model: anyValue, system: anyValue, strategy: anyValue }, { requiredKeys: [] }), anyValue),
  }),
  fc.record({
    path: fc.constant('/v1/conversations/CONV/messages'),
    body: fc.oneof(fc.record({ content: anyValue, stream: anyValue }, { requiredKeys: [] }), anyValue),
  }),
  fc.record({ path: fc.constant('/v1/chat/completions'), body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) }),
);

describe('HTTP fuzz', () => {
  it('answers 1,000 generated bodies with only 2xx or 4xx, an OpenAI error body on every 4xx, and stays up with bounded memory', async () => {
    const before = process.memoryUsage().heapUsed;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(target, async ({ path, body }) => {
        const res = await g.post(path.replace('CONV', conversation), Buffer.isBuffer(body) ? body : JSON.stringify(body));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        expect(res.status >= 200 && res.status < 500).toBe(true);
        if (res.status >= 400) expect(JSON.parse(text)).toMatchObject({ error: { message: expect.any(String), code: expect.any(String) } });
      }),
      // Valid bodies always run too, so that the success path is part of every run.
      {
        numRuns: 1000,
        examples: [
          [{ path: '/v1/chat/completions', body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] } }],
          [{ path: '/v1/conversations/CONV/messages', body: { content: 'hello' } }],
        ],
      },
    );
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(200 * 2 ** 20);
  }, 120_000);
});
