// Turns the schema validator's findings into one readable issue per path: `providers[1].baseURL: expected a
// URL`, the allowed values spelled out from the schema itself. Values are never quoted back: a wrong value may
// be a secret.

import type { TSchema } from 'typebox';
import System from 'typebox/system';
import Value from 'typebox/value';

/** One thing wrong with a config: where (`providers[1].baseURL`) and what was expected. */
export interface ConfigIssue {
  path: string;
  message: string;
}

// TypeBox stops collecting at 8 errors by default; a config check should list them all (bounded all the same).
System.Settings.Set({ maxErrors: 200 });

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

const decodeSegment = (segment: string) => segment.replaceAll('~1', '/').replaceAll('~0', '~');

/** A JSON pointer into `value` as the path a user reads: `/providers/1/baseURL` → `providers[1].baseURL`. */
export function readablePath(pointer: string, value: unknown): string {
  let path = '';
  let at: unknown = value;
  for (const segment of pointer.split('/').slice(1).map(decodeSegment)) {
    path += Array.isArray(at) ? `[${segment}]` : path === '' ? segment : `.${segment}`;
    at = isNode(at) || Array.isArray(at) ? (at as Record<string, unknown>)[segment] : undefined;
  }
  return path === '' ? 'config' : path;
}

/** The schema node a validator's `schemaPath` (`#/properties/x/anyOf/1`) points at. */
function schemaAt(root: TSchema, schemaPath: string): Node {
  let at: unknown = root;
  for (const segment of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeSegment)) {
    at = isNode(at) || Array.isArray(at) ? (at as Record<string, unknown>)[segment] : undefined;
  }
  return isNode(at) ? at : {};
}

const quoted = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');
const list = (parts: string[]) => (parts.length < 2 ? (parts[0] ?? '') : `${parts.slice(0, -1).join(', ')} or ${parts.at(-1)}`);

function bounds(schema: Node): string {
  const { minimum: min, maximum: max } = schema;
  if (typeof min === 'number' && typeof max === 'number') return ` in [${min}, ${max}]`;
  if (typeof min === 'number') return ` ≥ ${min}`;
  if (typeof max === 'number') return ` ≤ ${max}`;
  return '';
}

/** What a schema accepts, in words: `a number ≥ 0, "p95" or null`, `one of "prefill", "instruct", "none"`. */
export function describe(schema: Node): string {
  if (Array.isArray(schema.anyOf)) return list(schema.anyOf.filter(isNode).map(describe));
  if (Array.isArray(schema.enum)) return `one of ${quoted(schema.enum)}`;
  if ('const' in schema) return JSON.stringify(schema.const);
  switch (schema.type) {
    case 'string':
      if (typeof schema.patternErrorMessage === 'string') return schema.patternErrorMessage.replace(/^expected /, '');
      return schema.minLength === 1 ? 'a non-empty string' : 'a string';
    case 'integer':
      return `an integer${bounds(schema)}`;
    case 'number':
      return `a number${bounds(schema)}`;
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return schema.minItems === 1 ? 'a non-empty array' : 'an array';
    default:
      return 'an object';
  }
}

interface Finding {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
}

function messageOf(finding: Finding, schema: Node, value: unknown): ConfigIssue[] {
  const path = readablePath(finding.instancePath, value);
  switch (finding.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(isNode(schema.properties) ? schema.properties : {});
      const extra = (finding.params.additionalProperties as string[] | undefined) ?? [];
      return extra.map((key) => ({
        path: `${path === 'config' ? '' : `${path}.`}${key}`,
        message: `unknown option (expected one of ${allowed.join(', ')})`,
      }));
    }
    case 'required': {
      const missing = (finding.params.requiredProperties as string[] | undefined) ?? [];
      const child = (key: string) => (isNode(schema.properties) && isNode(schema.properties[key]) ? schema.properties[key] : {});
      return missing.map((key) => ({
        path: `${path === 'config' ? '' : `${path}.`}${key}`,
        message: `missing (expected ${describe(child(key))})`,
      }));
    }
    case 'minProperties':
      return [{ path, message: 'expected an object with at least one entry' }];
    case 'pattern':
      if (typeof schema.patternErrorMessage === 'string') return [{ path, message: schema.patternErrorMessage }];
      return [{ path, message: `expected ${describe(schema)}` }];
    default:
      return [{ path, message: `expected ${describe(schema)}` }];
  }
}

/**
 * Every way `value` breaks `schema`, one issue per path. A union (`anyOf`) is reported once, as the list of what
 * it accepts, unless the value is an object and one branch is the object form: then that branch's own findings
 * (an unknown key, a wrong field) say more.
 */
export function schemaIssues(schema: TSchema, value: unknown): ConfigIssue[] {
  const findings = Value.Errors(schema, value) as Finding[];
  const unions = findings.filter((f) => f.keyword === 'anyOf');
  // Findings to drop: those under a schema path prefix, for this value (the same schema serves many values).
  const silenced: { instancePath: string; schemaPath: string }[] = [];
  const explained = new Set<Finding>();
  for (const union of unions) {
    const branches = schemaAt(schema, union.schemaPath).anyOf;
    const at = Value.Pointer.Get(value, union.instancePath);
    const objectBranch = Array.isArray(branches) ? branches.findIndex((b) => isNode(b) && b.type === 'object') : -1;
    const silence = (schemaPath: string) => silenced.push({ instancePath: union.instancePath, schemaPath });
    if (isNode(at) && objectBranch >= 0) {
      explained.add(union);
      for (const [i] of (branches as unknown[]).entries()) if (i !== objectBranch) silence(`${union.schemaPath}/anyOf/${i}`);
    } else {
      silence(`${union.schemaPath}/anyOf`);
    }
  }
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  const isSilenced = (f: Finding) => silenced.some((s) => under(f.instancePath, s.instancePath) && under(f.schemaPath, s.schemaPath));
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const finding of findings) {
    if (explained.has(finding) || isSilenced(finding)) continue;
    // `additionalProperties: false` reports each extra key twice: as a failed `false` schema and on the object.
    if (finding.keyword === 'boolean' && finding.schemaPath.endsWith('/additionalProperties')) continue;
    for (const issue of messageOf(finding, schemaAt(schema, finding.schemaPath), value)) {
      if (seen.has(issue.path)) continue;
      seen.add(issue.path);
      issues.push(issue);
    }
  }
  return issues;
}
