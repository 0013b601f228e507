// The adapter of a deployment that speaks the Responses API (`api: "responses"`): it serves the router's chat
// calls over `/responses`. A request from the Responses route goes out as the client sent it (its original
// rides on the chat request, responses-wire.ts); any other chat request is translated. Answers come back as
// chat completions and chunks for the router, with the upstream's own Response and events kept beside them for
// the server. Timing, classification and bounds are the chat adapter's (adapter.ts).

import type { IncomingHttpHeaders } from 'node:http';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { Response as OpenAIResponse } from 'openai/resources/responses/responses';
import { SwitchyardError } from '../errors.ts';
import { type AdapterOptions, type AttemptOptions, createOpenAIAdapter, type OpenAIAdapter, type ToolCallDelta } from './adapter.ts';
import { UpstreamError } from './classify.ts';
import { upstreamConnection } from './connection.ts';
import { responsesBodyOf } from './responses-request.ts';
import { completionOfResponse, finishOf } from './responses-translate.ts';
import {
  chatUsageOf,
  type RawResponsesEvent,
  responsesSource,
  upstreamEvents,
  upstreamResponses,
  type WithResponsesSource,
} from './responses-wire.ts';
import { AttemptSignal } from './signals.ts';
import { StreamBody, sseEvents } from './stream-body.ts';
import { wholeAnswer } from './whole-body.ts';
import { errorEventMessage, errorOfAnswer, headerReader, malformed, maxErrorBodyChars, serialize, streamedError } from './wire.ts';

type Fields = Record<string, unknown>;

/** The error a `response.failed` event or a failed Response carries, as the upstream's failure. */
function failure(response: Fields | undefined, headers: IncomingHttpHeaders): UpstreamError {
  const error = (response?.error ?? {}) as { message?: unknown; code?: unknown };
  const message = typeof error.message === 'string' ? error.message : 'the response failed';
  return new UpstreamError(undefined, message, typeof error.code === 'string' ? error.code : undefined, headerReader(headers));
}

/** Creates the Responses adapter of one deployment. */
export function createResponsesAdapter(options: AdapterOptions): OpenAIAdapter {
  const { pathOf, pool, headers, maxResponseBytes, classify } = upstreamConnection(options);
  const path = pathOf('responses');
  const jsonHeaders = { ...headers, accept: 'application/json' };
  const streamHeaders = { ...headers, accept: 'text/event-stream' };
  const limits = { provider: options.id, maxBytes: maxResponseBytes, maxErrorBytes: maxErrorBodyChars };

  // Embeddings are `/embeddings` whatever a deployment speaks for completions (its pool connects only when used).
  const embeddings = createOpenAIAdapter(options);

  return {
    close: async () => {
      await Promise.all([pool.close().catch(() => {}), embeddings.close?.()]);
    },
    ...(embeddings.embed ? { embed: embeddings.embed } : {}),

    async complete(request, attemptOptions: AttemptOptions = {}) {
      const body = serialize(options.id, { ...responsesBodyOf(request), model: options.model, stream: false });
      const attempt = new AttemptSignal(options.id, attemptOptions, options.timeoutMs);
      try {
        const res = await wholeAnswer(pool, { method: 'POST', path, headers: jsonHeaders, body }, limits, attempt.signal);
        if (res.statusCode >= 300) throw errorOfAnswer(res.statusCode, res.headers, res.text);
        const response = JSON.parse(res.text) as OpenAIResponse | null;
        if (response === null || typeof response !== 'object' || !Array.isArray(response.output)) throw malformed('no output');
        if (response.status === 'failed') throw failure(response as unknown as Fields, res.headers);
        const completion = completionOfResponse(response);
        upstreamResponses.set(completion, response);
        return completion;
      } catch (err) {
        throw classify(err, attempt);
      } finally {
        attempt.dispose();
      }
    },

    async *stream(request, attemptOptions: AttemptOptions = {}) {
      // Only the Responses route writes the upstream's own events; a chat client needs text and tool calls.
      const fromRoute = (request as WithResponsesSource)[responsesSource] !== undefined;
      const payload = serialize(options.id, { ...responsesBodyOf(request), model: options.model, stream: true });
      const attempt = new AttemptSignal(options.id, attemptOptions, options.timeoutMs);
      let body: StreamBody | undefined;
      let final: { response: OpenAIResponse; raw: RawResponsesEvent } | undefined;
      let id = '';
      let created = Math.floor(Date.now() / 1000);
      const tools = new Map<string, number>();
      const chunkOf = (delta: ChatCompletionChunk.Choice.Delta, choices = true): ChatCompletionChunk => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model: options.model,
        choices: choices ? [{ index: 0, delta, finish_reason: null, logprobs: null }] : [],
      });
      try {
        const res = new StreamBody(pool, { method: 'POST', path, headers: streamHeaders, body: payload }, attempt.signal);
        body = res;
        await res.head;
        if (res.statusCode >= 300) throw await streamedError(res);
        for await (const event of sseEvents(res, maxResponseBytes)) {
          attempt.arm(options.streamIdleTimeoutMs);
          if (event.data === '[DONE]') break;
          if (event.event === 'error')
            throw new UpstreamError(undefined, errorEventMessage(event.data), undefined, headerReader(res.headers));
          const parsed = JSON.parse(event.data) as Fields;
          const type = typeof parsed.type === 'string' ? parsed.type : (event.event ?? '');
          const raw: RawResponsesEvent = { type, data: event.data, parsed };
          const response = parsed.response as Fields | undefined;
          if (type === 'error')
            throw new UpstreamError(
              undefined,
              errorEventMessage(event.data),
              typeof parsed.code === 'string' ? parsed.code : undefined,
              headerReader(res.headers),
            );
          if (type === 'response.failed') throw failure(response, res.headers);
          if (type === 'response.completed' || type === 'response.incomplete') {
            final = { response: response as unknown as OpenAIResponse, raw };
            continue;
          }
          if (type === 'response.created' && response) {
            id = typeof response.id === 'string' ? response.id : id;
            created = typeof response.created_at === 'number' ? response.created_at : created;
          }
          let content = '';
          let toolCalls: ToolCallDelta[] | undefined;
          const item = parsed.item as Fields | undefined;
          if (type === 'response.output_text.delta' && typeof parsed.delta === 'string') content = parsed.delta;
          else if (type === 'response.output_item.added' && item?.type === 'function_call') {
            const index = tools.size;
            tools.set(String(item.id), index);
            const args = typeof item.arguments === 'string' ? item.arguments : '';
            toolCalls = [{ index, id: String(item.call_id), type: 'function', function: { name: String(item.name), arguments: args } }];
          } else if (type === 'response.function_call_arguments.delta' && typeof parsed.delta === 'string') {
            toolCalls = [{ index: tools.get(String(parsed.item_id)) ?? 0, function: { arguments: parsed.delta } }];
          } else if (!fromRoute) continue;
          const chunk = chunkOf(toolCalls ? { tool_calls: toolCalls } : content === '' ? {} : { content });
          if (fromRoute) upstreamEvents.set(chunk, raw);
          attempt.pause();
          yield { type: 'delta', content, ...(toolCalls ? { toolCalls } : {}), chunk };
          attempt.arm(options.streamIdleTimeoutMs);
        }
        if (attempt.signal.aborted) throw attempt.signal.reason;
        if (!final) {
          throw new SwitchyardError('stream_interrupted', `${options.id}: the stream ended before response.completed`, {
            provider: options.id,
          });
        }
        const usage = chatUsageOf(final.response.usage);
        const end = chunkOf({}, false);
        if (usage) end.usage = usage;
        if (fromRoute) upstreamEvents.set(end, final.raw);
        return { type: 'end', finishReason: finishOf(final.response), usage, chunk: end };
      } catch (err) {
        throw classify(err, attempt);
      } finally {
        attempt.dispose();
        body?.destroy();
      }
    },
  };
}

/** The adapter for what a deployment speaks: chat completions (the default) or the Responses API. */
export function adapterFor(api: 'chat' | 'responses' | undefined, options: AdapterOptions): OpenAIAdapter {
  return api === 'responses' ? createResponsesAdapter(options) : createOpenAIAdapter(options);
}
