// The total-outage scenario: every deployment of the model answers 500 and the gateway runs with its default
// routing and health settings. What matters is how fast clients hear about it (a 503 with Retry-After) instead
// of waiting for a recovery that does not come: time to answer, answers per second, and client timeouts.

import { request } from 'undici';
import { percentile, round } from './output.ts';

type Start = (kind: string, args?: string[]) => Promise<{ url: string; proc: { kill(signal: NodeJS.Signals): boolean } }>;

/** What the clients wait at most for one answer, as the measurement did. */
const clientTimeoutMs = 30_000;
const connections = 16;

export interface OutageResult {
  connections: number;
  seconds: number;
  answered: number;
  answeredPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers by HTTP status and error code. */
  statuses: Record<string, number>;
  /** Requests with a Retry-After header among the 503s. */
  retryAfter: number;
  clientTimeouts: number;
}

export async function outage(start: Start, seconds: number): Promise<OutageResult> {
  const a = await start('mock');
  const b = await start('mock');
  for (const mock of [a, b]) {
    await fetch(`${mock.url}/_mock/faults`, { method: 'POST', body: JSON.stringify({ mode: 'error', status: 500 }) });
  }
  const gateway = await start('gateway-defaults', [a.url, b.url]);
  const body = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'Is anyone there?' }] });
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  let retryAfter = 0;
  let clientTimeouts = 0;
  const began = performance.now();
  const until = began + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        try {
          const res = await request(`${gateway.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            headersTimeout: clientTimeoutMs,
            bodyTimeout: clientTimeoutMs,
          });
          const answer = (await res.body.json().catch(() => null)) as { error?: { code?: string } } | null;
          times.push(performance.now() - sent);
          const key = `${res.statusCode} ${answer?.error?.code ?? ''}`.trim();
          statuses[key] = (statuses[key] ?? 0) + 1;
          if (res.statusCode === 503 && res.headers['retry-after'] !== undefined) retryAfter++;
        } catch {
          clientTimeouts++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - began) / 1000;
  for (const s of [a, b, gateway]) s.proc.kill('SIGTERM');
  return {
    connections,
    seconds,
    answered: times.length,
    answeredPerSecond: Math.round(times.length / elapsed),
    p50Ms: round(percentile(times, 0.5)),
    p99Ms: round(percentile(times, 0.99)),
    statuses,
    retryAfter,
    clientTimeouts,
  };
}

export function outageLine(o: OutageResult): string {
  const statuses = Object.entries(o.statuses)
    .map(([answer, n]) => `${n} × ${answer}`)
    .join(', ');
  return `Total outage (both deployments answer 500, default routing and health settings, ${o.connections} clients for ${o.seconds} s, client timeout ${clientTimeoutMs / 1000} s): ${o.answered} answered (${o.answeredPerSecond}/s: ${statuses || 'none'}; ${o.retryAfter} 503s with Retry-After), **time to answer p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms**, ${o.clientTimeouts} client timeouts.`;
}
