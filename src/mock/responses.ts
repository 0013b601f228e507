// POST /v1/responses (and GET/DELETE /v1/responses/{id}) of the mock upstream: OpenAI's Responses API with
// deterministic replies, function calls and structured output, whole or streamed as named events, after the
// fault gate. Stored responses (store defaults to true) can be read back and continued with previous_response_id.

import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { countChatTokens, countTokens, truncateToTokens } from '../models/tokens.ts';
import { composerFor } from './chat.ts';
import { type MockCall, passGate, sendCut } from './gate.ts';
import { openAIError, parseObject, sendJson, sendProblem, sseEvent } from './http.ts';
import { answerFor, type ContinuationMode, chunksOf } from './reply.ts';
import { chatFormatOf, type MockMessage, parseResponsesBody } from './responses-input.ts';
import { toolCallFor } from './tools.ts';

export interface ResponsesSettings {
  contextWindow: number;
  latencyMs: number;
  chunkDelayMs: number;
  continuation: ContinuationMode;
}

interface Stored {
  response: Record<string, unknown>;
  /** Everything the response saw and said, for a later previous_response_id. */
  messages: MockMessage[];
}

// Stored responses are kept in arrival order; the oldest go first beyond this many.
const storedKept = 1000;

/** The Responses endpoints of one mock upstream, with their store of responses. */
export function createResponses() {
  const stored = new Map<string, Stored>();
  const keep = (id: string, entry: Stored) => {
    stored.set(id, entry);
    if (stored.size > storedKept) stored.delete(stored.keys().next().value as string);
  };

  async function create(call: MockCall, raw: string, settings: ResponsesSettings): Promise<void> {
    const { res, count } = call;
    const parsed = parseObject(raw);
    const body = 'problem' in parsed ? parsed.problem : parseResponsesBody(parsed.body);
    if ('param' in body) {
      count('rejected');
      return sendProblem(res, body);
    }
    const compose = composerFor(chatFormatOf(body.format));
    if (typeof compose === 'object') {
      count('rejected');
      return sendProblem(res, { param: 'text.format', message: compose.message });
    }
    const previous = body.previousResponseId === null ? null : stored.get(body.previousResponseId);
    if (previous === undefined) {
      count('rejected');
      return sendJson(
        res,
        404,
        openAIError(
          404,
          `Previous response with id '${body.previousResponseId}' not found.`,
          'previous_response_not_found',
          'previous_response_id',
        ),
      );
    }
    const passed = await passGate(call, settings.latencyMs);
    if (passed === null) return;
    const { mode, faults } = passed;
    const system: MockMessage[] = body.instructions === null ? [] : [{ role: 'system', content: body.instructions }];
    const history = [...(previous?.messages ?? []), ...body.input];
    const messages = [...system, ...history];
    const inputTokens = countChatTokens(messages);
    if (inputTokens > settings.contextWindow) {
      count('rejected');
      const message = `Your input exceeds the context window of this model (${settings.contextWindow} tokens; the input has ${inputTokens}).`;
      return sendJson(res, 400, openAIError(400, message, 'context_length_exceeded', 'input'));
    }
    const toolCall = body.tool === null ? null : toolCallFor(messages, body.tool);
    let text = toolCall === null ? answerFor(messages, faults.continuation ?? settings.continuation, compose) : '';
    let incomplete = false;
    if (toolCall === null && body.maxOutputTokens !== null && countTokens(text) > body.maxOutputTokens) {
      text = truncateToTokens(text, body.maxOutputTokens);
      incomplete = true;
    }
    const outputTokens = countTokens(toolCall?.arguments ?? text);
    const id = `resp_mock_${randomUUID().replaceAll('-', '')}`;
    const itemId = `${toolCall === null ? 'msg' : 'fc'}_mock_${randomUUID().replaceAll('-', '')}`;
    const part = { type: 'output_text', text, annotations: [], logprobs: [] };
    const item =
      toolCall === null
        ? { id: itemId, type: 'message', status: 'completed', role: 'assistant', content: [part] }
        : {
            id: itemId,
            type: 'function_call',
            status: 'completed',
            call_id: toolCall.id,
            name: toolCall.name,
            arguments: toolCall.arguments,
          };
    const base = {
      id,
      object: 'response',
      created_at: Math.floor(Date.now() / 1000),
      error: null,
      instructions: body.instructions,
      max_output_tokens: body.maxOutputTokens,
      metadata: {},
      model: body.model,
      parallel_tool_calls: true,
      previous_response_id: body.previousResponseId,
      store: body.store,
      temperature: 1,
      text: { format: body.format },
      tool_choice: body.toolChoice,
      tools: body.tools,
      top_p: 1,
      truncation: 'disabled',
    };
    const final = {
      ...base,
      status: incomplete ? 'incomplete' : 'completed',
      incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
      output: [item],
      usage: {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + outputTokens,
      },
    };
    const remember = () => {
      if (body.store) keep(id, { response: final, messages: [...history, { role: 'assistant', content: text }] });
    };
    if (!body.stream) {
      if (mode === 'cut') {
        count('cut');
        return sendCut(res, final);
      }
      remember();
      count('ok');
      return sendJson(res, 200, final);
    }
    const stream = eventWriter(res);
    const inProgress = { ...base, status: 'in_progress', incomplete_details: null, output: [], usage: null };
    stream.send('response.created', { response: inProgress });
    stream.send('response.in_progress', { response: inProgress });
    const at = { item_id: itemId, output_index: 0 };
    const pieces = toolCall === null ? chunksOf(text) : (toolCall.arguments.match(/[\s\S]{1,8}/g) ?? []);
    if (toolCall === null) {
      stream.send('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
      stream.send('response.content_part.added', { ...at, content_index: 0, part: { ...part, text: '' } });
    } else stream.send('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', arguments: '' } });
    for (const [i, piece] of pieces.entries()) {
      if (mode === 'cut' && i >= faults.afterChunks) {
        count('cut');
        res.end();
        return;
      }
      if (settings.chunkDelayMs) await sleep(settings.chunkDelayMs, undefined, { signal: call.gone }).catch(() => {});
      if (call.gone.aborted) return;
      if (toolCall === null) stream.send('response.output_text.delta', { ...at, content_index: 0, delta: piece, logprobs: [] });
      else stream.send('response.function_call_arguments.delta', { ...at, delta: piece });
    }
    if (toolCall === null) {
      stream.send('response.output_text.done', { ...at, content_index: 0, text, logprobs: [] });
      stream.send('response.content_part.done', { ...at, content_index: 0, part });
    } else stream.send('response.function_call_arguments.done', { ...at, name: toolCall.name, arguments: toolCall.arguments });
    stream.send('response.output_item.done', { output_index: 0, item });
    stream.send(incomplete ? 'response.incomplete' : 'response.completed', { response: final });
    res.end();
    remember();
    count(mode === 'cut' ? 'cut' : 'ok');
  }

  return {
    create,
    /** GET /v1/responses/{id}. */
    get(res: ServerResponse, id: string) {
      const entry = stored.get(id);
      if (!entry) return sendJson(res, 404, openAIError(404, `No response found with id '${id}'.`, 'not_found', 'response_id'));
      sendJson(res, 200, entry.response);
    },
    /** DELETE /v1/responses/{id}. */
    delete(res: ServerResponse, id: string) {
      if (!stored.delete(id)) return sendJson(res, 404, openAIError(404, `No response found with id '${id}'.`, 'not_found', 'response_id'));
      sendJson(res, 200, { id, object: 'response', deleted: true });
    },
  };
}

/** Writes the named events of a Responses stream, numbering them in order. */
function eventWriter(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let sequence = 0;
  return {
    send(type: string, fields: Record<string, unknown>) {
      sseEvent(res, { type, sequence_number: sequence++, ...fields }, type);
    },
  };
}
