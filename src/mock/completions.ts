// POST /v1/completions of the mock upstream: OpenAI's legacy text completions, whole or streamed, with the
// same deterministic replies (the prompt is read as one user message) after the fault gate.

import { randomUUID } from 'node:crypto';
import { countTokens, truncateToTokens } from '../models/tokens.ts';
import { fingerprint } from './chat.ts';
import { type MockCall, passGate, sendCut } from './gate.ts';
import { type Problem, parseObject, sendJson, sendProblem } from './http.ts';
import { chunksOf, promptOf, replyFor } from './reply.ts';

interface CompletionsBody {
  model: string;
  prompt: string;
  maxTokens: number | null;
  stream: boolean;
}

function parseCompletions(raw: string): CompletionsBody | Problem {
  const parsed = parseObject(raw);
  if ('problem' in parsed) return parsed.problem;
  const b = parsed.body;
  if (typeof b.model !== 'string' || b.model === '') return { param: 'model', message: 'you must provide a model' };
  if (typeof b.prompt !== 'string') return { param: 'prompt', message: 'the mock takes one prompt as a string' };
  const limit = b.max_tokens ?? 16;
  if (limit !== null && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
    return { param: 'max_tokens', message: 'max_tokens must be a positive integer' };
  }
  return { model: b.model, prompt: b.prompt, maxTokens: limit, stream: b.stream === true };
}

/** Answers one legacy completions request whose body is `raw`. */
export async function answerCompletions(call: MockCall, raw: string, latencyMs: number): Promise<void> {
  const body = parseCompletions(raw);
  if ('param' in body) {
    call.count('rejected');
    return sendProblem(call.res, body);
  }
  const passed = await passGate(call, latencyMs);
  if (passed === null) return;
  const { mode } = passed;
  let text = replyFor(promptOf([{ role: 'user', content: body.prompt }]));
  let finish = 'stop';
  if (body.maxTokens !== null && countTokens(text) > body.maxTokens) {
    text = truncateToTokens(text, body.maxTokens);
    finish = 'length';
  }
  const promptTokens = countTokens(body.prompt);
  const completionTokens = countTokens(text);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
  const head = { id: `cmpl-mock-${randomUUID()}`, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: body.model };
  if (!body.stream) {
    const answer = { ...head, ...fingerprint, choices: [{ index: 0, text, finish_reason: finish, logprobs: null }], usage };
    if (mode === 'cut') {
      call.count('cut');
      return sendCut(call.res, answer);
    }
    call.count('ok');
    return sendJson(call.res, 200, answer);
  }
  const { res } = call;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const [i, piece] of chunksOf(text).entries()) {
    if (mode === 'cut' && i >= passed.faults.afterChunks) {
      call.count('cut');
      res.end();
      return;
    }
    res.write(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, text: piece, finish_reason: null, logprobs: null }] })}\n\n`);
  }
  res.write(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, text: '', finish_reason: finish, logprobs: null }], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
  call.count('ok');
}
