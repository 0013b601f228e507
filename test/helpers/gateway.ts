// Starts mock upstreams, a runtime over them and the HTTP server on 127.0.0.1, and an openai client for it.

import OpenAI from 'openai';
import type { SwitchyardConfigInput } from '../../src/config.ts';
import { type MockUpstream, type MockUpstreamOptions, startMockUpstream } from '../../src/mock/server.ts';
import { createRuntime, type Runtime } from '../../src/runtime.ts';
import { type StartOptions, startServer } from '../../src/server/index.ts';

export interface Gateway {
  mocks: MockUpstream[];
  runtime: Runtime;
  url: string;
  client: OpenAI;
  /** POSTs JSON (or a raw string/Buffer body) and returns the response. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  shutdown(drainMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(
  options: {
    mocks?: MockUpstreamOptions[];
    config?: Partial<SwitchyardConfigInput>;
    server?: Partial<StartOptions>;
    models?: Record<string, string | { model: string; contextWindow: number }>;
    /** What each mock's deployment declares it speaks (`api`), by position; chat when absent. */
    apis?: ('chat' | 'responses')[];
  } = {},
): Promise<Gateway> {
  const mocks = await Promise.all((options.mocks ?? [{}]).map((m) => startMockUpstream(m)));
  const runtime = createRuntime({
    providers: mocks.map((m, i) => ({
      id: `p${i}`,
      baseURL: m.url,
      models: options.models ?? { chat: 'mock-model' },
      ...(options.apis?.[i] ? { api: options.apis[i] } : {}),
    })),
    routing: { deadlineMs: 10_000 },
    ...options.config,
  });
  const server = await startServer(runtime, { port: 0, host: '127.0.0.1', apiKeys: [], ...options.server });
  const apiKey = options.server?.apiKeys?.[0] ?? 'unused';
  let closed = false;
  return {
    mocks,
    runtime,
    url: server.url,
    client: new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 }),
    post: (path, body, headers = {}) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
      }),
    shutdown: async (drainMs) => {
      closed = true;
      await server.shutdown(drainMs);
    },
    close: async () => {
      if (!closed) await server.shutdown(100);
      await Promise.all(mocks.map((m) => m.close()));
    },
  };
}
