// Passivation on the injected clock: a conversation actor leaves memory after idleMs without a turn, counted on
// the runtime's clock (a SimulatedClock here), and comes back from the store when used again.

import { afterEach, describe, expect, it } from 'vitest';
import { useFleet } from '../helpers/fleet.ts';

const start = useFleet(afterEach);
// Longer than any test runs: only the simulated clock can make it pass.
const idleMs = 600_000;

describe('conversations: passivation on the injected clock', () => {
  it('stops an idle conversation actor exactly idleMs after its last turn, and reactivates it from the store', async () => {
    const f = await start({ mocks: [{}], simulated: true, conversations: { idleMs } });
    const { conversations } = f.runtime;
    const { id } = await conversations.create({ model: 'chat' });
    await conversations.post(id, 'first');
    expect(conversations.active()).toBe(1);
    f.clock?.increment(idleMs - 1);
    expect(conversations.active()).toBe(1);
    f.clock?.increment(1);
    expect(conversations.active()).toBe(0);
    const second = await conversations.post(id, 'second');
    expect(second.content.length).toBeGreaterThan(0);
    expect(conversations.active()).toBe(1);
    expect((await conversations.get(id)).messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('restarts the idle time with each turn', async () => {
    const f = await start({ mocks: [{}], simulated: true, conversations: { idleMs } });
    const { conversations } = f.runtime;
    const { id } = await conversations.create({ model: 'chat' });
    await conversations.post(id, 'first');
    f.clock?.increment(idleMs - 1);
    await conversations.post(id, 'second');
    f.clock?.increment(idleMs - 1);
    expect(conversations.active()).toBe(1);
    f.clock?.increment(1);
    expect(conversations.active()).toBe(0);
  });
});
