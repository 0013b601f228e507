// The top-level members of a JSON object read in place from its text, without parsing it: where each key is,
// and where the object closes. The one walk behind three uses that must not parse or re-serialize: a stream
// chunk's head (chunk-head.ts), a chunk's `model` replaced in place (src/server/sse-sink.ts), and a plain
// answer passed on as the upstream's text (src/server/plain-answer.ts).

/** JSON's blanks: space, tab, line feed, carriage return. */
export const isBlank = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

export function skipBlank(text: string, from: number): number {
  let i = from;
  while (i < text.length && isBlank(text.charCodeAt(i))) i++;
  return i;
}

/**
 * The index of the quote closing the string opened at `open`, or -1. Found with indexOf (native, far faster than a
 * loop over the characters of a long content): a quote is the closing one when an even number of backslashes
 * precede it.
 */
export function stringEnd(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q !== -1; q = text.indexOf('"', q + 1)) {
    let b = q - 1;
    while (text.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q;
  }
  return -1;
}

/** Whether the key quoted from `open` to `close` is `name`, compared in place (an escaped spelling is not). */
export const isKey = (text: string, open: number, close: number, name: string) =>
  close - open - 1 === name.length && text.startsWith(name, open + 1);

/** What topLevelMembers returns when `member` stopped the walk. */
export const stopped = -2;

/**
 * Walks the members of the object `text` holds (blanks before it allowed): `member(open, close, opener)` is called
 * for each top-level key, its quotes at `open` and `close`, `opener` the index of the `{` or `,` that opens the
 * member; returning true stops the walk. Strings (escapes included) and nested values are skipped by their
 * structure, so a `"model"` inside a string or a nested object is never a key here. Returns the index of the
 * object's closing brace, `stopped`, or -1 when the text is not an object the walk can read (no `{` first, an
 * unterminated string, the end reached, nesting deeper than `maxDepth`).
 */
export function topLevelMembers(
  text: string,
  member: (open: number, close: number, opener: number) => boolean,
  maxDepth = Number.POSITIVE_INFINITY,
): number {
  let i = skipBlank(text, 0);
  if (text.charCodeAt(i) !== 123) return -1;
  let depth = 0;
  // At depth 1, the `{` or `,` whose member's key comes next; -1 while the next string is not a key.
  let opener = -1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const close = stringEnd(text, i);
      if (close === -1) return -1;
      if (depth === 1 && opener !== -1) {
        if (member(i, close, opener)) return stopped;
        opener = -1;
      }
      i = close;
    } else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return -1;
      // Only the object itself opens depth 1.
      if (depth === 1) opener = i;
    } else if (c === 125 || c === 93) {
      if (--depth === 0) return i;
    } else if (c === 44 && depth === 1) opener = i;
  }
  return -1;
}
