// A non-streamed answer sent as the upstream's own JSON text: its top-level `model` replaced in place and the
// `switchyard` route field added before its closing brace. Parsing the upstream's body once is still needed (usage,
// validation); serializing the parsed object again for the client is what this saves.

import { isBlank, isKey, skipBlank, topLevelMembers } from '../upstream/json-members.ts';

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
  // The span of the top-level `model` value: it starts after its key's colon and ends before the next member's
  // comma, or before the closing brace when it is the last member.
  let modelStart = -1;
  let modelEnd = -1;
  let inModel = false;
  let refused = false;
  const close = topLevelMembers(
    text,
    (open, keyClose, opener) => {
      if (inModel) {
        modelEnd = trimEnd(text, opener);
        inModel = false;
      }
      refused = escaped(text, open + 1, keyClose) || isKey(text, open, keyClose, 'switchyard');
      if (refused || !isKey(text, open, keyClose, 'model')) return refused;
      const colon = skipBlank(text, keyClose + 1);
      refused = modelStart !== -1 || text.charCodeAt(colon) !== 58;
      modelStart = skipBlank(text, colon + 1);
      inModel = true;
      return refused;
    },
    maxDepth,
  );
  if (refused || close < 0) return undefined;
  if (inModel) modelEnd = trimEnd(text, close);
  return rewritten(text, close, modelStart, modelEnd, modelJson, switchyardJson);
}

/** The answer once the object's closing brace at `close` is found: only blanks may follow it. */
function rewritten(text: string, close: number, start: number, end: number, modelJson: string, switchyardJson: string) {
  if (start === -1 || end <= start || skipBlank(text, close + 1) !== text.length) return undefined;
  return `${text.slice(0, start)}${modelJson}${text.slice(end, close)},"switchyard":${switchyardJson}${text.slice(close)}`;
}

/** Whether a backslash is in text[from, to). */
function escaped(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 92) return true;
  return false;
}

/** The end (exclusive) of the value that the delimiter at `at` ends, blanks before it left out. */
function trimEnd(text: string, at: number): number {
  let i = at;
  while (i > 0 && isBlank(text.charCodeAt(i - 1))) i--;
  return i;
}
