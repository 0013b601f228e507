// What an upstream says never carries secrets through Switchyard: a hostile upstream that echoes the bearer
// key it was sent, quotes other keys and redirects to an internal URL with credentials and a token.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime.ts';
import { startServer } from '../../src/server/index.ts';
import { hostOnly, scrub } from '../../src/upstream/scrub.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const upstreamKey = 'sk-upstream-CANARY-0123456789';
/** Every secret the hostile upstream shows; none may reach a client, lastError, the inspector or the logs. */
const secrets = ['CANARY', 'sk-proj-LEAKED', 'hunter2', 'TOPSECRET', 'user:pass', 'admin:'];

type Behaviour = (req: IncomingMessage, res: ServerResponse) => void;
const behaviours: Record<string, Behaviour> = {
  echo: (req, res) =>
    res.writeHead(500, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        error: {
          message: `denied: Authorization: ${req.headers.authorization}; other key sk-proj-LEAKED0123456789; see http://admin:hunter2@internal.corp:8080/debug?token=TOPSECRET; api_key=TOPSECRET`,
        },
      }),
    ),
  redirect: (_req, res) => res.writeHead(302, { location: 'http://user:pass@internal/x?token=TOPSECRET' }).end(),
  // A malformed body: the JSON parser's own error message quotes the text.
  malformed: (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${req.headers.authorization} TOPSECRET`),
  streamError: (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`event: error\ndata: {"error":{"message":"stream died; you sent ${req.headers.authorization}"}}\n\n`);
  },
};

async function hostileGateway(behaviour: string) {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => behaviours[behaviour]?.(req, res));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise((resolve) => upstream.close(resolve)));
  const baseURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  const runtime = createRuntime({
    providers: [{ id: 'hostile', baseURL, apiKey: upstreamKey, models: { chat: 'm' } }],
    routing: { maxAttempts: 1, deadlineMs: 5000 },
  });
  const lines: string[] = [];
  const server = await startServer(runtime, {
    port: 0,
    host: '127.0.0.1',
    apiKeys: [],
    logger: { level: 'debug', stream: { write: (line) => lines.push(line) } },
  });
  cleanup.push(() => server.shutdown(100));
  return { url: server.url, lines };
}

async function everythingSeen(url: string, lines: string[], stream: boolean) {
  const chat = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], stream }),
  });
  const headers = JSON.stringify([...chat.headers]);
  const answer = await chat.text();
  const providers = await (await fetch(`${url}/v1/providers`)).text();
  const inspector = await (await fetch(`${url}/inspect/state`)).text();
  return { answer, headers, providers, inspector, logs: lines.join('') };
}

describe('a hostile upstream', () => {
  it.each([
    ['echo', false],
    ['malformed', false],
    ['streamError', true],
  ])('%s: its secrets reach no client, no lastError, no inspector and no log line', async (behaviour, stream) => {
    const { url, lines } = await hostileGateway(behaviour);
    const seen = await everythingSeen(url, lines, stream);
    expect(seen.answer).toContain('error');
    // The upstream's failure is still reported, named by its code.
    expect(seen.providers).toMatch(/"lastError":\{"code":"(provider_unavailable|stream_interrupted)"/);
    for (const [where, text] of Object.entries(seen)) {
      for (const secret of secrets) expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false });
    }
    expect(seen.answer).toContain('[redacted]');
  });

  it('names a redirect by its host only', async () => {
    const { url, lines } = await hostileGateway('redirect');
    const seen = await everythingSeen(url, lines, false);
    expect(JSON.parse(seen.answer)).toMatchObject({
      error: { code: 'provider_bad_request', message: expect.stringContaining('redirected to internal (not followed)') },
    });
    for (const [where, text] of Object.entries(seen)) {
      for (const secret of [...secrets, '/x?', 'token='])
        expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false });
    }
  });
});

describe('scrub', () => {
  it.each([
    ['Authorization: Bearer sk-abc.def-123', 'Authorization: Bearer [redacted]'],
    ['key sk-proj-AbCdEf0123456789 here', 'key sk-[redacted] here'],
    ['see https://u:p@host.example:8443/a/b?token=x&y=1 now', 'see https://[redacted]@host.example:8443/a/b?[redacted] now'],
    ['{"api_key": "abcdef"} password=hunter2', '{"api_key": "[redacted]"} password=[redacted]'],
    ['plain text with sk- and a short sk-abc', 'plain text with sk- and a short sk-abc'],
    ['http://internal/path', 'http://internal/path'],
  ])('%s → %s', (input, output) => {
    expect(scrub(input)).toBe(output);
    expect(scrub(output)).toBe(output);
  });

  it('names a location by its host', () => {
    expect(hostOnly('http://user:pass@internal:8080/x?token=t')).toBe('internal:8080');
    expect(hostOnly('/relative?token=t')).toBe('a relative location');
    expect(hostOnly(null)).toBe('an unnamed location');
  });
});

describe('an upstream that quotes the request headers it was sent (review finding)', () => {
  it('shows neither the configured header values nor a bare API key to the client or in lastError', async () => {
    const headerSecret = 'azure-style-0123456789abcdef';
    const bareKey = 'plain0123456789key';
    const upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        res.writeHead(401, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: { message: `bad headers: api-key=${String(req.headers['api-key'])} auth ${req.headers.authorization?.slice(7)}` },
          }),
        ),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => upstream.close(resolve)));
    const baseURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    const runtime = createRuntime({
      providers: [{ id: 'quoting', baseURL, apiKey: bareKey, headers: { 'api-key': headerSecret }, models: { chat: 'm' } }],
      routing: { maxAttempts: 1, deadlineMs: 5000 },
    });
    cleanup.push(() => runtime.stop());
    const err = await runtime.chat({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    const seen = `${String((err as Error).message)} ${JSON.stringify(runtime.providers())}`;
    expect(seen).toContain('bad headers');
    expect(seen).not.toContain(headerSecret);
    expect(seen).not.toContain(bareKey);
  });
});
