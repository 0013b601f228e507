// Deterministic replies for the mock upstream: the same prompt always gets the same answer. A reply never
// uses a word twice, so where a continuation overlaps what was already said is never ambiguous.

const vocabulary = (
  'a resilient gateway keeps every chat alive while providers fail and recover under load switchyard routes each ' +
  'request to the healthy deployment with backoff jitter probes so that conversations fit their context window ' +
  'tokens stream quickly through actors states events circuits breakers retries deadlines budgets'
).split(' ');

/** FNV-1a, 32 bits: a cheap stable hash of the prompt. */
export function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The deterministic reply to a prompt: 12 to 27 distinct words drawn from a fixed list by the prompt's hash. */
export function replyFor(prompt: string): string {
  let h = hashText(prompt) || 1;
  const pool = vocabulary.slice();
  const count = 12 + (h % 16);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    h >>>= 0;
    out.push(pool.splice(h % pool.length, 1)[0] ?? 'token');
  }
  const text = out.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** Splits a reply into stream chunks of one word each, the space kept in front of the word. */
export function chunksOf(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

export type ContinuationMode = 'exact' | 'overlap' | 'restart';

/** Words an `overlap` continuation repeats before going on. */
export const overlapWords = 3;

interface MessageLike {
  role: string;
  content?: unknown;
}

/** The prompt text a reply is derived from. */
export function promptOf(messages: readonly MessageLike[]): string {
  return messages.map((m) => `${m.role}:${typeof m.content === 'string' ? m.content : ''}`).join('\n');
}

/**
 * The reply to a conversation. When it ends with an assistant message that is a prefix of the reply to the
 * conversation before it (alone, or followed by one user message asking to continue), the answer continues
 * that prefix the way `mode` says: the exact rest, the last few words again, or the whole reply anew.
 * `compose` turns a prompt into the whole reply (plain words by default; JSON for structured output).
 */
export function answerFor(
  messages: readonly MessageLike[],
  mode: ContinuationMode,
  compose: (prompt: string) => string = replyFor,
): string {
  const at = messages.findLastIndex((m) => m.role === 'assistant');
  const trailing = messages.length - 1 - at;
  const partial = messages[at]?.content;
  if (
    at > 0 &&
    (trailing === 0 || (trailing === 1 && messages[at + 1]?.role === 'user')) &&
    typeof partial === 'string' &&
    partial !== ''
  ) {
    const whole = compose(promptOf(messages.slice(0, at)));
    if (whole.startsWith(partial) && whole.length > partial.length) {
      const rest = whole.slice(partial.length);
      if (mode === 'restart') return whole;
      if (mode === 'overlap') return partial.trim().split(/\s+/).slice(-overlapWords).join(' ') + rest;
      return rest;
    }
  }
  return compose(promptOf(messages));
}
