// Config validation of experiments and rollouts (every error names its field), and the pure pieces: the
// sticky hash, the weighted pick, the parameters a variant sets.

import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config.ts';
import { subjectKey, subjectPoint } from '../../src/rollout/hash.ts';
import { pickVariant, variantRequest } from '../../src/rollout/variants.ts';

const providers = [{ id: 'p', baseURL: 'http://127.0.0.1:1/v1', models: { 'chat-v1': 'model-a', 'chat-v2': 'model-b' } }];
const rollout = { id: 'r', model: 'chat', from: 'chat-v1', to: 'chat-v2' };
const experiment = { id: 'e', model: 'ab', variants: [{ name: 'a', model: 'chat-v1' }] };

function issuesOf(extra: Record<string, unknown>) {
  const result = checkConfig({ providers, ...extra }, {});
  return result.ok ? [] : result.issues;
}

describe('rollout and experiment config', () => {
  it('fills the defaults: steps 10, 50, 100; a five-minute hold; guards; conversation stickiness; weight 1', () => {
    const result = checkConfig({ providers, rollouts: [rollout], experiments: [experiment] }, {});
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.config.rollouts[0]).toMatchObject({
      steps: [10, 50, 100],
      holdMs: 300_000,
      sticky: 'conversation',
      guard: { minRequests: 100, maxErrorRateIncrease: 0.02, maxLatencyP95Ratio: 2, maxTtftP95Ratio: 2, latencyToleranceMs: 100 },
    });
    expect(result.config.experiments[0]?.variants[0]?.weight).toBe(1);
  });

  it.each([
    [
      'weights summing to 0',
      { experiments: [{ ...experiment, variants: [{ name: 'a', model: 'chat-v1', weight: 0 }] }] },
      'experiments[0].variants',
      /weights sum to 0/,
    ],
    ['steps not increasing', { rollouts: [{ ...rollout, steps: [50, 10, 100] }] }, 'rollouts[0].steps', /strictly increasing/],
    ['steps not ending at 100', { rollouts: [{ ...rollout, steps: [10, 50] }] }, 'rollouts[0].steps', /ending at 100/],
    ['a step above 100', { rollouts: [{ ...rollout, steps: [10, 150] }] }, 'rollouts[0].steps[1]', /100/],
    [
      'a baseline nobody serves',
      { rollouts: [{ ...rollout, from: 'chat-v9' }] },
      'rollouts[0].from',
      /logical model that a provider serves/,
    ],
    ['the canary as its own baseline', { rollouts: [{ ...rollout, to: 'chat-v1' }] }, 'rollouts[0].to', /other than the baseline/],
    [
      'a variant with both model and deployments',
      { experiments: [{ ...experiment, variants: [{ name: 'a', model: 'chat-v1', deployments: ['p/model-a'] }] }] },
      'experiments[0].variants[0]',
      /exactly one/,
    ],
    [
      'an unknown deployment',
      { experiments: [{ ...experiment, variants: [{ name: 'a', deployments: ['q/model-z'] }] }] },
      'experiments[0].variants[0].deployments[0]',
      /expected a deployment/,
    ],
    ['a bad sticky', { rollouts: [{ ...rollout, sticky: 'cookie' }] }, 'rollouts[0].sticky', /header:<name>/],
    ['one id twice', { rollouts: [rollout], experiments: [{ ...experiment, id: 'r' }] }, 'rollouts[0].id', /split twice/],
    ['one model split twice', { rollouts: [rollout], experiments: [{ ...experiment, model: 'chat' }] }, 'rollouts[0].model', /split twice/],
    ['an unknown guard field', { rollouts: [{ ...rollout, guard: { maxErrors: 3 } }] }, 'rollouts[0].guard.maxErrors', /.+/],
  ])('refuses %s, naming the field', (_name, extra, path, message) => {
    const issues = issuesOf(extra);
    expect(issues.map((i) => i.path)).toContain(path);
    expect(issues.find((i) => i.path === path)?.message).toMatch(message);
  });
});

describe('sticky assignment', () => {
  it('gives a subject the same point every time, spread evenly over [0, 1) across subjects', () => {
    expect(subjectPoint('r', 'conv-1')).toBe(subjectPoint('r', 'conv-1'));
    expect(subjectPoint('r', 'conv-1')).not.toBe(subjectPoint('other', 'conv-1'));
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const p = subjectPoint('r', `conv-${i}`);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(1);
      buckets[Math.floor(p * 10)] = (buckets[Math.floor(p * 10)] ?? 0) + 1;
    }
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });

  it('reads the subject the split is sticky on, and none when the request lacks it', () => {
    const subject = { conversation: 'c', tenant: 't', header: (name: string) => (name === 'x-user' ? 'u' : undefined) };
    expect(subjectKey('conversation', subject)).toBe('c');
    expect(subjectKey('tenant', subject)).toBe('t');
    expect(subjectKey('header:X-User', subject)).toBe('u');
    expect(subjectKey('header:x-other', subject)).toBeNull();
    expect(subjectKey('none', subject)).toBeNull();
    expect(subjectKey('conversation', undefined)).toBeNull();
  });

  it('picks variants in proportion to their weights and never one of weight 0', () => {
    const variants = [
      { name: 'a', weight: 1 },
      { name: 'off', weight: 0 },
      { name: 'b', weight: 3 },
    ];
    const picks = Array.from({ length: 1000 }, (_, i) => pickVariant(variants, i / 1000).name);
    expect(picks.filter((n) => n === 'a')).toHaveLength(250);
    expect(picks.filter((n) => n === 'b')).toHaveLength(750);
    expect(pickVariant(variants, 0.9999999999).name).toBe('b');
  });

  it("sets a variant's parameters and its system prefix on the request, leaving the rest", () => {
    const request = { model: 'chat', temperature: 1, messages: [{ role: 'user' as const, content: 'hi' }] };
    expect(variantRequest(request, 'chat-v2', { temperature: 0.2, systemPrefix: 'Be brief.' })).toEqual({
      model: 'chat-v2',
      temperature: 0.2,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(variantRequest(request, 'chat-v1', undefined)).toEqual({ ...request, model: 'chat-v1' });
  });
});
