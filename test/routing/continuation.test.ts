import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { continuationRequest, continueInstruction, RepeatRemover } from '../../src/routing/continuation.ts';

/** Feeds a continuation to the remover in the given pieces and returns what it passes on. */
function clean(delivered: string, pieces: string[]): string {
  const remover = new RepeatRemover(delivered);
  return pieces.map((p) => remover.push(p)).join('') + remover.end();
}

const pieces = (text: string) => text.match(/\s*\S+/g) ?? [];

describe('RepeatRemover', () => {
  const text = 'Switchyard keeps every chat alive while providers fail and recover.';
  const cutAt = text.indexOf(' while');
  const delivered = text.slice(0, cutAt);
  const rest = text.slice(cutAt);

  it('passes an exact continuation through untouched', () => {
    expect(clean(delivered, pieces(rest))).toBe(rest);
  });

  it('removes a repeat of the last few words', () => {
    expect(clean(delivered, pieces(`chat alive${rest}`))).toBe(rest);
  });

  it('removes a restart from the beginning of the answer', () => {
    expect(clean(delivered, pieces(text))).toBe(rest);
  });

  it('keeps the rest of a word the delivered text stopped inside', () => {
    const inside = text.slice(0, text.indexOf('ive')); // "...chat al"
    expect(inside + clean(inside, pieces(`chat alive${rest}`))).toBe(text);
    expect(inside + clean(inside, ['ive', ...pieces(rest)])).toBe(text);
  });

  it('holds text back only while the start is ambiguous', () => {
    const remover = new RepeatRemover(delivered);
    expect(remover.push('chat ')).toBe(''); // could be the start of an overlap
    expect(remover.push('alive ')).toBe(' '); // the overlap is complete: what follows it passes
    expect(remover.push('while ')).toBe('while ');
    expect(remover.push('providers')).toBe('providers');
  });

  it('for any text of distinct words and cut point, delivered + cleaned continuation equals the text when the continuation repeats up to 12 words or restarts', () => {
    const distinctWords = fc.uniqueArray(fc.stringMatching(/^[A-Za-z][a-z]{0,7}[.,]?$/), {
      minLength: 2,
      maxLength: 40,
      selector: (w) => w.replace(/[.,]$/, '').toLowerCase(),
    });
    fc.assert(
      fc.property(
        distinctWords,
        fc.nat(),
        fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constant(-1)),
        fc.nat(),
        (words, cutSeed, repeat, splitSeed) => {
          const full = words.join(' ');
          const cut = 1 + (cutSeed % (words.length - 1)); // cut between words: at least one delivered, one left
          const deliveredText = words.slice(0, cut).join(' ');
          const remainder = full.slice(deliveredText.length);
          const repeated = repeat === -1 ? deliveredText : words.slice(Math.max(0, cut - repeat), cut).join(' ');
          const continuation = repeat === 0 ? remainder : repeated + remainder;
          // Split the continuation into arbitrary pieces, as a stream would.
          const at = continuation.length === 0 ? 0 : splitSeed % continuation.length;
          const result = deliveredText + clean(deliveredText, [continuation.slice(0, at), continuation.slice(at)]);
          expect(result).toBe(full);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('RepeatRemover with a cut inside a word', () => {
  it('for any text of distinct words cut inside a word, an exact rest, a repeat of whole words or a restart all assemble to the text', () => {
    const distinctWords = fc.uniqueArray(fc.stringMatching(/^[a-z]{2,8}$/), { minLength: 2, maxLength: 30 });
    fc.assert(
      fc.property(distinctWords, fc.nat(), fc.nat(), fc.integer({ min: -1, max: 6 }), (words, wordSeed, charSeed, repeat) => {
        const full = words.join(' ');
        const startOf = (i: number) => (i <= 0 ? 0 : words.slice(0, i).join(' ').length + 1);
        const w = wordSeed % words.length;
        const wordStart = startOf(w);
        const word = words[w] as string;
        const inside = 1 + (charSeed % (word.length - 1)); // strictly inside the word
        const delivered = full.slice(0, wordStart + inside);
        // Inherently ambiguous: the rest of the word starts with the part already delivered ("ab|ab").
        fc.pre(!word.slice(inside).startsWith(word.slice(0, inside)));
        // -1: a restart; 0: the exact rest; r: the last r words again, the cut word among them.
        const from = repeat === -1 ? 0 : repeat === 0 ? delivered.length : startOf(w - repeat + 1);
        const continuation = full.slice(from);
        expect(delivered + clean(delivered, pieces(continuation))).toBe(full);
      }),
      { numRuns: 500 },
    );
  });
});

describe('continuationRequest', () => {
  const request = { messages: [{ role: 'user' as const, content: 'Tell me a story.' }], temperature: 0.2 };

  it('asks a prefill server to continue the final assistant message', () => {
    const body = continuationRequest(request, 'Once upon', 'prefill') as unknown as Record<string, unknown>;
    expect(body).toMatchObject({ continue_final_message: true, add_generation_prompt: false, temperature: 0.2 });
    expect((body.messages as unknown[]).at(-1)).toEqual({ role: 'assistant', content: 'Once upon', prefix: true });
  });

  it('gives an instruct server the partial answer and an instruction to continue', () => {
    const body = continuationRequest(request, 'Once upon', 'instruct');
    expect(body.messages.slice(-2)).toEqual([
      { role: 'assistant', content: 'Once upon' },
      { role: 'user', content: continueInstruction },
    ]);
    expect(body).not.toHaveProperty('continue_final_message');
  });
});
