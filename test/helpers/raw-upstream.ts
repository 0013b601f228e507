// An upstream written byte by byte on raw sockets, for answers no HTTP server library would send: 1xx before the
// real answer, bodies shorter or longer than declared, bad chunk sizes, resets mid-body. It counts connections,
// requests and closed sockets, so that tests see whether the gateway cut or kept a connection.

import { createServer, type Socket } from 'node:net';
import { createOpenAIAdapter, type OpenAIAdapter } from '../../src/upstream/adapter.ts';

export interface RawExchange {
  socket: Socket;
  /** The request's head (request line and headers) as sent. */
  head: string;
  /** The request's path. */
  path: string;
  /** The request's body (empty when answered before it was read). */
  body: string;
}

export interface RawUpstream {
  url: string;
  connections(): number;
  requests(): number;
  closedSockets(): number;
  close(): Promise<void>;
}

/**
 * Calls `answer` for every request on its socket, after the whole body arrived (or right after the head when
 * `early`). A socket serves its requests one after another, as a keep-alive HTTP/1.1 server does.
 */
export async function rawUpstream(answer: (exchange: RawExchange) => void, options: { early?: boolean } = {}): Promise<RawUpstream> {
  let connections = 0;
  let requests = 0;
  let closedSockets = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      closedSockets++;
      sockets.delete(socket);
    });
    let pending = Buffer.alloc(0);
    let answered = false;
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (let i = 0; i < 100; i++) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        const path = head.split(' ')[1] ?? '';
        if (options.early) {
          if (answered) return;
          answered = true;
          requests++;
          answer({ socket, head, path, body: '' });
          return;
        }
        if (pending.length < end + 4 + length) return;
        const body = pending.subarray(end + 4, end + 4 + length).toString('utf8');
        pending = pending.subarray(end + 4 + length);
        requests++;
        answer({ socket, head, path, body });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    connections: () => connections,
    requests: () => requests,
    closedSockets: () => closedSockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A chat completion chunk as one SSE event. */
export const sseChunk = (content: string | null, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  })}\n\n`;

/** A whole streamed answer: its chunks, a finish chunk and [DONE]. */
export const sseAnswer = (...pieces: string[]) => `${pieces.map((p) => sseChunk(p)).join('')}${sseChunk(null, 'stop')}data: [DONE]\n\n`;

/** A non-streamed chat completion's JSON. */
export const completionJson = (content: string) =>
  JSON.stringify({
    id: 'c1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });

/** An HTTP/1.1 head; `headers` are written as given (duplicates and all). */
export const httpHead = (status: string, headers: [string, string][]) =>
  `HTTP/1.1 ${status}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;

/** A chunk of a chunked body. */
export const chunked = (text: string | Buffer) => {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);
};

/**
 * A raw upstream and the real chat adapter in front of it (attempt timeout and stream idle time 3 s unless given);
 * both are closed by the caller's `cleanup` list.
 */
export async function rawAdapter(
  answer: (exchange: RawExchange) => void,
  cleanup: (() => Promise<unknown>)[],
  options: { early?: boolean; timeoutMs?: number; idleMs?: number } = {},
): Promise<{ up: RawUpstream; adapter: OpenAIAdapter }> {
  const up = await rawUpstream(answer, options);
  cleanup.push(() => up.close());
  const adapter = createOpenAIAdapter({
    id: 'raw',
    baseURL: up.url,
    model: 'upstream-model',
    timeoutMs: options.timeoutMs ?? 3000,
    streamIdleTimeoutMs: options.idleMs ?? 3000,
  });
  cleanup.push(async () => adapter.close?.());
  return { up, adapter };
}
