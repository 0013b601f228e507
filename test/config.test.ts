import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, resolveConfig } from '../src/config.ts';
import type { SwitchyardError } from '../src/errors.ts';

const issueExample = {
  providers: [
    {
      id: 'primary',
      baseURL: 'https://api.openai.com/v1',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own ${VAR} syntax
      apiKey: '${OPENAI_API_KEY}',
      models: { chat: 'gpt-4o-mini' },
      weight: 3,
      timeoutMs: 30000,
    },
    { id: 'local', baseURL: 'http://127.0.0.1:8000/v1', models: { chat: 'llama3.1:8b' }, continuation: 'prefill' },
  ],
  routing: {
    strategy: 'priority',
    maxAttempts: 3,
    deadlineMs: 60000,
    maxWaitForRecoveryMs: 1000,
    maxWaitingRequests: 64,
    hedgeAfterMs: null,
    midStreamFailover: 'continue',
  },
  health: { backoff: { kind: 'exponential', initialMs: 1000, maxMs: 60000 } },
};

function errorOf(input: unknown, env: NodeJS.ProcessEnv = { OPENAI_API_KEY: 'sk-test' }): SwitchyardError {
  try {
    resolveConfig(input, env);
  } catch (err) {
    return err as SwitchyardError;
  }
  throw new Error('expected the config to be refused');
}

describe('config', () => {
  it('accepts the documented example, reads environment references from the environment and fills defaults', () => {
    const config = resolveConfig(issueExample, { OPENAI_API_KEY: 'sk-test' });
    expect(config.providers[0]).toMatchObject({
      apiKey: 'sk-test',
      weight: 3,
      continuation: 'instruct',
      rpm: null,
      streamIdleTimeoutMs: 30000,
    });
    expect(config.providers[1]).toMatchObject({ continuation: 'prefill', weight: 1 });
    expect(config.providers[1]?.health?.backoff).toMatchObject({ initialMs: 1000, maxMs: 60000 });
    expect(config.routing).toEqual(issueExample.routing);
  });

  it('merges a provider health block over the top-level one', () => {
    const input = structuredClone(issueExample);
    Object.assign(input.providers[1] as object, { health: { minVolume: 9, backoff: { maxMs: 5000 } } });
    const health = resolveConfig(input, { OPENAI_API_KEY: 'k' }).providers[1]?.health;
    expect(health).toMatchObject({ minVolume: 9, backoff: { kind: 'exponential', initialMs: 1000, maxMs: 5000 } });
  });

  it.each([
    [{ providers: [] }, 'providers', 'non-empty array'],
    [{ providers: [{ id: 'a', baseURL: 'not a url', models: { chat: 'm' } }] }, 'providers[0].baseURL', 'expected a URL'],
    [{ providers: [{ id: 'a', baseURL: 'ftp://x', models: { chat: 'm' } }] }, 'providers[0].baseURL', 'expected a URL'],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: {} }] }, 'providers[0].models', 'at least one'],
    [{ providers: [{ id: 'a b', baseURL: 'http://x', models: { chat: 'm' } }] }, 'providers[0].id', 'expected an id'],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' }, weight: -1 }] }, 'providers[0].weight', '≥ 0'],
    [
      { providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' }, continuation: 'maybe' }] },
      'providers[0].continuation',
      '"prefill"',
    ],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' }, wieght: 2 }] }, 'providers[0].wieght', 'unknown option'],
    [
      { providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' }, health: { backoff: { maxMs: 1 } } }] },
      'providers[0].health.backoff.maxMs',
      '',
    ],
    [
      { providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], routing: { strategy: 'random' } },
      'routing.strategy',
      'expected one of',
    ],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], routing: { maxAttempts: 0 } }, 'routing.maxAttempts', '≥ 1'],
    [
      { providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], routing: { hedgeAfterMs: 'soon' } },
      'routing.hedgeAfterMs',
      '',
    ],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], health: { windowMS: 5 } }, 'health.windowMS', 'unknown'],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], limits: { maxJsonDepth: 0 } }, 'limits.maxJsonDepth', '≥ 1'],
    [{ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], limits: { bodyTimeout: 5 } }, 'limits.bodyTimeout', 'unknown'],
    [
      { providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' }, maxResponseBytes: 1.5 }] },
      'providers[0].maxResponseBytes',
      'an integer',
    ],
    [
      {
        providers: [
          { id: 'a', baseURL: 'http://x', models: { chat: 'm' } },
          { id: 'a', baseURL: 'http://y', models: { chat: 'm' } },
        ],
      },
      'providers[1].id',
      'duplicate',
    ],
  ])('refuses %j naming %s', (input, path, expected) => {
    const err = errorOf(input);
    expect(err.code).toBe('invalid_config');
    expect(err.param).toBe(path);
    expect(err.message).toContain(`${path}: `);
    expect(err.message).toContain(expected);
  });

  it('fills every limit with its default and keeps the ones given', () => {
    const config = resolveConfig({ providers: [{ id: 'a', baseURL: 'http://x', models: { chat: 'm' } }], limits: { inspectorClients: 4 } });
    expect(config.limits).toMatchObject({ maxJsonDepth: 64, bodyTimeoutMs: 10_000, headersTimeoutMs: 10_000, inspectorClients: 4 });
    expect(config.providers[0]?.maxResponseBytes).toBe(32 * 1024 * 1024);
  });

  it('refuses a reference to an unset environment variable, naming where it is used', () => {
    const err = errorOf(issueExample, {});
    expect(err.param).toBe('providers[0].apiKey');
    expect(err.message).toContain('OPENAI_API_KEY is not set');
  });

  it('loads a JSON file, and refuses one that is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-config-'));
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(good, JSON.stringify(issueExample));
    writeFileSync(bad, '{ "providers": [');
    expect(loadConfigFile(good, { OPENAI_API_KEY: 'k' }).providers).toHaveLength(2);
    expect(() => loadConfigFile(bad)).toThrow(/not valid JSON/);
    expect(() => loadConfigFile(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
