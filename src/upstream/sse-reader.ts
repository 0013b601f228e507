// Reads a Server-Sent Events body (text chunks, split anywhere) into events, as the WHATWG spec parses them:
// lines end in \n or \r\n, `data:` lines of one event are joined with \n, a blank line ends the event, an
// event cut off by the end of the stream is dropped. One line is bounded so a broken upstream cannot grow it.

export interface SseEvent {
  event: string | undefined;
  data: string;
}

const maxLineChars = 4 * 1024 * 1024;

export async function* readSse(chunks: AsyncIterable<string>): AsyncGenerator<SseEvent, void, undefined> {
  let pending = '';
  let data: string[] = [];
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
        event = undefined;
        continue;
      }
      if (line.charCodeAt(0) === 58) continue; // ':' starts a comment
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.charCodeAt(colon + 1) === 32 ? line.slice(colon + 2) : line.slice(colon + 1);
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
    }
    pending = start === 0 ? pending : pending.slice(start);
    if (pending.length > maxLineChars) throw new SyntaxError(`an event-stream line is longer than ${maxLineChars} characters`);
  }
}
