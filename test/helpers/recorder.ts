// A real HTTP hop in front of an upstream that keeps the JSON bodies it forwards: tests read what reached the
// upstream (every parameter of a conversation turn) without mocking either side.

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export interface Recorder {
  /** Base URL ending in /v1, for a provider's baseURL. */
  url: string;
  /** Bodies of the chat completion requests forwarded so far, oldest first. */
  chats: Record<string, unknown>[];
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const piece of req) text += String(piece);
  return text;
}

/** Forwards every request to `target` (a base URL ending in /v1) and records chat completion bodies. */
export async function startRecorder(target: string): Promise<Recorder> {
  const chats: Record<string, unknown>[] = [];
  const origin = new URL(target).origin;
  const server = createServer((req, res) => {
    void (async () => {
      const body = await bodyOf(req);
      if (req.url?.endsWith('/chat/completions')) chats.push(JSON.parse(body) as Record<string, unknown>);
      const upstream = await fetch(`${origin}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
        ...(body === '' ? {} : { body }),
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      if (upstream.body) Readable.fromWeb(upstream.body).pipe(res);
      else res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    chats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
