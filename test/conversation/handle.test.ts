// The embedder's handle on one conversation runs whole chat requests too: a tool loop without HTTP.

import { afterEach, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from '../helpers/fleet.ts';

const fleets: Fleet[] = [];
afterEach(async () => {
  for (const f of fleets.splice(0)) await f.close();
});

const tool = { type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } };

describe('ConversationHandle', () => {
  it('runs a tool loop with postChat and streams the next turn with streamChat', async () => {
    const fleet = await startFleet({ mocks: [{}] });
    fleets.push(fleet);
    const { runtime } = fleet;
    const { id } = await runtime.conversations.create({ model: 'chat' });
    const handle = runtime.conversation(id);

    const call = await handle.postChat({ messages: [{ role: 'user', content: 'Look it up' }], tools: [tool] });
    expect(call.finishReason).toBe('tool_calls');
    const callId = call.toolCalls?.[0]?.id ?? '';
    expect(callId).not.toBe('');

    const answer = await handle.postChat({ messages: [{ role: 'tool', tool_call_id: callId, content: 'found it' }], tools: [tool] });
    expect(answer.finishReason).toBe('stop');

    let text = '';
    let ended = false;
    for await (const event of handle.streamChat({ messages: [{ role: 'user', content: 'And then?' }] })) {
      if (event.type === 'delta') text += event.content ?? '';
      else ended = event.result.turnId !== '';
    }
    expect(ended).toBe(true);
    expect(text.length).toBeGreaterThan(0);

    const { messages } = await handle.get();
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user', 'assistant']);
  });
});
