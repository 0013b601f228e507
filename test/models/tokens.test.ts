import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { promptTokens } from '../../src/conversation/fit.ts';
import { modelInfo, unknownModel } from '../../src/models/table.ts';
import { countChatTokens, countMessageTokens, countTokens } from '../../src/models/tokens.ts';

// The conversation from OpenAI's cookbook "How to count tokens with tiktoken", whose prompt_tokens the API
// reports as 129 for gpt-3.5-turbo and gpt-4 (cl100k_base) and 124 for gpt-4o and gpt-4o-mini (o200k_base).
const cookbook = [
  { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
  { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
];

describe('token counting', () => {
  it("matches the prompt_tokens OpenAI's documentation reports for its example, in both encodings", () => {
    expect(countChatTokens(cookbook, 'cl100k_base')).toBe(129);
    expect(countChatTokens(cookbook, 'o200k_base')).toBe(124);
  });

  it('adds up per-message counts to the whole-prompt count, so each message can be counted once', () => {
    for (const encoding of ['cl100k_base', 'o200k_base'] as const) {
      const perMessage = cookbook.map((m) => countMessageTokens(m, encoding));
      expect(promptTokens(perMessage)).toBe(countChatTokens(cookbook, encoding));
    }
  });

  it('counts a message as its framing, role, content and name', () => {
    const plain = countMessageTokens({ role: 'user', content: 'hello there' });
    expect(plain).toBe(3 + countTokens('user') + countTokens('hello there'));
    expect(countMessageTokens({ role: 'user', content: 'hello there', name: 'ada' })).toBe(plain + 1 + countTokens('ada'));
  });

  it('knows the windows and encodings of current OpenAI models, and errs small for unknown ones', () => {
    expect(modelInfo('gpt-4o-mini')).toEqual({ contextWindow: 128_000, maxOutput: 16_384, encoding: 'o200k_base' });
    expect(modelInfo('gpt-4.1-nano').contextWindow).toBe(1_047_576);
    expect(modelInfo('gpt-4-0613').encoding).toBe('cl100k_base');
    expect(modelInfo('gpt-3.5-turbo').encoding).toBe('cl100k_base');
    expect(modelInfo('o3-mini').encoding).toBe('o200k_base');
    expect(modelInfo('llama3.1:8b')).toEqual(unknownModel);
    expect(modelInfo('llama3.1:8b', { contextWindow: 32_768 }).contextWindow).toBe(32_768);
  });
});

// Issue 14: BPE is quadratic in one unbroken run; a client's megabyte of "x" must not hold the event loop for
// minutes. Runs are counted in slices; text without long runs counts exactly as before.
describe('token counting of hostile text', () => {
  it('counts unbroken megabyte runs of letters, spaces and punctuation (minutes each without slicing)', () => {
    expect(countTokens('x'.repeat(40_000))).toBe(5000);
    for (const ch of ['x', ' ', '!', '7']) expect(countTokens(ch.repeat(1 << 20))).toBeGreaterThan(0);
  });

  it('counts text with words of ordinary length exactly as an unsliced count', () => {
    const enc = get_encoding('o200k_base');
    try {
      for (const text of ['The quick brown fox, jumps over: the lazy dog! 12345 grüße 你好. '.repeat(2000), `a ${'b'.repeat(256)} c`]) {
        expect(countTokens(text)).toBe(enc.encode_ordinary(text).length);
      }
    } finally {
      enc.free();
    }
  });
});
