// A rollout over conversation actors: the conversation id is the sticky subject, so every turn of a
// conversation goes to the same arm, whole or streamed.

import { afterEach, describe, expect, it } from 'vitest';
import { type Arms, startArms } from './harness.ts';

let arms: Arms | undefined;
afterEach(async () => {
  await arms?.close();
  arms = undefined;
});

describe('rollouts over conversations', () => {
  it('keeps every turn of a conversation on its arm, and names the arm in the turn route', async () => {
    // The rolled-out model is itself served (by the baseline), so conversations of it have a context window.
    arms = await startArms({
      rollouts: [{ id: 'v2', model: 'chat-v1', from: 'chat-v1', to: 'chat-v2', steps: [50, 100], holdMs: 600_000 }],
    });
    const a = arms;
    const seen = new Map<string, Set<string | undefined>>();
    for (let i = 0; i < 24; i++) {
      const { id } = await a.runtime.conversations.create({ model: 'chat-v1' });
      const variants = new Set<string | undefined>();
      const first = await a.runtime.conversation(id).post(`first turn ${i}`);
      variants.add(first.route.variant);
      expect(first.deployments).toEqual([first.route.variant === 'canary' ? 'p1/model-b' : 'p0/model-a']);
      let streamed: string | undefined;
      for await (const event of a.runtime.conversation(id).stream(`second turn ${i}`))
        if (event.type === 'end') streamed = event.route.variant;
      variants.add(streamed);
      seen.set(id, variants);
    }
    expect([...seen.values()].every((v) => v.size === 1)).toBe(true);
    const canary = [...seen.values()].filter((v) => v.has('canary')).length;
    expect(canary).toBeGreaterThan(0);
    expect(canary).toBeLessThan(24);
    const view = a.runtime.rollout('v2');
    expect(view.arms.canary.requests + view.arms.baseline.requests).toBe(48);
    expect(view.arms.canary.ttftP50Ms).not.toBeNull();
  });
});
