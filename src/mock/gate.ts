// The faults every model endpoint of the mock goes through in the same order: reset, hang, latency, error.
// What is left for the endpoint is `ok` or `cut` (cut a stream, or half a body).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MockFaults } from './faults.ts';
import { openAIError, sendJson } from './http.ts';

export type MockOutcome = 'ok' | 'error' | 'hang' | 'reset' | 'cut' | 'rejected';

/** One model request as the endpoints see it. */
export interface MockCall {
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborts when the client goes away. */
  gone: AbortSignal;
  /** The faults in force now. */
  faults(): MockFaults;
  /** Random source of the fault `rate`. */
  random(): number;
  count(outcome: MockOutcome): void;
}

/** What a request that passed the gate answers in: `ok` or `cut`, and the faults drawn for it. */
export interface Passed {
  mode: 'ok' | 'cut';
  faults: MockFaults;
}

/**
 * Draws and applies this request's fault (called once its body was found valid). Resolves to how the endpoint
 * answers, or null when a fault already answered (or dropped) the request or the client left during the latency.
 */
export async function passGate(call: MockCall, baseLatencyMs: number): Promise<Passed | null> {
  const f = call.faults();
  const mode = f.mode !== 'ok' && call.random() < f.rate ? f.mode : 'ok';
  if (mode === 'reset') {
    call.count('reset');
    call.req.socket.destroy();
    return null;
  }
  if (mode === 'hang') {
    call.count('hang');
    return null; // never answered; the client's timeout or abort ends it
  }
  const delay = baseLatencyMs + f.latencyMs;
  if (delay > 0) await sleep(delay, undefined, { signal: call.gone }).catch(() => {});
  if (call.gone.aborted) return null;
  if (mode === 'error') {
    call.count('error');
    const headers: Record<string, string> = f.retryAfterSeconds === null ? {} : { 'retry-after': String(f.retryAfterSeconds) };
    sendJson(call.res, f.status, openAIError(f.status, `mock fault: status ${f.status}`, null), headers);
    return null;
  }
  return { mode, faults: f };
}

/** Sends the first half of a JSON body and destroys the socket: a non-streamed answer cut in the middle. */
export function sendCut(res: ServerResponse, body: unknown) {
  const json = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.write(json.slice(0, Math.floor(json.length / 2)));
  res.destroy();
}
