// The byte side of the SSE writer: what one stream writes within one turn of the event loop goes to the socket
// as one write (one syscall, one chunk of the chunked encoding) instead of one per event, and an upstream chunk
// that passes unchanged goes out as the upstream's own text with only its `model` replaced.

import type { ServerResponse } from 'node:http';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { isKey, skipBlank, stringEnd, topLevelMembers } from '../upstream/json-members.ts';

export interface SinkLimits {
  /** Bytes a client may leave unread before it is cut. */
  bufferBytes: number;
  /** How long a write may wait for the client to read before it is cut, in ms. */
  stallMs: number;
}

export interface Sink {
  /**
   * Queues `text`; true (at once, or once the client has read enough) while the stream may go on, false once
   * the client is gone or has been cut. It waits only while the socket's buffer is full: that is the
   * backpressure that stops reading from the upstream.
   */
  write(text: string): boolean | Promise<boolean>;
  /** Ends the response with what is queued and then `text`. */
  end(text: string): void;
}

/** Queued text above this many characters is written at once rather than at the end of the turn. */
const flushChars = 64 * 1024;

/** A coalescing writer to one client; `cut` ends a client that reads too slowly. */
export function createSink(raw: ServerResponse, limits: SinkLimits, cut: (why: string) => void): Sink {
  let queued = '';
  let scheduled = false;
  const open = () => !raw.destroyed && !raw.writableEnded;

  const flush = () => {
    scheduled = false;
    if (queued === '' || !open()) return;
    const text = queued;
    queued = '';
    raw.write(text);
    if (raw.writableLength > limits.bufferBytes) cut(`left more than ${limits.bufferBytes} bytes unread`);
  };

  const drained = async () => {
    const ok = await new Promise<boolean>((resolve) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        raw.off('drain', onDrain);
        raw.off('close', onClose);
        resolve(result);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), limits.stallMs);
      raw.on('drain', onDrain);
      raw.on('close', onClose);
    });
    if (!ok && !raw.destroyed) cut(`read nothing for ${limits.stallMs} ms`);
    return ok && open();
  };

  return {
    write(text) {
      if (!open()) return false;
      queued = queued === '' ? text : queued + text;
      if (queued.length > flushChars) flush();
      else if (!scheduled) {
        scheduled = true;
        // After the I/O callbacks of this turn: every event that one upstream read produced is in the queue.
        setImmediate(flush);
      }
      if (!open()) return false;
      // The socket's buffer is over its mark since an earlier flush: wait until the client reads it.
      return raw.writableNeedDrain ? drained() : true;
    },
    end(text) {
      if (!open()) return;
      const rest = queued;
      queued = '';
      raw.end(rest === '' ? text : rest + text);
    },
  };
}

/**
 * One stream's upstream chunks as the client's events (`data: …\n\n`): the chunk with the stream's `id`,
 * `created` and the logical `model`. A chunk that already carries the stream's id and created goes out as the
 * upstream's own text with its model replaced in place (withModel); when its text starts with `head` (see
 * StreamDelta.head), the head is rewritten once per stream and each chunk is that plus its rest, unscanned.
 * Any other chunk is serialized again with those three set.
 */
export function chunkText(id: string, created: number, model: string) {
  const modelJson = JSON.stringify(model);
  // The upstream head last met, and `data: ` + that head with the model replaced, or undefined when the head has
  // no top-level string `model`: then each chunk is scanned whole, as without a head.
  let upstreamHead: string | undefined;
  let ownHead: string | undefined;
  return (upstream: ChatCompletionChunk, text: string | undefined, head: string | undefined): string => {
    if (text !== undefined && upstream.id === id && upstream.created === created) {
      // The head is checked against the text (a memcmp, not a scan): the writer does not rely on the layers
      // between it and the parser for what goes out under the stream's identity.
      if (head !== undefined && text.slice(0, head.length) === head) {
        if (head !== upstreamHead) {
          upstreamHead = head;
          const replaced = withModel(head, modelJson);
          ownHead = replaced === undefined ? undefined : `data: ${replaced}`;
        }
        // withModel(text) finds the same first top-level `model`, in the head, unless the rest breaks the line.
        const rest = text.slice(head.length);
        if (ownHead !== undefined && rest.indexOf('\n') === -1 && rest.indexOf('\r') === -1) return `${ownHead}${rest}\n\n`;
      }
      const passed = withModel(text, modelJson);
      if (passed !== undefined) return `data: ${passed}\n\n`;
    }
    return `data: ${JSON.stringify({ ...upstream, id, created, model })}\n\n`;
  };
}

/**
 * `data` (one chunk's JSON text, as the upstream sent it) with its top-level `model` set to `modelJson` (a JSON
 * string literal), or undefined when it cannot be done in place: no top-level string `model`, or text that
 * would not stay one SSE line. Only the top level counts: a `"model"` inside a string or a nested object is
 * skipped by the scan, which reads JSON's structure (strings, escapes, depth) up to the key.
 */
export function withModel(data: string, modelJson: string): string | undefined {
  if (data.indexOf('\n') !== -1 || data.indexOf('\r') !== -1) return undefined;
  let replaced: string | undefined;
  topLevelMembers(data, (open, close) => {
    if (!isKey(data, open, close, 'model')) return false;
    replaced = replaceValue(data, close + 1, modelJson);
    return true;
  });
  return replaced;
}

/** Replaces the string value after the key ending at `from` (a colon, maybe spaces, then the value). */
function replaceValue(data: string, from: number, json: string): string | undefined {
  let i = skipBlank(data, from);
  if (data.charCodeAt(i) !== 58) return undefined;
  i = skipBlank(data, i + 1);
  if (data.charCodeAt(i) !== 34) return undefined;
  const close = stringEnd(data, i);
  if (close === -1) return undefined;
  return data.slice(0, i) + json + data.slice(close + 1);
}
