// POST /v1/chat/completions of the mock upstream: deterministic replies, tool calls, structured output and
// log probabilities, whole or streamed, after the fault gate.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { countChatTokens, countTokens, truncateToTokens } from '../models/tokens.ts';
import { type MockCall, passGate, sendCut } from './gate.ts';
import { openAIError, type Problem, parseObject, sendJson, sendProblem } from './http.ts';
import { answerFor, type ContinuationMode, chunksOf, replyFor } from './reply.ts';
import { logprobsFor, sampleFor } from './shaped.ts';
import { toolCallDeltas, toolCallFor, toolCallMessage, toolOf } from './tools.ts';

export interface ChatSettings {
  contextWindow: number;
  latencyMs: number;
  chunkDelayMs: number;
  continuation: ContinuationMode;
}

interface ChatBody {
  model: string;
  messages: { role: string; content?: unknown; name?: string }[];
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | null;
  continueFinal: boolean;
  /** The function the reply calls: with `tools` and a user message last (not a tool result), unless `tool_choice` is none. */
  tool: string | null;
  /** Alternatives per token when `logprobs` is true; null without logprobs. */
  topLogprobs: number | null;
  /** Turns a prompt into the whole reply: plain words, or JSON for `response_format`. */
  compose: (prompt: string) => string;
}

// Fields OpenAI sends on every completion and chunk; a faithful gateway passes them on.
export const fingerprint = { system_fingerprint: 'fp_switchyard_mock', service_tier: 'default' } as const;

/** The reply composer a `response_format` asks for (structured output), or plain words. */
export function composerFor(format: unknown): ((prompt: string) => string) | Problem {
  if (format === undefined || format === null) return replyFor;
  const f = format as { type?: unknown; json_schema?: { schema?: unknown } };
  if (f.type === 'text') return replyFor;
  if (f.type === 'json_object') return (prompt) => JSON.stringify({ answer: replyFor(prompt) }, null, 1);
  if (f.type === 'json_schema' && typeof f.json_schema?.schema === 'object') {
    const schema = f.json_schema.schema;
    return (prompt) => JSON.stringify(sampleFor(schema, replyFor(prompt).replace(/\.$/, '').split(' ')), null, 1);
  }
  return { param: 'response_format', message: 'expected type text, json_object, or json_schema with a schema' };
}

function parseChatBody(raw: string): ChatBody | Problem {
  const parsed = parseObject(raw);
  if ('problem' in parsed) return parsed.problem;
  const b = parsed.body;
  if (typeof b.model !== 'string' || b.model === '') return { param: 'model', message: 'you must provide a model' };
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    return { param: 'messages', message: 'messages must be a non-empty array' };
  }
  for (const [i, m] of b.messages.entries()) {
    if (typeof m !== 'object' || m === null || typeof (m as { role?: unknown }).role !== 'string') {
      return { param: `messages[${i}].role`, message: 'each message needs a role' };
    }
  }
  const limit = b.max_completion_tokens ?? b.max_tokens;
  const options = b.stream_options as { include_usage?: unknown } | undefined;
  const tool = toolOf(b, b.messages as { role: string }[]);
  if (tool !== null && typeof tool === 'object') return tool;
  const compose = composerFor(b.response_format);
  if (typeof compose === 'object') return compose;
  const top = typeof b.top_logprobs === 'number' ? Math.min(20, Math.max(0, Math.floor(b.top_logprobs))) : 0;
  return {
    model: b.model,
    messages: b.messages as ChatBody['messages'],
    stream: b.stream === true,
    includeUsage: options?.include_usage === true,
    maxTokens: typeof limit === 'number' && limit > 0 ? Math.floor(limit) : null,
    continueFinal: b.continue_final_message === true,
    tool,
    topLogprobs: b.logprobs === true ? top : null,
    compose,
  };
}

/** Answers one chat completion request whose body is `raw`. */
export async function answerChat(call: MockCall, raw: string, settings: ChatSettings): Promise<void> {
  const { res, gone, count } = call;
  const body = parseChatBody(raw);
  if ('param' in body) {
    count('rejected');
    return sendProblem(res, body);
  }
  const passed = await passGate(call, settings.latencyMs);
  if (passed === null) return;
  const { mode, faults } = passed;
  const promptTokens = countChatTokens(body.messages);
  if (promptTokens > settings.contextWindow) {
    count('rejected');
    const message = `This model's maximum context length is ${settings.contextWindow} tokens. However, your messages resulted in ${promptTokens} tokens.`;
    return sendJson(res, 400, openAIError(400, message, 'context_length_exceeded', 'messages'));
  }
  const continuation = body.continueFinal ? 'exact' : (faults.continuation ?? settings.continuation);
  // A tool call's arguments are derived from the prompt, like a text reply: the same request, the same call.
  const toolCall = body.tool === null ? null : toolCallFor(body.messages, body.tool);
  let text = toolCall === null ? answerFor(body.messages, continuation, body.compose) : '';
  let finish: 'stop' | 'length' | 'tool_calls' = toolCall === null ? 'stop' : 'tool_calls';
  if (toolCall === null && body.maxTokens !== null && countTokens(text) > body.maxTokens) {
    text = truncateToTokens(text, body.maxTokens);
    finish = 'length';
  }
  const usage = { prompt_tokens: promptTokens, completion_tokens: countTokens(toolCall?.arguments ?? text), total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const id = `chatcmpl-mock-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const pieces = chunksOf(text);
  const logprobs = (content: string[]) =>
    body.topLogprobs === null || toolCall !== null ? null : { content: logprobsFor(content, body.topLogprobs), refusal: null };
  if (!body.stream) {
    const completion = {
      id,
      object: 'chat.completion',
      created,
      model: body.model,
      choices: [
        {
          index: 0,
          message: toolCall === null ? { role: 'assistant', content: text, refusal: null } : toolCallMessage(toolCall),
          finish_reason: finish,
          logprobs: logprobs(pieces),
        },
      ],
      usage,
      ...fingerprint,
    };
    if (mode === 'cut') {
      count('cut');
      return sendCut(res, completion);
    }
    count('ok');
    return sendJson(res, 200, completion);
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, ...fingerprint, choices, ...extra })}\n\n`,
    );
  const { first, deltas } =
    toolCall === null
      ? { first: { role: 'assistant', content: '' }, deltas: pieces.map((piece) => ({ content: piece })) }
      : (({ first, pieces }) => ({ first, deltas: pieces }))(toolCallDeltas(toolCall));
  send([{ index: 0, delta: first, finish_reason: null, logprobs: null }]);
  for (const [i, delta] of deltas.entries()) {
    if (mode === 'cut' && i >= faults.afterChunks) {
      count('cut');
      res.end();
      return;
    }
    if (settings.chunkDelayMs) await sleep(settings.chunkDelayMs, undefined, { signal: gone }).catch(() => {});
    if (gone.aborted) return;
    const piece = pieces[i];
    send([{ index: 0, delta, finish_reason: null, logprobs: piece === undefined ? null : logprobs([piece]) }]);
  }
  send([{ index: 0, delta: {}, finish_reason: finish, logprobs: null }]);
  if (body.includeUsage) send([], { usage });
  res.end('data: [DONE]\n\n');
  count(mode === 'cut' ? 'cut' : 'ok');
}
