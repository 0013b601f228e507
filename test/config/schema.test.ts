import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { documentedRegions, renderConfigDocs } from '../../src/config/docs.ts';
import { documentedSections, jsonSchemaText } from '../../src/config/schema.ts';
import { checkConfig } from '../../src/config.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const shipped = JSON.parse(read('switchyard.schema.json')) as Record<string, unknown>;

/** An independent validator of the shipped file; it is told the schema's annotations are only annotations. */
function shippedValidator() {
  const ajv = new Ajv({ allErrors: true });
  ajv.addVocabulary(['unit', 'patternErrorMessage']);
  return ajv.compile(shipped);
}

const examples = {
  yaml: parse(read('examples/config/switchyard.yaml'), { uniqueKeys: true }) as unknown,
  json: JSON.parse(read('examples/config/switchyard.json')) as unknown,
};

describe('the config schema', () => {
  it('switchyard.schema.json is generated from the schema (run npm run docs:config after changing it)', () => {
    expect(read('switchyard.schema.json')).toBe(jsonSchemaText());
  });

  it('docs/configuration.md has a current table for every section (run npm run docs:config after changing the schema)', () => {
    const docs = read('docs/configuration.md');
    expect(renderConfigDocs(docs)).toBe(docs);
    expect(documentedRegions(docs).sort()).toEqual(Object.keys(documentedSections).sort());
    for (const option of [
      '`timeoutMs` | number in [1, 2147483647] | `30000` | ms',
      '`backoff.maxMs`',
      '`hedgeAfterMs` | number ≥ 0 \\| `"p95"` \\| null',
    ]) {
      expect(docs).toContain(option);
    }
  });

  it.each(Object.entries(examples))(
    'the %s example config is valid for an independent validator of the shipped JSON Schema',
    (_, example) => {
      const validate = shippedValidator();
      expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
      expect(checkConfig(example, { MOCK_URL: 'http://127.0.0.1:1/v1' }).ok).toBe(true);
    },
  );

  it('the YAML and JSON examples say the same thing', () => {
    const { $schema, ...json } = examples.json as Record<string, unknown>;
    expect($schema).toBe('../../switchyard.schema.json');
    expect(examples.yaml).toEqual(json);
  });

  it.each([
    ['an unknown key', { providers: [{ id: 'a', baseURL: 'http://x/v1', models: { chat: 'm' }, wieght: 2 }] }],
    ['a wrong type', { providers: [{ id: 'a', baseURL: 'http://x/v1', models: { chat: 'm' }, timeoutMs: '5s' }] }],
    ['a bad URL', { providers: [{ id: 'a', baseURL: 'ftp://x', models: { chat: 'm' } }] }],
    ['a value not allowed', { providers: [{ id: 'a', baseURL: 'http://x/v1', models: { chat: 'm' } }], routing: { strategy: 'random' } }],
    ['a bound broken', { providers: [{ id: 'a', baseURL: 'http://x/v1', models: { chat: 'm' } }], health: { openErrorRate: 2 } }],
    ['no providers', { providers: [] }],
  ])('the shipped JSON Schema and Switchyard both refuse %s', (_, config) => {
    expect(shippedValidator()(config)).toBe(false);
    expect(checkConfig(config, {}).ok).toBe(false);
  });

  it('is shipped in the npm package', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root.pathname });
    const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
    expect(pack?.files.map((f) => f.path)).toContain('switchyard.schema.json');
  });
});

describe('time options', () => {
  // Node keeps a timer of at most 2^31 − 1 ms; a longer one fires after 1 ms (every request would time out).
  it.each([
    ['routing.deadlineMs', { routing: { deadlineMs: 2 ** 31 } }],
    ['limits.sseStallMs', { limits: { sseStallMs: 2 ** 31 } }],
  ])('refuses %s longer than a timer can wait', async (path, section) => {
    const { checkConfig } = await import('../../src/config.ts');
    const result = checkConfig({ providers: [{ id: 'p', baseURL: 'http://127.0.0.1:1/v1', models: { chat: 'm' } }], ...section });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.path)).toContain(path);
  });
});
