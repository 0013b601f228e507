// Token counting with tiktoken (WASM). Encoders hold WASM memory, so there is one per encoding per process,
// created on first use and freed by freeEncoders() at shutdown. tiktoken itself (its module compiles the WASM
// when loaded: about 15 MB) is loaded on the first count, not at import: a stateless gateway never counts.

import { createRequire } from 'node:module';
import type { Tiktoken, TiktokenEncoding } from 'tiktoken';
import { perMessage, perName, replyPriming } from './chat-format.ts';

export type Encoding = Extract<TiktokenEncoding, 'o200k_base' | 'cl100k_base'>;

const encoders = new Map<Encoding, Tiktoken>();
// Synchronous, so that counting stays synchronous: tiktoken's Node entry is CommonJS.
const load = createRequire(import.meta.url);
let getEncoding: typeof import('tiktoken').get_encoding | undefined;

function encoder(encoding: Encoding): Tiktoken {
  let enc = encoders.get(encoding);
  if (!enc) {
    getEncoding ??= (load('tiktoken') as typeof import('tiktoken')).get_encoding;
    enc = getEncoding(encoding);
    encoders.set(encoding, enc);
  }
  return enc;
}

// BPE merging is quadratic in the length of one pre-tokenized piece, and a run without a break (a million
// "x", or of spaces, or of punctuation) is one piece: 40,000 "x" took 0.9 s, a megabyte minutes, all on the
// event loop. Such runs are counted in slices; words and ordinary text never reach the slice length, so their
// counts are unchanged (a cut run may count a token or so more per slice boundary).
const runSlice = 256;
const longRun = new RegExp(`\\s{${runSlice + 1},}|\\S{${runSlice + 1},}`, 'g');

/** Tokens in a plain text. */
export function countTokens(text: string, encoding: Encoding = 'o200k_base'): number {
  if (text === '') return 0;
  const enc = encoder(encoding);
  longRun.lastIndex = 0;
  if (!longRun.test(text)) return enc.encode_ordinary(text).length;
  longRun.lastIndex = 0; // matchAll starts where test() stopped
  let total = 0;
  let last = 0;
  for (const match of text.matchAll(longRun)) {
    if (match.index > last) total += enc.encode_ordinary(text.slice(last, match.index)).length;
    for (let i = 0; i < match[0].length; i += runSlice) total += enc.encode_ordinary(match[0].slice(i, i + runSlice)).length;
    last = match.index + match[0].length;
  }
  if (last < text.length) total += enc.encode_ordinary(text.slice(last)).length;
  return total;
}

/** The first `maxTokens` tokens of a text, decoded back to a string. */
export function truncateToTokens(text: string, maxTokens: number, encoding: Encoding = 'o200k_base'): string {
  const enc = encoder(encoding);
  const ids = enc.encode_ordinary(text);
  if (ids.length <= maxTokens) return text;
  return new TextDecoder().decode(enc.decode(ids.slice(0, Math.max(0, maxTokens))));
}

export interface ChatMessageLike {
  role: string;
  content?: unknown;
  name?: string | undefined;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && 'text' in part && typeof part.text === 'string' ? part.text : ''))
      .join('');
  }
  return '';
}

/** What one message adds to a prompt: its framing, role, content and name. Counted once per message. */
export function countMessageTokens(m: ChatMessageLike, encoding: Encoding = 'o200k_base'): number {
  let total = perMessage + countTokens(m.role, encoding) + countTokens(contentText(m.content), encoding);
  if (m.name) total += perName + countTokens(m.name, encoding);
  return total;
}

/** Prompt tokens of a chat request, counted the way OpenAI bills them: its messages plus the reply priming. */
export function countChatTokens(messages: readonly ChatMessageLike[], encoding: Encoding = 'o200k_base'): number {
  let total = replyPriming;
  for (const m of messages) total += countMessageTokens(m, encoding);
  return total;
}

/** Releases every encoder's WASM memory. Safe to call more than once. */
export function freeEncoders(): void {
  for (const enc of encoders.values()) enc.free();
  encoders.clear();
}
