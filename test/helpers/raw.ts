// A raw HTTP request with the path sent exactly as given (no URL normalization, `#` and `..` kept), bounded in time.

import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function rawRequest(
  base: string,
  options: { method: string; path: string; headers?: Record<string, string>; body?: string; timeoutMs?: number },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: options.method, path: options.path, headers: options.headers ?? {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    // A route that should have refused but streams (an SSE endpoint) must not hang the test.
    req.setTimeout(options.timeoutMs ?? 3000, () => req.destroy(new Error(`no complete answer to ${options.method} ${options.path}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}
