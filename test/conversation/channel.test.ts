import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/conversation/channel.ts';

/** Lets promise callbacks run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function tracked(push: Promise<void>) {
  const state = { taken: false };
  void push.then(() => {
    state.taken = true;
  });
  return state;
}

describe('channel: a pushing producer, a pulling reader', () => {
  it('delivers values in order and ends after the last one', async () => {
    const channel = new Channel<number>();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const value of channel) seen.push(value);
    })();
    for (const value of [1, 2, 3]) await channel.push(value);
    channel.end();
    await reading;
    expect(seen).toEqual([1, 2, 3]);
  });

  it('resolves a push only once the reader has taken the value and asked for the next: a slow reader holds the producer', async () => {
    const channel = new Channel<string>();
    const reader = channel[Symbol.asyncIterator]();
    const first = tracked(channel.push('a'));
    await settled();
    expect(first.taken).toBe(false);
    expect(await reader.next()).toEqual({ done: false, value: 'a' });
    await settled();
    expect(first.taken).toBe(false); // handed over, but the reader has not asked for more yet
    const next = reader.next();
    await settled();
    expect(first.taken).toBe(true);
    channel.end();
    expect(await next).toEqual({ done: true, value: undefined });
  });

  it('lets the producer run on once the reader has gone: pending and later pushes resolve at once', async () => {
    const channel = new Channel<string>();
    const reader = channel[Symbol.asyncIterator]();
    const first = tracked(channel.push('a'));
    await reader.next();
    await reader.return(undefined);
    await settled();
    expect(first.taken).toBe(true);
    await channel.push('b'); // would hang if nobody took it
  });
});
