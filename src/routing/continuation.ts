// Continuing a stream on another deployment after tokens already reached the caller. How depends on the
// deployment's `continuation` capability: `prefill` servers truly continue a final assistant message;
// `instruct` ones get the partial answer plus an instruction, and their repeats are removed here.

import type { ChatRequest } from '../upstream/adapter.ts';

export const continueInstruction =
  'Your previous message was cut off. Continue it from exactly where it stops: do not repeat any of it and add no preamble.';

/** The request that asks a deployment to continue `partial`, the part of the answer already delivered. */
export function continuationRequest(request: ChatRequest, partial: string, mode: 'prefill' | 'instruct'): ChatRequest {
  if (mode === 'prefill') {
    // vLLM: continue_final_message + add_generation_prompt: false. DeepSeek: `prefix: true` on the message.
    const prefilled = { ...request, messages: [...request.messages, { role: 'assistant', content: partial, prefix: true }] };
    return { ...prefilled, continue_final_message: true, add_generation_prompt: false } as ChatRequest;
  }
  return {
    ...request,
    messages: [...request.messages, { role: 'assistant', content: partial }, { role: 'user', content: continueInstruction }],
  };
}

interface Word {
  text: string;
  /** Offset just past the word in the text it came from. */
  end: number;
}

function wordsOf(text: string): Word[] {
  return Array.from(text.matchAll(/\S+/g), (m) => ({ text: m[0], end: (m.index ?? 0) + m[0].length }));
}

/**
 * Removes what a continuation repeats of the answer delivered so far: a restart from the beginning, or an
 * overlap of up to `maxOverlapWords` words between the end of the delivered text and the start of the
 * continuation (the delivered text may end inside a word). Feed the continuation with push(); it holds text
 * back only while the start is still ambiguous, then passes everything through.
 */
export class RepeatRemover {
  readonly #delivered: Word[];
  readonly #partialLast: boolean;
  readonly #maxOverlap: number;
  #buffer = '';
  #decided = false;

  constructor(delivered: string, maxOverlapWords = 12) {
    this.#delivered = wordsOf(delivered);
    this.#partialLast = delivered.length > 0 && !/\s$/.test(delivered);
    this.#maxOverlap = maxOverlapWords;
  }

  /** Takes the next piece of the continuation; returns what may be passed on now. */
  push(text: string): string {
    if (this.#decided) return text;
    this.#buffer += text;
    // Only whole words can be compared: a trailing word may still grow.
    const complete = wordsOf(this.#buffer).filter((w) => w.end < this.#buffer.length || /\s$/.test(this.#buffer));
    if (this.#ambiguous(complete)) return '';
    return this.#decide(complete);
  }

  /** The continuation ended: decides with what there is and returns the rest. */
  end(): string {
    if (this.#decided) return '';
    return this.#decide(wordsOf(this.#buffer));
  }

  /** Overlap lengths to consider, longest first: the whole delivered text (a restart), then up to the maximum. */
  #overlaps(): number[] {
    const n = this.#delivered.length;
    const ks = [n];
    for (let k = Math.min(this.#maxOverlap, n); k >= 1; k--) if (k !== n) ks.push(k);
    return n === 0 ? [] : ks;
  }

  /** Whether continuation words match the last `k` delivered words (the very last may be a word's start). */
  #matchesAt(words: Word[], k: number, count: number): boolean {
    const d = this.#delivered;
    const start = d.length - k;
    // A continuation that opens with white space starts a new word: it cannot finish the delivered one.
    const partial = this.#partialLast && !/^\s/.test(this.#buffer);
    for (let i = 0; i < count; i++) {
      const dw = d[start + i] as Word;
      const w = words[i] as Word;
      const last = start + i === d.length - 1;
      if (!(dw.text === w.text || (last && partial && w.text.startsWith(dw.text)))) return false;
    }
    return true;
  }

  /** Whether the words so far could still turn into a restart or a longer overlap. */
  #ambiguous(words: Word[]): boolean {
    if (words.length === 0) return true;
    return this.#overlaps().some((k) => words.length < k && this.#matchesAt(words, k, words.length));
  }

  #decide(words: Word[]): string {
    this.#decided = true;
    let cut = 0;
    for (const k of this.#overlaps()) {
      if (words.length < k || !this.#matchesAt(words, k, k)) continue;
      const last = this.#delivered[this.#delivered.length - 1] as Word;
      const matched = words[k - 1] as Word;
      // When the delivered text ended inside a word, keep the rest of that word.
      cut = matched.text === last.text ? matched.end : matched.end - (matched.text.length - last.text.length);
      break;
    }
    const rest = this.#buffer.slice(cut);
    this.#buffer = '';
    return rest;
  }
}
