// One POST over node:http, seen from the connection up: the status, the Connection header, the SSE data frames
// as they arrive, and when the TCP connection under the response closes (keep-alive or not is the point).

import { type Agent, request } from 'node:http';
import type { Socket } from 'node:net';

export interface Exchange {
  status: number;
  /** The response's Connection header. */
  connection: string | undefined;
  /** Every `data:` payload once the response has ended; rejects when the connection breaks first. */
  frames: Promise<string[]>;
  /** The raw body once the response has ended. */
  body: Promise<string>;
  /** Resolves once the first data frame has arrived. */
  first: Promise<void>;
  /** The agent and connection that carried it: the next request through `agent` may reuse `socket`. */
  agent: Agent;
  socket: Socket;
  /** Resolves when the connection that carried the response has closed. */
  socketClosed(): Promise<void>;
}

const framesOf = (text: string) =>
  text
    .split('\n\n')
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => frame.slice('data: '.length));

/** POSTs JSON to `url` through `agent`; resolves once the response headers are in. */
export function postJson(url: string, body: unknown, agent: Agent): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const socket: Socket = res.socket;
      // Asked for, not listened to on every request: a pooled socket carries many.
      const socketClosed = () => new Promise<void>((done) => (socket.destroyed ? done() : socket.once('close', () => done())));
      let text = '';
      let markFirst: () => void = () => {};
      const first = new Promise<void>((done) => {
        markFirst = done;
      });
      res.setEncoding('utf8');
      res.on('data', (piece: string) => {
        text += piece;
        if (text.includes('\n\n')) markFirst();
      });
      const ended = new Promise<string>((done, fail) => {
        res.once('end', () => done(text));
        res.once('error', fail);
        res.once('aborted', () => fail(new Error(`response aborted after ${text.length} characters`)));
      });
      resolve({
        status: res.statusCode ?? 0,
        connection: typeof res.headers.connection === 'string' ? res.headers.connection : undefined,
        agent,
        socket,
        body: ended,
        frames: ended.then(framesOf),
        first,
        socketClosed,
      });
    });
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The text of a chat completion stream's frames: every delta's content, in order. */
export function streamedContent(frames: readonly string[]): string {
  return frames
    .filter((f) => f !== '[DONE]')
    .map((f) => (JSON.parse(f) as { choices?: { delta?: { content?: string | null } }[] }).choices?.[0]?.delta?.content ?? '')
    .join('');
}
