import { describe, expect, it } from 'vitest';
import { masked, maskSecrets } from '../../src/config/print.ts';
import { configSchema } from '../../src/config/schema.ts';
import { interpolate, parseSource } from '../../src/config/source.ts';
import { checkConfig, resolveConfig } from '../../src/config.ts';

const minimal = 'providers:\n  - id: a\n    baseURL: http://127.0.0.1:9/v1\n    models: { chat: m }\n';

function issuesOf(text: string, file: string, env: NodeJS.ProcessEnv = {}) {
  const parsed = parseSource(text, file);
  if (!parsed.ok) return parsed.issues;
  const checked = checkConfig(parsed.value, env);
  return checked.ok ? [] : checked.issues;
}

describe('config files', () => {
  it('reads YAML by extension and JSON otherwise, to the same config', () => {
    const yaml = parseSource(minimal, 'switchyard.yml');
    const json = parseSource(
      JSON.stringify({ providers: [{ id: 'a', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }] }),
      'c.json',
    );
    expect(yaml).toEqual(json);
    expect(parseSource(minimal, 'switchyard.json').ok).toBe(false);
  });

  it('refuses a key written twice, naming its path, in YAML and in JSON', () => {
    expect(issuesOf(`${minimal}    models: { other: m }\n`, 'c.yaml')).toEqual([
      { path: 'providers[0].models', message: 'duplicate key (each key may appear once)' },
    ]);
    const json = '{"providers":[{"id":"a","baseURL":"http://x/v1","models":{"chat":"m","chat":"n"}}]}';
    expect(issuesOf(json, 'c.json')).toEqual([{ path: 'providers[0].models.chat', message: 'duplicate key (each key may appear once)' }]);
  });

  it('gives a parse error a line and column but never the text around it, which may be a secret', () => {
    const [issue, ...rest] = issuesOf('{"providers": [{"apiKey": sk-live-CANARY}]}', 'c.json');
    expect(rest).toEqual([]);
    expect(issue?.message).toMatch(/^not valid JSON at line 1, column \d+/);
    expect(JSON.stringify(issue)).not.toContain('CANARY');
    const yaml = issuesOf('providers:\n  - apiKey: "sk-live-CANARY\n', 'c.yaml');
    expect(yaml).toHaveLength(1);
    expect(JSON.stringify(yaml)).not.toContain('CANARY');
  });

  it('refuses hostile files: aliases that expand exponentially, nesting thousands deep, __proto__ keys', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
      ['f', 'e'],
    ])
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    expect(issuesOf(bomb.join('\n'), 'c.yaml')[0]?.message).toContain('too many aliases');
    expect(issuesOf(`providers: ${'['.repeat(5000)}${']'.repeat(5000)}`, 'c.yaml')[0]?.message).toMatch(/^not valid YAML/);
    const proto = issuesOf('{"__proto__": {"polluted": 1}, "providers": []}', 'c.json');
    expect(proto[0]).toMatchObject({ path: '__proto__', message: expect.stringContaining('unknown option') });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('environment references', () => {
  it('reads a reference to VAR, and one with a default takes the default when VAR is unset or empty', () => {
    const issues: { path: string; message: string }[] = [];
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
    const input = { a: '${A}', b: ['${B:-fallback}', '${C:-}'], d: 'x-${A}-${E:-http://h:1/v1}' };
    expect(interpolate(input, { A: 'one', B: '' }, issues)).toEqual({ a: 'one', b: ['fallback', ''], d: 'x-one-http://h:1/v1' });
    expect(issues).toEqual([]);
  });

  it('names where an unset variable without a default is used, and no other error there', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
    const input = { providers: [{ id: 'a', baseURL: '${UPSTREAM}', models: { chat: 'm' } }] };
    const result = checkConfig(input, {});
    expect(result).toEqual({ ok: false, issues: [{ path: 'providers[0].baseURL', message: 'environment variable UPSTREAM is not set' }] });
    expect(resolveConfig(input, { UPSTREAM: 'http://127.0.0.1:1/v1' }).providers[0]?.baseURL).toBe('http://127.0.0.1:1/v1');
  });
});

describe('errors and printing', () => {
  it('lists every error of a config, one per path, with what is allowed', () => {
    const result = checkConfig(
      {
        providers: [{ id: 'a', baseURL: 'http://x/v1', models: { chat: { model: 'm', window: 5 }, other: 7 }, rpm: 0 }],
        routing: { midStreamFailover: 'retry' },
        conversations: 'none',
      },
      {},
    );
    expect(result.ok ? [] : result.issues).toEqual([
      { path: 'providers[0].models.chat.window', message: 'unknown option (expected one of model, contextWindow, maxOutput, encoding)' },
      { path: 'providers[0].models.other', message: 'expected a non-empty string or an object' },
      { path: 'providers[0].rpm', message: 'expected a number ≥ 1 or null' },
      { path: 'routing.midStreamFailover', message: 'expected one of "continue", "error"' },
      { path: 'conversations', message: 'expected an object' },
    ]);
  });

  it('names a missing option with what it expects, and an empty file as a whole', () => {
    expect(issuesOf('providers:\n  - id: a\n    models: { chat: m }\n', 'c.yaml')).toEqual([
      { path: 'providers[0].baseURL', message: 'missing (expected a URL)' },
    ]);
    expect(issuesOf('', 'c.yaml')).toEqual([{ path: 'config', message: 'expected an object' }]);
    expect(issuesOf('{}', 'c.json')).toEqual([{ path: 'providers', message: 'missing (expected a non-empty array)' }]);
  });

  it('never echoes a secret in an error, even a secret of the wrong type', () => {
    const result = checkConfig({
      providers: [{ id: 'a', baseURL: 'sk-CANARY', apiKey: 12345678, models: { chat: 'm' }, headers: { k: 987654 } }],
    });
    expect(result.ok).toBe(false);
    const text = JSON.stringify(result);
    for (const secret of ['CANARY', '12345678', '987654']) expect(text).not.toContain(secret);
  });

  it('checks the rules that span fields: unique ids and logical models that a provider serves', () => {
    const result = checkConfig({
      providers: [
        { id: 'a', baseURL: 'http://x/v1', models: { chat: 'm' } },
        { id: 'a', baseURL: 'http://y/v1', models: { chat: 'm' } },
      ],
      conversations: { contextFallbacks: { chat: 'bigger' } },
    });
    expect(result.ok ? [] : result.issues.map((i) => i.path)).toEqual(['providers[1].id', 'conversations.contextFallbacks.chat']);
  });

  it('masks every writeOnly value of the schema when printing, and nothing else', () => {
    const config = resolveConfig({
      providers: [{ id: 'a', baseURL: 'http://x/v1', apiKey: 'sk-CANARY', headers: { 'api-key': 'az-CANARY' }, models: { chat: 'm' } }],
    });
    const shown = maskSecrets(config, configSchema) as typeof config;
    expect(JSON.stringify(shown)).not.toContain('CANARY');
    expect(shown.providers[0]).toMatchObject({ apiKey: masked, headers: { 'api-key': masked }, id: 'a', baseURL: 'http://x/v1' });
    expect(shown.routing).toEqual(config.routing);
  });

  it('masks a secret whose writeOnly sits on a union (the store URL, which may hold a password)', () => {
    const config = resolveConfig({
      providers: [{ id: 'a', baseURL: 'http://x/v1', models: { chat: 'm' } }],
      conversations: { store: 'postgres://app:pw-CANARY@db/switchyard' },
    });
    const shown = maskSecrets(config, configSchema) as typeof config;
    expect(JSON.stringify(shown)).not.toContain('CANARY');
    expect(shown.conversations.store).toBe(masked);
  });
});
