import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allCharts, chartsMarkdown } from '../src/inspection/charts.ts';

describe('docs', () => {
  it('docs/statecharts.md matches the machine definitions (run npm run docs:charts after changing a machine)', () => {
    expect(readFileSync(new URL('../docs/statecharts.md', import.meta.url), 'utf8')).toBe(chartsMarkdown());
  });

  it('charts carry the nested states and the transitions with their events', () => {
    const provider = allCharts().provider;
    const recovering = provider.children.find((c) => c.key === 'recovering');
    expect(recovering?.children.map((c) => c.key)).toEqual(['coolingDown', 'awaitingPeer', 'probing']);
    expect(recovering?.children[0]?.transitions).toContainEqual({
      id: 'provider.recovering.coolingDown#1',
      source: 'provider.recovering.coolingDown',
      target: 'provider.recovering.probing',
      event: 'after backoff',
      guard: null,
      delay: 'backoff',
      label: 'after backoff',
    });
    expect(provider.initial).toBe('healthy');
  });
});
