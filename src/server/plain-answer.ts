// A non-streamed answer sent as the upstream's own JSON text: its top-level `model` replaced in place and the
// `switchyard` route field added before its closing brace. Parsing the upstream's body once is still needed (usage,
// validation); serializing the parsed object again for the client is what this saves.

/** Deeper answers are left to serialization, which treats them as it always did. */
const maxDepth = 64;

/**
 * `text` (one JSON object, as the upstream sent it) with its top-level `model` value set to `modelJson` and
 * `"switchyard": switchyardJson` appended as its last member: what a client parses equals what serializing
 * `{ ...JSON.parse(text), model, switchyard }` gives, key order included. Undefined when that cannot be done
 * exactly: not exactly one top-level `model` key, a top-level `switchyard` key already, a top-level key written
 * with escapes (it might spell either), nesting deeper than 64, or text that is not one object.
 */
export function plainAnswer(text: string, modelJson: string, switchyardJson: string): string | undefined {
  let i = skipBlank(text, 0);
  if (text.charCodeAt(i) !== 123) return undefined;
  let depth = 0;
  // At depth 1, whether the next string is a key (after `{` or `,`).
  let expectKey = false;
  // The span of the top-level `model` value, once its key has been read.
  let modelStart = -1;
  let modelEnd = -1;
  let inModel = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const close = stringEnd(text, i);
      if (close === -1) return undefined;
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (escaped(text, i + 1, close) || isKey(text, i, close, 'switchyard')) return undefined;
        if (isKey(text, i, close, 'model')) {
          if (modelStart !== -1) return undefined;
          let v = skipBlank(text, close + 1);
          if (text.charCodeAt(v) !== 58) return undefined;
          v = skipBlank(text, v + 1);
          modelStart = v;
          inModel = true;
        }
      }
      i = close;
    } else if (c === 123 || c === 91) {
      if (++depth > maxDepth) return undefined;
      expectKey = depth === 1;
    } else if (c === 125 || c === 93) {
      if (depth === 1 && inModel) {
        modelEnd = trimEnd(text, i);
        inModel = false;
      }
      if (--depth === 0) return depth0(text, i, modelStart, modelEnd, modelJson, switchyardJson);
    } else if (c === 44 && depth === 1) {
      expectKey = true;
      if (inModel) {
        modelEnd = trimEnd(text, i);
        inModel = false;
      }
    }
  }
  return undefined;
}

/** The answer once the object's closing brace at `close` is found: only blanks may follow it. */
function depth0(text: string, close: number, start: number, end: number, modelJson: string, switchyardJson: string) {
  if (start === -1 || end <= start || skipBlank(text, close + 1) !== text.length) return undefined;
  return `${text.slice(0, start)}${modelJson}${text.slice(end, close)},"switchyard":${switchyardJson}${text.slice(close)}`;
}

/** Whether the key quoted from `open` to `close` is `name`, compared in place. */
const isKey = (text: string, open: number, close: number, name: string) =>
  close - open - 1 === name.length && text.startsWith(name, open + 1);

/** Whether a backslash is in text[from, to). */
function escaped(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 92) return true;
  return false;
}

/** JSON's blanks: space, tab, line feed, carriage return. */
const blank = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;

function skipBlank(text: string, from: number): number {
  let i = from;
  while (i < text.length && blank(text.charCodeAt(i))) i++;
  return i;
}

/** The end (exclusive) of the value that the delimiter at `at` ends, blanks before it left out. */
function trimEnd(text: string, at: number): number {
  let i = at;
  while (i > 0 && blank(text.charCodeAt(i - 1))) i--;
  return i;
}

/**
 * The index of the quote closing the string opened at `open`, or -1. Found with indexOf (native, far faster than a
 * loop over the characters of a long content): a quote is the closing one when an even number of backslashes
 * precede it.
 */
function stringEnd(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q !== -1; q = text.indexOf('"', q + 1)) {
    let b = q - 1;
    while (text.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q;
  }
  return -1;
}
