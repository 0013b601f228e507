// Token counts of stored messages, counted once when a message is added: text, and what tool calls and tool
// results add (the function's name, its arguments, the call id a result answers).

import { countMessageTokens, type Encoding } from '../models/tokens.ts';
import type { MessageRole, ToolCallRecord } from '../stores/types.ts';

export interface CountedMessage {
  role: MessageRole;
  content: string;
  toolCalls?: readonly Pick<ToolCallRecord, 'name' | 'arguments'>[] | undefined;
  toolCallId?: string | undefined;
}

/** What a message adds to a prompt; a call's name and arguments are counted as text, a close estimate of OpenAI's framing. */
export function messageTokens(m: CountedMessage, encoding: Encoding): number {
  const calls = (m.toolCalls ?? []).map((t) => `${t.name}(${t.arguments})`).join('\n');
  const extra = [calls, m.toolCallId ?? ''].filter((t) => t !== '').join('\n');
  return countMessageTokens({ role: m.role, content: extra === '' ? m.content : `${m.content}\n${extra}` }, encoding);
}
