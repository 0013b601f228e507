// The OpenAI-compatible mock upstream: deterministic replies, latency, and faults switched at run time.
// Users run it to chaos-test their apps (`switchyard mock`); our tests and benchmarks run it on 127.0.0.1.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerChat } from './chat.ts';
import { answerCompletions } from './completions.ts';
import { answerEmbeddings } from './embeddings.ts';
import { healthyFaults, type MockFaults, parseFaults } from './faults.ts';
import type { MockCall, MockOutcome } from './gate.ts';
import { openAIError, readBody, sendJson } from './http.ts';
import type { ContinuationMode } from './reply.ts';
import { createResponses } from './responses.ts';

export type { MockOutcome } from './gate.ts';

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
  /** Called as each model request (chat, responses, embeddings, completions) arrives; chaos tests match arrivals against provider states. */
  onRequest?: (at: number) => void;
}

export interface MockStats {
  /** Model requests received: chat completions, responses, embeddings and completions. */
  requests: number;
  /** The same, by endpoint. */
  byRoute: Record<ModelRoute, number>;
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

type ModelRoute = 'chat' | 'responses' | 'embeddings' | 'completions';

const modelRoutes: Record<string, ModelRoute> = {
  '/v1/chat/completions': 'chat',
  '/v1/responses': 'responses',
  '/v1/embeddings': 'embeddings',
  '/v1/completions': 'completions',
};

const emptyStats = (): MockStats => ({
  requests: 0,
  byRoute: { chat: 0, responses: 0, embeddings: 0, completions: 0 },
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

  const responses = createResponses();

  async function model(req: IncomingMessage, res: ServerResponse, route: ModelRoute, gone: AbortSignal) {
    stats.requests++;
    stats.byRoute[route]++;
    options.onRequest?.(Date.now());
    const current = stats;
    const call: MockCall = { req, res, gone, faults: () => faults, random, count: (outcome: MockOutcome) => current.outcomes[outcome]++ };
    const raw = await readBody(req);
    if (raw === null) {
      call.count('rejected');
      return sendJson(res, 413, openAIError(413, 'request body too large', 'request_too_large'));
    }
    const latencyMs = options.latencyMs ?? 0;
    const settings = {
      contextWindow,
      latencyMs,
      chunkDelayMs: options.chunkDelayMs ?? 0,
      continuation: options.continuation ?? 'exact',
    };
    if (route === 'chat') return answerChat(call, raw, settings);
    if (route === 'responses') return responses.create(call, raw, settings);
    if (route === 'embeddings') return answerEmbeddings(call, raw, latencyMs);
    return answerCompletions(call, raw, latencyMs);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname.replace(/\/+$/, '');
    if (path.startsWith('/_mock/')) return control(req, res, path);
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, openAIError(401, 'Incorrect API key provided.', 'invalid_api_key'));
    }
    const models = (options.models ?? ['mock-model']).map((id) => ({ id, object: 'model', created: 0, owned_by: 'switchyard-mock' }));
    if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, { object: 'list', data: models });
    if (req.method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const found = models.find((m) => m.id === id);
      if (found) return sendJson(res, 200, found);
      return sendJson(res, 404, openAIError(404, `The model '${id}' does not exist`, 'model_not_found', 'model'));
    }
    const responseId = /^\/v1\/responses\/([^/]+)$/.exec(path)?.[1];
    if (responseId !== undefined && req.method === 'GET') return responses.get(res, decodeURIComponent(responseId));
    if (responseId !== undefined && req.method === 'DELETE') return responses.delete(res, decodeURIComponent(responseId));
    const route = modelRoutes[path];
    if (req.method === 'POST' && route !== undefined) {
      const gone = new AbortController();
      stats.inFlight++;
      const current = stats;
      res.on('close', () => {
        current.inFlight--;
        if (!res.writableFinished) current.aborted++;
        gone.abort();
      });
      return model(req, res, route, gone.signal);
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
