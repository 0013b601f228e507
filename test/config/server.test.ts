// The config's `server` section: how the server drains on SIGTERM for a rolling restart.

import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config.ts';

const providers = [{ id: 'a', baseURL: 'http://127.0.0.1:9/v1', models: { chat: 'm' } }];

describe('the server section', () => {
  it('defaults to no drain delay and a 10 s drain timeout', () => {
    const checked = checkConfig({ providers }, {});
    expect(checked.ok && checked.config.server).toEqual({ drainDelayMs: 0, drainTimeoutMs: 10_000 });
  });

  it('takes a drain delay and timeout', () => {
    const checked = checkConfig({ providers, server: { drainDelayMs: 10_000, drainTimeoutMs: 30_000 } }, {});
    expect(checked.ok && checked.config.server).toEqual({ drainDelayMs: 10_000, drainTimeoutMs: 30_000 });
  });

  it('names each bad value: negative, beyond a timer, not a number, an unknown option, not an object', () => {
    const issues = (server: unknown) => {
      const checked = checkConfig({ providers, server }, {});
      return checked.ok ? [] : checked.issues.map((i) => i.path);
    };
    expect(issues({ drainDelayMs: -1 })).toEqual(['server.drainDelayMs']);
    expect(issues({ drainTimeoutMs: 2 ** 31 })).toEqual(['server.drainTimeoutMs']);
    expect(issues({ drainDelayMs: '10s' })).toEqual(['server.drainDelayMs']);
    expect(issues({ drainMs: 5000 })).toEqual(['server.drainMs']);
    expect(issues([])).toEqual(['server']);
  });
});
