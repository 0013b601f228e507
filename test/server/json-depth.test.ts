// The body parser's depth scan: strings skipped to their closing quote give the same answer as reading every byte
// (a backslash escapes the byte after it; brackets inside strings do not count), for any bytes at all.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deeperThan } from '../../src/server/json.ts';

/** The scan byte by byte, as it was written first: the reference the fast one must agree with. */
function deeperByteByByte(body: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > max) return true;
    } else if (byte === 0x5d || byte === 0x7d) depth--;
  }
  return false;
}

describe('deeperThan', () => {
  it('agrees with the byte-by-byte scan on any body made of brackets, quotes, backslashes and text', () => {
    const piece = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\\\', '\\"', 'a', ',', ':');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 80 }), fc.integer({ min: 0, max: 6 }), (pieces, max) => {
        const body = Buffer.from(pieces.join(''));
        expect(deeperThan(body, max)).toBe(deeperByteByByte(body, max));
      }),
      { numRuns: 2000 },
    );
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const body = Buffer.from(JSON.stringify({ messages: [{ content: `a "quoted" ${'[{'.repeat(100)} \\ end` }] }));
    expect(deeperThan(body, 3)).toBe(false);
    expect(deeperThan(body, 2)).toBe(true);
  });

  it('refuses a body nested one level deeper than allowed', () => {
    expect(deeperThan(Buffer.from(`${'['.repeat(65)}${']'.repeat(65)}`), 64)).toBe(true);
    expect(deeperThan(Buffer.from(`${'['.repeat(64)}${']'.repeat(64)}`), 64)).toBe(false);
  });
});
