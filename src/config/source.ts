// Where a config comes from: a YAML or JSON file (by extension) and the environment (`${VAR}`,
// `${VAR:-default}`). Both parsers refuse duplicate keys, which JSON.parse would silently resolve to the last.
// Parse errors give a line and column but never the text around it: that text may hold a secret.

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isMap, isScalar, isSeq, type Node, parseDocument } from 'yaml';
import { envReference } from './fields.ts';
import type { ConfigIssue } from './issues.ts';

/** A file read and parsed, or the issues that kept it from parsing. */
export type ParsedSource = { ok: true; value: unknown } | { ok: false; issues: ConfigIssue[] };

const keyName = (key: unknown) => (isScalar(key) ? String(key.value) : String(key));

/** Keys written twice in one mapping, with the path of the second. */
function duplicateKeys(node: unknown, path: string, out: ConfigIssue[]): void {
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = keyName(pair.key);
      const at = path === '' ? key : `${path}.${key}`;
      if (seen.has(key)) out.push({ path: at, message: 'duplicate key (each key may appear once)' });
      seen.add(key);
      duplicateKeys(pair.value, at, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      duplicateKeys(item, `${path}[${i}]`, out);
    });
  }
}

/** Parses YAML (`.yaml`, `.yml`) or JSON (anything else, through YAML's strict JSON schema). */
export function parseSource(text: string, file: string): ParsedSource {
  const format = ['.yaml', '.yml'].includes(extname(file).toLowerCase()) ? 'YAML' : 'JSON';
  // Duplicates are found on the tree below, where their path is known, instead of by the parser.
  const doc = parseDocument(text, { uniqueKeys: false, ...(format === 'JSON' ? { schema: 'json' } : {}) });
  const [error] = doc.errors;
  if (error) {
    // The first error only: the ones after it are mostly its echoes.
    const where = error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
    return { ok: false, issues: [{ path: file, message: `not valid ${format}${where} (${error.code})` }] };
  }
  const issues: ConfigIssue[] = [];
  duplicateKeys(doc.contents as Node | null, '', issues);
  if (issues.length > 0) return { ok: false, issues };
  try {
    // Bounded: aliases that expand a small file into a huge object (a "billion laughs") are refused.
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch {
    return { ok: false, issues: [{ path: file, message: `not valid ${format} (too many aliases expanded)` }] };
  }
}

/** Reads and parses a config file. */
export function readSource(file: string): ParsedSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ok: false, issues: [{ path: file, message: 'cannot read the config file' }] };
  }
  return parseSource(text, file);
}

const reference = new RegExp(envReference, 'g');

/**
 * Replaces `${VAR}` in every string with the environment's value and `${VAR:-default}` with the default when
 * VAR is unset or empty (as in the shell). An unset VAR without a default is an issue at the string's path.
 */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[], path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(reference, (whole: string, name: string, _: string | undefined, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push({ path: path === '' ? 'config' : path, message: `environment variable ${name} is not set` });
      return whole;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, issues, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, issues, path === '' ? k : `${path}.${k}`)]));
  }
  return value;
}
