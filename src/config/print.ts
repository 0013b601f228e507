// `switchyard config print`: the resolved config with every secret (`writeOnly` in the schema) masked.

import type { TSchema } from 'typebox';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a secret is printed as. */
export const masked = '********';

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The branch of a union that `value` takes: the first whose `type` fits it. */
function branchFor(schema: Node, value: unknown): Node {
  if (!Array.isArray(schema.anyOf)) return schema;
  const type = typeOf(value);
  const fits = (b: Node) => b.type === type || (b.type === 'number' && type === 'integer') || (b.type === undefined && 'const' in b);
  return schema.anyOf.filter(isNode).find(fits) ?? {};
}

function childSchema(schema: Node, key: string): Node {
  if (isNode(schema.properties) && isNode(schema.properties[key])) return schema.properties[key];
  if (isNode(schema.patternProperties)) {
    for (const [pattern, child] of Object.entries(schema.patternProperties))
      if (new RegExp(pattern).test(key) && isNode(child)) return child;
  }
  return isNode(schema.additionalProperties) ? schema.additionalProperties : {};
}

/** A copy of `value` with every value the schema marks `writeOnly` replaced by `masked`. */
export function maskSecrets(value: unknown, schema: TSchema | Node): unknown {
  // writeOnly may sit on a union (`string | null`) as well as on the branch the value takes.
  const s = branchFor(schema as Node, value);
  if ((s.writeOnly === true || (schema as Node).writeOnly === true) && value !== undefined && value !== null) return masked;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, isNode(s.items) ? s.items : {}));
  if (isNode(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, childSchema(s, k))]));
  return value;
}
