import { request } from 'node:http';
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

// Issue 14: hostile inputs against the running server. Whatever arrives — nesting far past the limit, strings
// up to and past the body limit, broken UTF-8, request targets with `#`, `;`, `%2F`, `//`, `/./` — the answer
// is 2xx or 4xx, the process stays up, and no deployment is ever blamed for a client's request.
const deep = fc.record({ depth: fc.integer({ min: 1, max: 30_000 }), object: fc.boolean(), where: fc.constantFrom('extra', 'content') });
const nested = ({ depth, object }: { depth: number; object: boolean }) =>
  object ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
const hostileBody = fc.oneof(
  deep.map((d) =>
    d.where === 'extra'
      ? `{"model":"chat","messages":[{"role":"user","content":"hi"}],"x":${nested(d)}}`
      : `{"model":"chat","messages":[{"role":"user","content":${nested(d)}}]}`,
  ),
  fc.integer({ min: 0, max: 300_000 }).map((n) => JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(n) }] })),
  fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }).map(({ at, bytes }) => {
    const valid = Buffer.from(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'grüße 你好 hello' }] }));
    const i = at % valid.length;
    return Buffer.concat([valid.subarray(0, i), Buffer.from(bytes), valid.subarray(i)]);
  }),
);
const routes = [
  '/v1/chat/completions',
  '/v1/conversations',
  '/v1/conversations/CONV',
  '/v1/conversations/CONV/messages',
  '/v1/conversations/CONV/items',
  '/v1/conversations/CONV/items/msg_x',
  '/v1/models',
  '/healthz',
  '/readyz',
  '/inspect/state',
  '/v1/providers',
];
const variants = [
  (p: string) => p,
  (p: string) => `${p}#/healthz`,
  (p: string) => `${p}?x=/healthz`,
  (p: string) => `${p};/healthz`,
  (p: string) => `${p}/`,
  (p: string) => `/${p}`,
  (p: string) => p.replace('/v1/', '/v1/./'),
  (p: string) => p.replace('/v1/', '/V1/'),
  (p: string) => `/${p.slice(1).replace(/\//g, '%2F')}`,
  (p: string) => `${p}%00`,
  (p: string) => `${p}/${'a'.repeat(2000)}`,
];

/** Sends a raw request target (fetch would normalize `#`, `/./` and `//` away). */
function raw(url: string, method: string, path: string, body: Buffer | string | null): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, method, path, headers: body === null ? {} : { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${method} ${path} in 5 s`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

describe('HTTP fuzz, hostile', () => {
  it('answers deep, huge, broken and path-variant requests with only 2xx or 4xx, stays up, and leaves every deployment healthy', async () => {
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(hostileBody, async (body) => {
        const res = await g.post('/v1/chat/completions', body);
        await res.arrayBuffer();
        count(res.status);
        expect(res.status >= 200 && res.status < 500).toBe(true);
      }),
      { numRuns: 150 },
    );
    // A conversation counts the tokens of what it stores: runs without a break once cost minutes of CPU.
    const hugeTurn = fc.record({ n: fc.integer({ min: 1, max: 300_000 }), ch: fc.constantFrom('x', ' ', '!', 'é') });
    await fc.assert(
      fc.asyncProperty(hugeTurn, async ({ n, ch }) => {
        const res = await g.post(`/v1/conversations/${conversation}/messages`, { content: ch.repeat(n) });
        await res.arrayBuffer();
        count(res.status);
        expect(res.status >= 200 && res.status < 500).toBe(true);
      }),
      { numRuns: 20 },
    );
    const pathCase = fc.record({
      route: fc.constantFrom(...routes),
      variant: fc.constantFrom(...variants),
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'HEAD'),
    });
    await fc.assert(
      fc.asyncProperty(pathCase, async ({ route, variant, method }) => {
        const path = variant(route.replace('CONV', conversation));
        const status = await raw(
          g.url,
          method,
          path,
          method === 'POST' ? '{"model":"chat","content":"hi","messages":[{"role":"user","content":"hi"}]}' : null,
        );
        count(status);
        expect(status >= 200 && status < 500, `${method} ${path} → ${status}`).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200);
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect([...statuses.keys()].some((s) => s === 400)).toBe(true);
    for (const p of g.runtime.providers()) {
      expect(p.health).toBe('healthy');
      expect(p.metrics.failures).toBe(0);
      expect(p.lastError).toBeNull();
    }
  }, 120_000);
});
