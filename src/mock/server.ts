// The OpenAI-compatible mock upstream: deterministic replies, latency, and faults switched at run time.
// Users run it to chaos-test their apps (`switchyard mock`); our tests and benchmarks run it on 127.0.0.1.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { countChatTokens, countTokens, truncateToTokens } from '../models/tokens.ts';
import { healthyFaults, type MockFaults, parseFaults } from './faults.ts';
import { openAIError, parseChatBody, readBody, sendJson } from './http.ts';
import { answerFor, type ContinuationMode, chunksOf } from './reply.ts';
import { toolCallDeltas, toolCallFor, toolCallMessage } from './tools.ts';

export interface MockUpstreamOptions {
  port?: number;
  host?: string;
  /** Delay before the first byte of every answer. */
  latencyMs?: number;
  /** Delay between stream chunks. */
  chunkDelayMs?: number;
  /** Prompts with more tokens than this get OpenAI's context_length_exceeded error. */
  contextWindow?: number;
  /** Model ids listed by GET /v1/models; any model id is accepted in requests. */
  models?: string[];
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Faults in force from the start. */
  faults?: Partial<MockFaults>;
  /** How a request to continue a cut answer is met; `continue_final_message` in a request always gets `exact`. */
  continuation?: ContinuationMode;
  /** Random source for fault `rate`; defaults to Math.random. */
  random?: () => number;
  /** Called as each chat completion request arrives (chaos tests match arrivals against provider states). */
  onRequest?: (at: number) => void;
}

export type MockOutcome = 'ok' | 'error' | 'hang' | 'reset' | 'cut' | 'rejected';

export interface MockStats {
  /** Chat completion requests received. */
  requests: number;
  inFlight: number;
  outcomes: Record<MockOutcome, number>;
  /** Requests whose client went away before the answer was complete. */
  aborted: number;
}

export interface MockUpstream {
  /** Base URL for an OpenAI client, ending in /v1. */
  url: string;
  port: number;
  faults(): MockFaults;
  setFaults(faults: Partial<MockFaults>): void;
  heal(): void;
  stats(): MockStats;
  close(): Promise<void>;
}

const emptyStats = (): MockStats => ({
  requests: 0,
  inFlight: 0,
  outcomes: { ok: 0, error: 0, hang: 0, reset: 0, cut: 0, rejected: 0 },
  aborted: 0,
});

/** Starts the mock upstream; resolves once it listens. */
export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const random = options.random ?? Math.random;
  const contextWindow = options.contextWindow ?? 128_000;
  let faults: MockFaults = { ...healthyFaults, ...options.faults };
  let stats = emptyStats();

  async function chat(req: IncomingMessage, res: ServerResponse, gone: AbortSignal) {
    stats.requests++;
    options.onRequest?.(Date.now());
    const count = (outcome: MockOutcome) => {
      stats.outcomes[outcome]++;
    };
    const raw = await readBody(req);
    if (raw === null) {
      count('rejected');
      return sendJson(res, 413, openAIError(413, 'request body too large', 'request_too_large'));
    }
    const body = parseChatBody(raw);
    if ('param' in body) {
      count('rejected');
      return sendJson(res, 400, openAIError(400, body.message, 'invalid_request', body.param));
    }
    const f = faults;
    const faulted = f.mode !== 'ok' && random() < f.rate;
    const mode = faulted ? f.mode : 'ok';
    if (mode === 'reset') {
      count('reset');
      req.socket.destroy();
      return;
    }
    if (mode === 'hang') {
      count('hang');
      return; // never answered; the client's timeout or abort ends it
    }
    const delay = (options.latencyMs ?? 0) + f.latencyMs;
    if (delay > 0) await sleep(delay, undefined, { signal: gone }).catch(() => {});
    if (gone.aborted) return;
    if (mode === 'error') {
      count('error');
      const headers: Record<string, string> = f.retryAfterSeconds === null ? {} : { 'retry-after': String(f.retryAfterSeconds) };
      return sendJson(res, f.status, openAIError(f.status, `mock fault: status ${f.status}`, null), headers);
    }
    const promptTokens = countChatTokens(body.messages);
    if (promptTokens > contextWindow) {
      count('rejected');
      const message = `This model's maximum context length is ${contextWindow} tokens. However, your messages resulted in ${promptTokens} tokens.`;
      return sendJson(res, 400, openAIError(400, message, 'context_length_exceeded', 'messages'));
    }
    const continuation = body.continueFinal ? 'exact' : (f.continuation ?? options.continuation ?? 'exact');
    // A tool call's arguments are derived from the prompt, like a text reply: the same request, the same call.
    const call = body.tool === null ? null : toolCallFor(body.messages, body.tool);
    let text = call === null ? answerFor(body.messages, continuation) : '';
    let finish: 'stop' | 'length' | 'tool_calls' = call === null ? 'stop' : 'tool_calls';
    if (call === null && body.maxTokens !== null && countTokens(text) > body.maxTokens) {
      text = truncateToTokens(text, body.maxTokens);
      finish = 'length';
    }
    const usage = { prompt_tokens: promptTokens, completion_tokens: countTokens(call?.arguments ?? text), total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-mock-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      const completion = {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: call === null ? { role: 'assistant', content: text, refusal: null } : toolCallMessage(call),
            finish_reason: finish,
            logprobs: null,
          },
        ],
        usage,
      };
      if (mode === 'cut') {
        count('cut');
        const json = JSON.stringify(completion);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
        res.write(json.slice(0, Math.floor(json.length / 2)));
        res.destroy();
        return;
      }
      count('ok');
      return sendJson(res, 200, completion);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, choices, ...extra })}\n\n`);
    const { first, pieces: deltas } =
      call === null
        ? { first: { role: 'assistant', content: '' }, pieces: chunksOf(text).map((piece) => ({ content: piece })) }
        : toolCallDeltas(call);
    send([{ index: 0, delta: first, finish_reason: null }]);
    for (const [i, delta] of deltas.entries()) {
      if (mode === 'cut' && i >= f.afterChunks) {
        count('cut');
        res.end();
        return;
      }
      if (options.chunkDelayMs) await sleep(options.chunkDelayMs, undefined, { signal: gone }).catch(() => {});
      if (gone.aborted) return;
      send([{ index: 0, delta, finish_reason: null }]);
    }
    send([{ index: 0, delta: {}, finish_reason: finish }]);
    if (body.includeUsage) send([], { usage });
    res.end('data: [DONE]\n\n');
    count(mode === 'cut' ? 'cut' : 'ok');
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname.replace(/\/+$/, '');
    if (path.startsWith('/_mock/')) return control(req, res, path);
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, openAIError(401, 'Incorrect API key provided.', 'invalid_api_key'));
    }
    if (req.method === 'GET' && path === '/v1/models') {
      const data = (options.models ?? ['mock-model']).map((id) => ({ id, object: 'model', created: 0, owned_by: 'switchyard-mock' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const gone = new AbortController();
      stats.inFlight++;
      const current = stats;
      res.on('close', () => {
        current.inFlight--;
        if (!res.writableFinished) current.aborted++;
        gone.abort();
      });
      return chat(req, res, gone.signal);
    }
    sendJson(res, 404, openAIError(404, `no route ${req.method} ${path}`, 'not_found'));
  }

  async function control(req: IncomingMessage, res: ServerResponse, path: string) {
    if (path === '/_mock/stats' && req.method === 'GET') return sendJson(res, 200, stats);
    if (path === '/_mock/stats' && req.method === 'DELETE') {
      stats = { ...emptyStats(), inFlight: stats.inFlight };
      return sendJson(res, 200, stats);
    }
    if (path === '/_mock/faults' && req.method === 'GET') return sendJson(res, 200, faults);
    if (path === '/_mock/faults' && req.method === 'DELETE') {
      faults = { ...healthyFaults };
      return sendJson(res, 200, faults);
    }
    if (path === '/_mock/faults' && req.method === 'POST') {
      const raw = await readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw ?? '');
      } catch {
        return sendJson(res, 400, openAIError(400, 'invalid JSON', 'invalid_request', 'body'));
      }
      const result = parseFaults(parsed);
      if (!result.ok) return sendJson(res, 400, openAIError(400, `${result.param}: ${result.message}`, 'invalid_request', result.param));
      faults = result.faults;
      return sendJson(res, 200, faults);
    }
    sendJson(res, 404, openAIError(404, `no route ${req.method} ${path}`, 'not_found'));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, openAIError(500, `mock failure: ${String(err)}`, null));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/v1`,
    port: address.port,
    faults: () => ({ ...faults }),
    setFaults: (next) => {
      faults = { ...healthyFaults, ...next };
    },
    heal: () => {
      faults = { ...healthyFaults };
    },
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
