// The option tables of docs/configuration.md, written from the schema: every option with its type, default,
// unit and description. The prose around them is kept; only the regions between markers are rewritten
// (`<!-- config:routing -->` … `<!-- /config:routing -->`) by `npm run docs:config`.

import type { TSchema } from 'typebox';
import { documentedSections } from './schema.ts';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
const code = (text: string) => `\`${text}\``;

function bounds(schema: Node): string {
  const { minimum: min, maximum: max } = schema;
  if (typeof min === 'number' && typeof max === 'number') return ` in [${min}, ${max}]`;
  if (typeof min === 'number') return ` ≥ ${min}`;
  if (typeof max === 'number') return ` ≤ ${max}`;
  return '';
}

/** The type column: `integer ≥ 1`, `"p95"`, `map of string`; a secret says so. */
function typeText(schema: Node): string {
  const secret = schema.writeOnly === true ? ' (secret)' : '';
  if (Array.isArray(schema.anyOf)) return schema.anyOf.filter(isNode).map(typeText).join(' \\| ');
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => code(JSON.stringify(v))).join(' \\| ');
  if ('const' in schema) return code(JSON.stringify(schema.const));
  if (isNode(schema.patternProperties)) {
    const [value] = Object.values(schema.patternProperties).filter(isNode);
    return `map of ${value ? typeText(value) : 'any'}`;
  }
  switch (schema.type) {
    case 'string':
      return (schema.patternErrorMessage === 'expected a URL' ? 'URL' : 'string') + secret;
    case 'integer':
    case 'number':
      return `${schema.type}${bounds(schema)}`;
    default:
      return String(schema.type ?? 'any');
  }
}

function defaultText(schema: Node, required: boolean): string {
  if (required) return 'required';
  if (!('default' in schema)) return 'none';
  return code(JSON.stringify(schema.default));
}

const unitOf = (schema: Node) => (typeof schema.unit === 'string' ? schema.unit : '—');
const cell = (text: string) => text.replaceAll('\n', ' ').replaceAll('|', '\\|');

function rows(schema: Node, prefix: string): string[] {
  const properties = isNode(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required : [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(properties)) {
    if (!isNode(child) || key === '$schema') continue;
    const name = `${prefix}${key}`;
    // A nested block with defaults of its own (health.backoff) is listed field by field.
    if (isNode(child.properties) && 'default' in child) {
      out.push(...rows(child, `${name}.`));
      continue;
    }
    const description = typeof child.description === 'string' ? child.description : '';
    out.push(
      `| ${code(name)} | ${typeText(child)} | ${defaultText(child, required.includes(key))} | ${unitOf(child)} | ${cell(description)} |`,
    );
  }
  return out;
}

/** The table of one section's options. */
export function optionTable(schema: TSchema | Node): string {
  return ['| option | type | default | unit | meaning |', '| --- | --- | --- | --- | --- |', ...rows(schema as Node, '')].join('\n');
}

const region = /(<!-- config:([\w.]+) -->)[\s\S]*?(<!-- \/config:\2 -->)/g;

/** The document with every marked region rewritten from the schema; a marker naming no section is an error. */
export function renderConfigDocs(markdown: string): string {
  return markdown.replace(region, (_whole, open: string, name: string, close: string) => {
    const schema = documentedSections[name];
    if (!schema) throw new Error(`docs/configuration.md: no config section named "${name}"`);
    return `${open}\n${optionTable(schema)}\n${close}`;
  });
}

/** The sections that have a region in the document. */
export function documentedRegions(markdown: string): string[] {
  return [...markdown.matchAll(region)].map((m) => m[2] ?? '');
}
