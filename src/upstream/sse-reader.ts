// Reads a Server-Sent Events body (text chunks, split anywhere) into events, as the WHATWG spec parses them:
// lines end in \n or \r\n, `data:` lines of one event are joined with \n, a blank line ends the event, an
// event cut off by the end of the stream is never returned. One line, and one event's data, are bounded so a
// broken upstream cannot grow them. Synchronous on purpose: the adapter feeds it each socket read and walks the
// events it completed, with no async-iterator layer (and its promises) per event.

import { SwitchyardError } from '../errors.ts';

export interface SseEvent {
  event: string | undefined;
  data: string;
}

const maxLineChars = 4 * 1024 * 1024;
const noEvents: readonly SseEvent[] = [];

/** An incremental parser: `feed` each piece of text as it arrives; it returns the events that piece completed. */
export class SseParser {
  readonly #maxEventChars: number;
  #pending = '';
  #data = '';
  #lines = 0;
  #event: string | undefined;

  /** `maxEventChars` bounds the data of one event (its lines together). */
  constructor(maxEventChars = maxLineChars) {
    this.#maxEventChars = maxEventChars;
  }

  feed(chunk: string): readonly SseEvent[] {
    let events: SseEvent[] | undefined;
    const pending = this.#pending === '' ? chunk : this.#pending + chunk;
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      const lineEnd = end > start && pending.charCodeAt(end - 1) === 13 ? end - 1 : end;
      const lineStart = start;
      start = end + 1;
      if (lineEnd === lineStart) {
        if (this.#lines > 0) {
          events ??= [];
          events.push({ event: this.#event, data: this.#data });
        }
        this.#data = '';
        this.#lines = 0;
        this.#event = undefined;
        continue;
      }
      if (pending.charCodeAt(lineStart) === 58) continue; // ':' starts a comment
      this.#field(pending, lineStart, lineEnd);
    }
    this.#pending = start === 0 ? pending : pending.slice(start);
    if (this.#pending.length > maxLineChars) throw new SyntaxError(`an event-stream line is longer than ${maxLineChars} characters`);
    return events ?? noEvents;
  }

  #field(text: string, start: number, end: number) {
    let colon = text.indexOf(':', start);
    if (colon === -1 || colon > end) colon = end;
    const valueStart = colon === end ? end : text.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
    // Compared in place: the common `data: {...}` line costs one slice, of its value.
    const isData = colon - start === 4 && text.startsWith('data', start);
    if (isData) {
      const value = text.slice(valueStart, end);
      // As many characters as the lines and one newline each.
      const chars = this.#data.length + value.length + (this.#lines === 0 ? 1 : 2);
      if (chars > this.#maxEventChars)
        throw new SwitchyardError('upstream_response_too_large', `an event-stream event is longer than ${this.#maxEventChars} characters`, {
          retryable: true,
        });
      this.#data = this.#lines === 0 ? value : `${this.#data}\n${value}`;
      this.#lines++;
    } else if (colon - start === 5 && text.startsWith('event', start)) this.#event = text.slice(valueStart, end);
  }
}
