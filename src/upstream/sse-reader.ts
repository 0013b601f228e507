// Reads a Server-Sent Events body (text chunks, split anywhere) into events, as the WHATWG spec parses them:
// lines end in \n or \r\n, `data:` lines of one event are joined with \n, a blank line ends the event, an
// event cut off by the end of the stream is dropped. One line, and one event's data, are bounded so a broken
// upstream cannot grow them.

import { SwitchyardError } from '../errors.ts';

export interface SseEvent {
  event: string | undefined;
  data: string;
}

const maxLineChars = 4 * 1024 * 1024;

/** Reads events; `maxEventChars` bounds the data of one event (its lines together). */
export async function* readSse(chunks: AsyncIterable<string>, maxEventChars = maxLineChars): AsyncGenerator<SseEvent, void, undefined> {
  let pending = '';
  let data: string[] = [];
  let dataChars = 0;
  let event: string | undefined;
  for await (const chunk of chunks) {
    pending = pending === '' ? chunk : pending + chunk;
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      const line = pending.charCodeAt(end - 1) === 13 && end > start ? pending.slice(start, end - 1) : pending.slice(start, end);
      start = end + 1;
      if (line === '') {
        if (data.length > 0) yield { event, data: data.length === 1 ? (data[0] as string) : data.join('\n') };
        data = [];
        dataChars = 0;
        event = undefined;
        continue;
      }
      if (line.charCodeAt(0) === 58) continue; // ':' starts a comment
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
      if (field === 'data') {
        dataChars += value.length + 1;
        if (dataChars > maxEventChars)
          throw new SwitchyardError('upstream_response_too_large', `an event-stream event is longer than ${maxEventChars} characters`, {
            retryable: true,
          });
        data.push(value);
      } else if (field === 'event') event = value;
    }
    pending = start === 0 ? pending : pending.slice(start);
    if (pending.length > maxLineChars) throw new SyntaxError(`an event-stream line is longer than ${maxLineChars} characters`);
  }
}
