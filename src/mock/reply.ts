// Deterministic replies for the mock upstream: the same prompt always gets the same answer.

const words = (
  'the a resilient gateway keeps every chat alive while providers fail and recover under load ' +
  'switchyard routes each request to a healthy deployment with backoff jitter and probes so that ' +
  'conversations fit their context window tokens stream quickly through actors states and events'
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

/** The deterministic reply to a prompt: 12 to 27 words drawn from a fixed list by the prompt's hash. */
export function replyFor(prompt: string): string {
  let h = hashText(prompt) || 1;
  const count = 12 + (h % 16);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    h >>>= 0;
    out.push(words[h % words.length] ?? 'token');
  }
  const text = out.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** Splits a reply into stream chunks of one word each, the space kept in front of the word. */
export function chunksOf(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}
