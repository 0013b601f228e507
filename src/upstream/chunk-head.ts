// Parsing a stream's chunks for less than a JSON.parse of each. An upstream repeats the same top-level members
// before `choices` in every chunk of a stream (id, object, created, model, system_fingerprint, ...): those are
// parsed once, as the stream's head, and each later chunk whose text starts with the head's exact bytes has only
// the rest parsed. Exact for any input: a chunk that does not start with the head, or whose rest is not what a
// member list must be, is parsed whole, and one that fails fails with JSON.parse's own error on the whole text.

import { isKey, topLevelMembers } from './json-members.ts';

/** The text of a chunk up to and including the top-level comma before its `choices` member, and its members. */
export interface ChunkHead {
  text: string;
  /** The head's members as JSON.parse reads them (the last of duplicate keys wins); primitives only. */
  members: Record<string, unknown>;
}

const quote = 34;
const comma = 44;

/**
 * The head of `text`, a chunk's JSON text that JSON.parse accepted as an object, or undefined when it has none:
 * no top-level `"choices"` key after another member, or a member before it that is not a primitive (an object
 * shared by every chunk of the stream would be one object in all of them).
 */
export function headOf(text: string): ChunkHead | undefined {
  let found: ChunkHead | undefined;
  topLevelMembers(text, (open, close, opener) => {
    if (!isKey(text, open, close, 'choices')) return false;
    found = text.charCodeAt(opener) === comma ? head(text, opener) : undefined;
    return true;
  });
  return found;
}

function head(text: string, lastComma: number): ChunkHead | undefined {
  const members = JSON.parse(`${text.slice(0, lastComma)}}`) as Record<string, unknown>;
  for (const key in members) {
    const value = members[key];
    if (typeof value === 'object' && value !== null) return undefined;
  }
  return { text: text.slice(0, lastComma + 1), members };
}

/**
 * `text` parsed as JSON.parse(text) would, read as `head` plus the rest when `text` starts with the head's bytes
 * and the next member's key follows the comma at once; undefined when it does not (the caller parses it whole).
 * The head's bytes being the same, `text` is valid JSON exactly when `{` + rest is, and its members are the
 * head's followed by the rest's: spread in that order they keep JSON.parse's key order and its last-key-wins.
 */
export function parseAfterHead(text: string, head: ChunkHead): unknown {
  const n = head.text.length;
  // A slice compared with === is a memcmp in V8; startsWith measured slower here.
  if (text.length <= n || text.charCodeAt(n) !== quote || text.slice(0, n) !== head.text) return undefined;
  let rest: Record<string, unknown>;
  try {
    rest = JSON.parse(`{${text.slice(n)}`) as Record<string, unknown>;
  } catch {
    // Not valid: the whole text fails too, and with JSON.parse's own error about it.
    return JSON.parse(text);
  }
  return { ...head.members, ...rest };
}

/** How many chunks of one stream may be tried as its head: an upstream whose chunks share none stops costing. */
const headTries = 4;

/** One stream's chunk parser; `head` says, after each `parse`, which head the parsed text starts with. */
export interface ChunkReader {
  /** JSON.parse(text), throwing as it does. */
  parse(text: string): unknown;
  /** The head text the last parsed text starts with (the same string for every chunk of that head), or undefined. */
  head: string | undefined;
}

export function chunkReader(): ChunkReader {
  let known: ChunkHead | undefined;
  let tries = 0;
  const reader: ChunkReader = {
    head: undefined,
    parse(text) {
      if (known) {
        const parsed = parseAfterHead(text, known);
        if (parsed !== undefined) {
          reader.head = known.text;
          return parsed;
        }
      }
      reader.head = undefined;
      const parsed: unknown = JSON.parse(text);
      if (tries < headTries && typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        tries++;
        const found = headOf(text);
        if (found) {
          known = found;
          reader.head = found.text;
        }
      }
      return parsed;
    },
  };
  return reader;
}
