// OpenAI's Conversations API on a Postgres store shared by two runtimes: items one instance adds or deletes are
// in the next prompt of a turn on the other, and a tool loop's call and result survive the move between them.

import { describe, expect, it } from 'vitest';
import { postgresFleets } from '../helpers/postgres-fleets.ts';

const { twoInstances } = postgresFleets('items');

const tool = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } };

describe('the Conversations API on Postgres across two instances', () => {
  it("sees the other instance's added and deleted items in its next turn", async () => {
    const [a, b] = await twoInstances();
    const { id } = await a.create({ items: [{ role: 'user', content: 'My name is Ada.' }], metadata: { team: 'x' } });
    await a.post(id, 'first turn');
    const added = await b.addItems(id, [{ role: 'user', content: 'I live in Lima.' }]);
    await a.post(id, 'second turn');
    let view = await a.get(id);
    expect(view.messages.map((m) => m.content)).toContain('I live in Lima.');
    expect(view.metadata).toEqual({ team: 'x' });
    await b.deleteItem(id, added[0]?.id ?? '');
    await a.post(id, 'third turn');
    view = await b.get(id);
    expect(view.messages.map((m) => m.content)).not.toContain('I live in Lima.');
    expect(view.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
      'My name is Ada.',
      'first turn',
      'second turn',
      'third turn',
    ]);
  });

  it('runs a tool loop whose result is posted through the other instance', async () => {
    const [a, b] = await twoInstances();
    const { id } = await a.create({});
    const first = await a.postChat(id, { messages: [{ role: 'user', content: 'Look it up' }], tools: [tool] });
    expect(first.finishReason).toBe('tool_calls');
    const callId = first.toolCalls?.[0]?.id ?? '';
    const second = await b.postChat(id, { messages: [{ role: 'tool', tool_call_id: callId, content: 'found it' }], tools: [tool] });
    expect(second.finishReason).toBe('stop');
    const page = await b.listItems(id, { order: 'asc' });
    expect(page.data.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output', 'message']);
  });
});
