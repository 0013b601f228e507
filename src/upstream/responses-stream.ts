// A routed stream as the Responses API's named events (pure: text in, SSE text out). Events a Responses
// upstream sent pass unchanged, their data written as it arrived; a chat upstream's deltas, and whatever a
// continuation on another deployment added, are written as the events OpenAI sends for them. The composer
// keeps the response's items itself, so a stream continued elsewhere still ends as one whole response under one id.

import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { RouteInfo } from '../errors.ts';
import type { ToolCallDelta } from './adapter.ts';
import { responsesUsageOf, upstreamEvents } from './responses-wire.ts';

/** A routed stream's piece (src/routing/request.ts, ChatStreamEvent), as far as the composer reads it. */
export type RoutedDelta = {
  type: 'delta';
  content: string;
  toolCalls?: ToolCallDelta[] | undefined;
  deployment: string;
  chunk?: ChatCompletionChunk | undefined;
};
export type RoutedEnd = {
  type: 'end';
  finishReason: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens?: number } | null;
  route: RouteInfo;
  chunk?: ChatCompletionChunk | undefined;
};

interface Item {
  id: string;
  /** `other`: an item the gateway does not compose (reasoning, …), kept as the upstream sent it. */
  type: 'message' | 'function_call' | 'other';
  raw?: Fields | undefined;
  text: string;
  callId: string;
  name: string;
  done: boolean;
}

type Fields = Record<string, unknown>;

const envelope = new Set(['response.created', 'response.in_progress', 'response.queued']);

export class ResponsesStreamComposer {
  readonly #id: string;
  readonly #base: Fields;
  readonly #newId: (prefix: string) => string;
  readonly #items: Item[] = [];
  /** Which output item a chat tool call's index went to. */
  readonly #tools = new Map<number, number>();
  #seq = 0;
  #started = false;
  /** Set once a piece came that was not the first upstream's own: the end is then composed here. */
  #rebuilt = false;

  /** `base`: the Response's fields known at the start (id, created_at, model and the request's echo). */
  constructor(base: Fields & { id: string }, newId: (prefix: string) => string) {
    this.#id = base.id;
    this.#base = base;
    this.#newId = newId;
  }

  #event(type: string, fields: Fields): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.#seq++, ...fields })}\n\n`;
  }

  #response(status: string, extra: Fields = {}): Fields {
    return { ...this.#base, object: 'response', status, error: null, incomplete_details: null, output: [], usage: null, ...extra };
  }

  #start(out: string[]) {
    if (this.#started) return;
    this.#started = true;
    out.push(this.#event('response.created', { response: this.#response('in_progress') }));
    out.push(this.#event('response.in_progress', { response: this.#response('in_progress') }));
  }

  #itemOf(item: Item): Fields {
    if (item.type === 'other') return item.raw ?? { id: item.id };
    const status = item.done ? 'completed' : 'in_progress';
    if (item.type === 'function_call')
      return { id: item.id, type: 'function_call', status, call_id: item.callId, name: item.name, arguments: item.text };
    const content = item.done || item.text !== '' ? [{ type: 'output_text', text: item.text, annotations: [] }] : [];
    return { id: item.id, type: 'message', status, role: 'assistant', content };
  }

  #close(out: string[], index: number) {
    const item = this.#items[index];
    if (!item || item.done) return;
    item.done = true;
    if (item.type === 'other') {
      out.push(this.#event('response.output_item.done', { output_index: index, item: this.#itemOf(item) }));
      return;
    }
    const at = { item_id: item.id, output_index: index };
    if (item.type === 'message') {
      out.push(this.#event('response.output_text.done', { ...at, content_index: 0, text: item.text, logprobs: [] }));
      out.push(
        this.#event('response.content_part.done', {
          ...at,
          content_index: 0,
          part: { type: 'output_text', text: item.text, annotations: [] },
        }),
      );
    } else out.push(this.#event('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.text }));
    out.push(this.#event('response.output_item.done', { output_index: index, item: this.#itemOf(item) }));
  }

  #open(out: string[], item: Item): number {
    for (let i = 0; i < this.#items.length; i++) this.#close(out, i);
    this.#items.push(item);
    const index = this.#items.length - 1;
    out.push(this.#event('response.output_item.added', { output_index: index, item: this.#itemOf(item) }));
    if (item.type === 'message')
      out.push(
        this.#event('response.content_part.added', {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          part: { type: 'output_text', text: '', annotations: [] },
        }),
      );
    return index;
  }

  /** An upstream Responses event: passed unchanged when it belongs to what was passed so far. */
  #passed(raw: { type: string; data: string; parsed: Fields }, out: string[]): boolean {
    const { type, parsed } = raw;
    if (envelope.has(type)) {
      // The envelope carries the gateway's id and the logical model, so it is composed here.
      if (!this.#started) this.#start(out);
      return true;
    }
    const item = parsed.item as Fields | undefined;
    const itemId = typeof parsed.item_id === 'string' ? parsed.item_id : typeof item?.id === 'string' ? item.id : null;
    let index = itemId === null ? -1 : this.#items.findIndex((i) => i.id === itemId);
    if (type === 'response.output_item.added' && index === -1 && itemId !== null && !this.#rebuilt) {
      const kind = item?.type === 'function_call' ? 'function_call' : item?.type === 'message' ? 'message' : 'other';
      this.#items.push({
        raw: item,
        id: itemId,
        type: kind,
        text: '',
        callId: String(item?.call_id ?? ''),
        name: String(item?.name ?? ''),
        done: false,
      });
      index = this.#items.length - 1;
    } else if (index === -1) return false;
    const known = this.#items[index] as Item;
    if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta')
      known.text += String(parsed.delta ?? '');
    if (type === 'response.output_item.done') {
      known.done = true;
      if (known.type === 'other') known.raw = item;
    }
    // An upstream that skipped its own response.created still gets one, before anything else.
    this.#start(out);
    if (typeof parsed.sequence_number === 'number') this.#seq = Math.max(this.#seq, parsed.sequence_number + 1);
    out.push(`event: ${type}\ndata: ${raw.data}\n\n`);
    return true;
  }

  /** The SSE text for one piece of the routed stream. */
  delta(event: RoutedDelta): string {
    const out: string[] = [];
    const raw = event.chunk ? upstreamEvents.get(event.chunk) : undefined;
    if (raw && this.#passed(raw, out)) return out.join('');
    this.#start(out);
    if (raw && raw.type !== 'response.output_text.delta' && raw.type !== 'response.function_call_arguments.delta' && !event.toolCalls) {
      // Another upstream's bookkeeping (its own items opening and closing): this stream keeps its own.
      return out.join('');
    }
    this.#rebuilt = true;
    for (const call of event.toolCalls ?? []) {
      let index = this.#tools.get(call.index);
      if (index === undefined || call.id) {
        const item: Item = {
          id: this.#newId('fc'),
          type: 'function_call',
          text: '',
          callId: call.id ?? this.#newId('call'),
          name: call.function?.name ?? '',
          done: false,
        };
        index = this.#open(out, item);
        this.#tools.set(call.index, index);
      }
      const piece = call.function?.arguments ?? '';
      const item = this.#items[index] as Item;
      if (piece === '') continue;
      item.text += piece;
      out.push(this.#event('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: piece }));
    }
    if (event.content !== '' && !event.toolCalls) {
      let index = this.#items.length - 1;
      const last = this.#items[index];
      if (last?.type !== 'message' || last.done)
        index = this.#open(out, { id: this.#newId('msg'), type: 'message', text: '', callId: '', name: '', done: false });
      const item = this.#items[index] as Item;
      item.text += event.content;
      out.push(
        this.#event('response.output_text.delta', {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          delta: event.content,
          logprobs: [],
        }),
      );
    }
    return out.join('');
  }

  /** The SSE text that ends the stream, and the final Response (what is stored). */
  end(event: RoutedEnd): { text: string; response: Fields } {
    const out: string[] = [];
    this.#start(out);
    for (let i = 0; i < this.#items.length; i++) this.#close(out, i);
    const raw = event.chunk ? upstreamEvents.get(event.chunk) : undefined;
    const upstream = raw?.parsed.response as Fields | undefined;
    const incomplete = upstream ? raw?.type === 'response.incomplete' : event.finishReason === 'length';
    // The upstream's own final Response when it alone answered; otherwise the one this stream composed.
    const response =
      upstream && !this.#rebuilt && !event.route.continued
        ? { ...upstream, id: this.#id, model: this.#base.model, switchyard: event.route }
        : this.#response(incomplete ? 'incomplete' : 'completed', {
            incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
            output: this.#items.map((item) => this.#itemOf(item)),
            usage: responsesUsageOf(event.usage),
            switchyard: event.route,
          });
    out.push(this.#event(incomplete ? 'response.incomplete' : 'response.completed', { response }));
    return { text: out.join(''), response };
  }

  /** The SSE text of a failure after the stream started: `response.failed`, then OpenAI's `error` event. */
  fail(body: { error: { code: string; message: string; param: string | null }; switchyard?: unknown }): string {
    const out: string[] = [];
    this.#start(out);
    const { code, message, param } = body.error;
    const failed = this.#response('failed', { error: { code, message }, output: this.#items.map((i) => this.#itemOf(i)) });
    out.push(this.#event('response.failed', { response: failed }));
    // OpenAI's error event; `error` (its usual error object) is what the openai SDK raises as an APIError.
    out.push(this.#event('error', { code, message, param, ...body }));
    return out.join('');
  }
}
