// The prompt of a conversation with tool calls: a call and its result stay together when the window slides,
// items added one by one become one assistant message, and whatever is left unpaired stays out of the prompt.

import { describe, expect, it } from 'vitest';
import { fitSliding } from '../../src/conversation/fit.ts';
import type { ConversationMessage } from '../../src/conversation/machine.ts';
import { historyMessages } from '../../src/conversation/prompt.ts';

const m = (seq: number, turnId: string, over: Partial<ConversationMessage>): ConversationMessage => ({
  seq,
  role: 'user',
  content: `m${seq}`,
  tokens: 10,
  turnId,
  status: 'done',
  idempotencyKey: null,
  ...over,
});
const call = (id: string) => ({ id, name: 'get', arguments: '{}', itemId: `fc_${id}` });

describe('a conversation prompt with tool calls', () => {
  it('keeps a tool result with the call it answers when the window drops older turns', () => {
    const history = [
      m(0, 't0', {}),
      m(1, 't0', { role: 'assistant', content: 'a0' }),
      m(2, 't1', {}),
      m(3, 't1', { role: 'assistant', content: '', toolCalls: [call('c1')] }),
      m(4, 't2', { role: 'tool', toolCallId: 'c1' }),
    ];
    // Room for three messages: the result's turn brings the call's turn with it, and the oldest turn goes.
    const fit = fitSliding({ system: 0, summary: 0, history, budget: 3 + 30 });
    expect(fit).toMatchObject({ ok: true, keep: [2, 3, 4] });
    // Too small for the call and its result together: nothing half.
    expect(fitSliding({ system: 0, summary: 0, history, budget: 3 + 20 }).ok).toBe(false);
  });

  it('sends items added one by one (a text, then its calls) as one assistant message, answered by tool messages', () => {
    const out = historyMessages([
      m(0, 't', {}),
      m(1, 't', { role: 'assistant', content: 'Let me look.' }),
      m(2, 't', { role: 'assistant', content: '', toolCalls: [call('c1')] }),
      m(3, 't', { role: 'assistant', content: '', toolCalls: [call('c2')] }),
      m(4, 't', { role: 'tool', toolCallId: 'c1', content: 'r1' }),
      m(5, 't', { role: 'tool', toolCallId: 'c2', content: 'r2' }),
    ]);
    expect(out).toEqual([
      { role: 'user', content: 'm0' },
      {
        role: 'assistant',
        content: 'Let me look.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'get', arguments: '{}' } },
          { id: 'c2', type: 'function', function: { name: 'get', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'r1' },
      { role: 'tool', tool_call_id: 'c2', content: 'r2' },
    ]);
  });

  it('leaves out a call whose result was deleted and a result whose call was deleted', () => {
    const out = historyMessages([
      m(0, 't', {}),
      m(1, 't', { role: 'assistant', content: 'Checking.', toolCalls: [call('gone')] }),
      m(2, 't', { role: 'tool', toolCallId: 'orphan', content: 'r' }),
      m(3, 't2', { role: 'developer', content: 'be terse' }),
    ]);
    expect(out).toEqual([
      { role: 'user', content: 'm0' },
      { role: 'assistant', content: 'Checking.' },
      { role: 'developer', content: 'be terse' },
    ]);
  });
});
