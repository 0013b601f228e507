// The load generators of the overhead runs: autocannon for plain requests, concurrent readers for streams, and
// one request after another for µs latencies. Each target brings its own payload and headers (a peer gateway
// may need headers that route to the mock).

import autocannon from 'autocannon';
import { Pool, request } from 'undici';
import { percentile, round } from './output.ts';

export interface Target {
  url: string;
  payload: string;
  headers?: Record<string, string>;
}

export interface Load {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

const headersOf = (t: Target) => ({ 'content-type': 'application/json', ...t.headers });

export async function load(t: Target, connections: number, duration: number): Promise<Load> {
  const result = await autocannon({
    url: `${t.url}/v1/chat/completions`,
    method: 'POST',
    headers: headersOf(t),
    body: t.payload,
    connections,
    duration,
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

export interface StreamLoad {
  requests: number;
  ttftP50: number;
  ttftP99: number;
  errors: number;
}

/** Concurrent streaming requests for `ms`: streams completed with content, time to the first content chunk, errors. */
export async function streamLoad(t: Target, concurrency: number, ms: number): Promise<StreamLoad> {
  const ttft: number[] = [];
  let errors = 0;
  const until = performance.now() + ms;
  const streamBody = JSON.stringify({ ...JSON.parse(t.payload), stream: true });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        try {
          const res = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: headersOf(t), body: streamBody });
          let first = true;
          for await (const chunk of res.body) {
            if (first && /"content":"\S/.test(chunk.toString())) {
              ttft.push(performance.now() - started);
              first = false;
            }
          }
          // A stream without content (an error body, a peer that fails) counts as an error, not as a stream.
          if (res.statusCode !== 200 || first) errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { requests: ttft.length, ttftP50: round(percentile(ttft, 0.5)), ttftP99: round(percentile(ttft, 0.99)), errors };
}

/** The median of each figure over several rounds (rounds alternate between the targets, so drift hits all). */
export function medianLoad(runs: Load[]): Load {
  const mid = (pick: (l: Load) => number) => percentile(runs.map(pick), 0.5);
  return {
    rps: mid((l) => l.rps),
    p50: mid((l) => l.p50),
    p90: mid((l) => l.p90),
    p99: mid((l) => l.p99),
    errors: runs.reduce((n, l) => n + l.errors, 0),
  };
}

/** The median of each stream figure over several rounds; errors are summed. */
export function medianStreams(runs: StreamLoad[]): StreamLoad {
  const mid = (pick: (l: StreamLoad) => number) => percentile(runs.map(pick), 0.5);
  return {
    requests: mid((l) => l.requests),
    ttftP50: mid((l) => l.ttftP50),
    ttftP99: mid((l) => l.ttftP99),
    errors: runs.reduce((n, l) => n + l.errors, 0),
  };
}

export interface TimedLoad {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * `connections` clients each sending one plain request after another for `ms`, every request timed in µs (autocannon
 * reports whole milliseconds, too coarse for an added p50 measured against half a millisecond).
 */
export async function timedLoad(t: Target, connections: number, ms: number): Promise<TimedLoad> {
  const samples: number[] = [];
  let errors = 0;
  const pool = new Pool(t.url, { connections });
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        try {
          const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: headersOf(t), body: t.payload });
          await res.body.dump();
          if (res.statusCode === 200) samples.push(performance.now() - started);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  await pool.close();
  return {
    rps: Math.round(samples.length / (ms / 1000)),
    p50: round(percentile(samples, 0.5), 3),
    p99: round(percentile(samples, 0.99), 3),
    errors,
  };
}

/** The median of each timed figure over several rounds; errors are summed. */
export function medianTimed(runs: TimedLoad[]): TimedLoad {
  const mid = (pick: (l: TimedLoad) => number) => percentile(runs.map(pick), 0.5);
  return { rps: mid((l) => l.rps), p50: mid((l) => l.p50), p99: mid((l) => l.p99), errors: runs.reduce((n, l) => n + l.errors, 0) };
}

/** One connection, one request after another, timed in microseconds (autocannon's percentiles are whole ms). */
export async function sequential(t: Target, count: number) {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const res = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: headersOf(t), body: t.payload });
    await res.body.dump();
    if (res.statusCode === 200) samples.push(performance.now() - started);
  }
  return { requests: samples.length, p50: round(percentile(samples, 0.5), 3), p99: round(percentile(samples, 0.99), 3) };
}
