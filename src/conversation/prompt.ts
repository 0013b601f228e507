// The chat messages of a fitted prompt: system prompt, summary, then the kept history as OpenAI chat messages.
// Pure. Tool calls and their results travel as OpenAI pairs them: an assistant message's calls are each answered
// by a `tool` message; anything the window or an item deletion left unpaired is left out, because an upstream
// refuses a call without its result and a result without its call.

import type { ChatCompletionMessageParam, ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { ConversationContext, ConversationMessage } from './turn.ts';

export type ChatMessage = ChatCompletionMessageParam;

/** The chat messages of the fitted prompt. */
export function promptMessages(c: ConversationContext): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (c.system) out.push({ role: 'system', content: c.system.content });
  if (c.summary) out.push({ role: 'system', content: `Summary of the conversation so far:\n${c.summary.text}` });
  const keep = new Set(c.prompt);
  return [...out, ...historyMessages(c.messages.filter((m) => keep.has(m.seq)))];
}

/** Kept messages as chat messages: consecutive assistant messages merged, unpaired calls and results left out. */
export function historyMessages(kept: readonly ConversationMessage[]): ChatMessage[] {
  const answered = new Set(kept.flatMap((m) => (m.role === 'tool' && m.toolCallId ? [m.toolCallId] : [])));
  const offered = new Set<string>();
  const out: ChatMessage[] = [];
  for (const m of kept) {
    if (m.role === 'tool') {
      if (m.toolCallId && offered.has(m.toolCallId)) out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
      continue;
    }
    if (m.role !== 'assistant') {
      out.push({ role: m.role, content: m.content });
      continue;
    }
    const calls: ChatCompletionMessageToolCall[] = (m.toolCalls ?? [])
      .filter((t) => answered.has(t.id))
      .map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
    for (const call of calls) offered.add(call.id);
    const last = out.at(-1);
    // Items added one by one (a message, then its function calls) are one assistant message to the upstream.
    if (last?.role === 'assistant' && calls.length > 0) {
      const joined = [last.content, m.content].filter((t) => typeof t === 'string' && t !== '').join('\n');
      last.content = joined === '' ? null : joined;
      last.tool_calls = [...(last.tool_calls ?? []), ...calls];
      continue;
    }
    if (calls.length === 0 && m.content === '') continue;
    out.push(
      calls.length > 0
        ? { role: 'assistant', content: m.content === '' ? null : m.content, tool_calls: calls }
        : { role: 'assistant', content: m.content },
    );
  }
  return out;
}
