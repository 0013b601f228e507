// Reply shapes the mock derives deterministically from a reply's words: a JSON value that fits a requested
// JSON Schema (structured output), and log probabilities for each piece of a reply.

import { hashText } from './reply.ts';

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A value that fits `schema`, built from `words` in order (so the same prompt gets the same object). Covers what
 * structured-output schemas use: object, array, string, number, integer, boolean, null, enum, const, anyOf.
 */
export function sampleFor(schema: unknown, words: readonly string[], depth = 0): unknown {
  let next = 0;
  const word = () => words[next++ % Math.max(1, words.length)] ?? 'token';
  const build = (s: unknown, level: number): unknown => {
    if (!isSchema(s) || level > 16) return null;
    if ('const' in s) return s.const;
    if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[hashText(word()) % s.enum.length];
    const variants = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : null;
    if (variants && variants.length > 0) return build(variants[0], level + 1);
    const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
    switch (type) {
      case 'object': {
        const properties = isSchema(s.properties) ? s.properties : {};
        return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, build(value, level + 1)]));
      }
      case 'array': {
        const min = typeof s.minItems === 'number' ? s.minItems : 1;
        return Array.from({ length: Math.max(1, Math.min(min, 8)) }, () => build(s.items, level + 1));
      }
      case 'integer':
        return hashText(word()) % 100;
      case 'number':
        return (hashText(word()) % 10_000) / 100;
      case 'boolean':
        return hashText(word()) % 2 === 0;
      case 'null':
        return null;
      default:
        return word();
    }
  };
  return build(schema, depth);
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

const bytesOf = (token: string) => [...Buffer.from(token, 'utf8')];

/** A stable log probability in (-1, 0) for a piece of text. */
const logprobOf = (token: string) => -((hashText(token) % 997) + 1) / 1000;

/** Log probabilities of the pieces of a reply, with `top` alternatives each (the piece itself first). */
export function logprobsFor(pieces: readonly string[], top: number): TokenLogprob[] {
  return pieces.map((token) => {
    const logprob = logprobOf(token);
    const alternatives = Array.from({ length: Math.max(0, top - 1) }, (_, i) => {
      const alt = `${token.trim()}${i + 1}`;
      return { token: alt, logprob: logprob - (i + 1), bytes: bytesOf(alt) };
    });
    return {
      token,
      logprob,
      bytes: bytesOf(token),
      top_logprobs: top > 0 ? [{ token, logprob, bytes: bytesOf(token) }, ...alternatives] : [],
    };
  });
}
