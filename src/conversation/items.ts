// Stored messages as OpenAI conversation items, and items (from POST /v1/conversations or its /items) as
// messages to store. A stored message is one chat message; an assistant message that calls functions shows
// as its text (when it has some) followed by one `function_call` item per call. Text only: other content parts
// (images, files) are refused before anything is stored.

import { SwitchyardError } from '../errors.ts';
import type { Encoding } from '../models/tokens.ts';
import type { MessageRecord, MessageStatus } from '../stores/types.ts';
import { messageTokens } from './count.ts';
import { newId } from './ids.ts';

type ItemStatus = 'completed' | 'in_progress' | 'incomplete';

export interface MessageItem {
  type: 'message';
  id: string;
  status: ItemStatus;
  role: 'user' | 'assistant' | 'system' | 'developer';
  content: ({ type: 'input_text'; text: string } | { type: 'output_text'; text: string; annotations: []; logprobs: [] })[];
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  status: ItemStatus;
  call_id: string;
  name: string;
  arguments: string;
}

export interface FunctionCallOutputItem {
  type: 'function_call_output';
  id: string;
  status: ItemStatus;
  call_id: string;
  output: string;
}

export type ConversationItem = MessageItem | FunctionCallItem | FunctionCallOutputItem;

/** An item as a client sends it (validated by the route's schema first). */
export type ItemInput =
  | { type?: 'message'; role: 'user' | 'assistant' | 'system' | 'developer'; content: string | { type: string; text?: string }[] }
  | { type: 'function_call'; call_id: string; name: string; arguments: string }
  | { type: 'function_call_output'; call_id: string; output: string | { type: string; text?: string }[] };

const statusOf = (s: MessageStatus): ItemStatus => (s === 'done' ? 'completed' : s === 'pending' ? 'in_progress' : 'incomplete');

/** The id of a message stored before items had ids: its sequence number, stable while it exists. */
export const recordItemId = (m: MessageRecord) => m.itemId ?? `${m.role === 'tool' ? 'fco' : 'msg'}_seq${m.seq}`;

/** The items of one stored message, in order. */
export function itemsOf(m: MessageRecord): ConversationItem[] {
  const status = statusOf(m.status);
  const id = recordItemId(m);
  if (m.role === 'tool') return [{ type: 'function_call_output', id, status, call_id: m.toolCallId ?? '', output: m.content }];
  if (m.role !== 'assistant') return [{ type: 'message', id, status, role: m.role, content: [{ type: 'input_text', text: m.content }] }];
  const calls = m.toolCalls ?? [];
  const text: ConversationItem[] =
    m.content !== '' || calls.length === 0
      ? [
          {
            type: 'message',
            id,
            status,
            role: 'assistant',
            content: [{ type: 'output_text', text: m.content, annotations: [], logprobs: [] }],
          },
        ]
      : [];
  return [
    ...text,
    ...calls.map(
      (c): FunctionCallItem => ({ type: 'function_call', id: c.itemId, status, call_id: c.id, name: c.name, arguments: c.arguments }),
    ),
  ];
}

/** The text of an item's content: a string, or its text parts joined; any other part is refused. */
function textOf(content: string | { type: string; text?: string }[], param: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, i) => {
      if (typeof part.text !== 'string' || !['input_text', 'output_text', 'text'].includes(part.type))
        throw new SwitchyardError('invalid_request', `only text content is stored in a conversation, got "${part.type}"`, {
          param: `${param}[${i}]`,
        });
      return part.text;
    })
    .join('');
}

/**
 * Items as messages to store, numbered from `seq`, answered (status done). A user, system or developer message
 * starts a new turn for the window; the assistant messages, calls and results after it belong to it.
 */
export function recordsOf(items: readonly ItemInput[], from: { seq: number; encoding: Encoding; now: number }): MessageRecord[] {
  let turnId = newId('msg');
  return items.map((item, i): MessageRecord => {
    const base = { seq: from.seq + i, status: 'done' as const, idempotencyKey: null, createdAt: from.now };
    if (item.type === 'function_call') {
      const toolCalls = [{ id: item.call_id, name: item.name, arguments: item.arguments, itemId: newId('fc') }];
      const tokens = messageTokens({ role: 'assistant', content: '', toolCalls }, from.encoding);
      return { ...base, role: 'assistant', content: '', tokens, turnId, itemId: newId('msg'), toolCalls };
    }
    if (item.type === 'function_call_output') {
      const content = textOf(item.output, `items[${i}].output`);
      const tokens = messageTokens({ role: 'tool', content, toolCallId: item.call_id }, from.encoding);
      return { ...base, role: 'tool', content, tokens, turnId, itemId: newId('fco'), toolCallId: item.call_id };
    }
    if (item.role !== 'assistant') turnId = newId('msg');
    const content = textOf(item.content, `items[${i}].content`);
    return {
      ...base,
      role: item.role,
      content,
      tokens: messageTokens({ role: item.role, content }, from.encoding),
      turnId,
      itemId: newId('msg'),
    };
  });
}

/** The texts of items, for the message size limit. */
export const itemTexts = (items: readonly ItemInput[]): string[] =>
  items.map((item) => {
    if (item.type === 'function_call') return item.arguments;
    const content = item.type === 'function_call_output' ? item.output : item.content;
    return typeof content === 'string' ? content : content.map((p) => p.text ?? '').join('');
  });

const roles = new Set(['user', 'assistant', 'system', 'developer']);
const isText = (v: unknown) => typeof v === 'string' || Array.isArray(v);

/** Items as a client sent them, checked field by field: `invalid_request` naming the first bad field. */
export function checkItems(items: readonly unknown[]): ItemInput[] {
  return items.map((raw, i) => {
    const bad = (field: string, why: string) =>
      new SwitchyardError('invalid_request', `items[${i}].${field}: ${why}`, { param: `items[${i}].${field}` });
    if (typeof raw !== 'object' || raw === null) throw bad('type', 'an item is an object');
    const item = raw as Record<string, unknown>;
    const str = (field: string) => {
      if (typeof item[field] !== 'string') throw bad(field, 'must be a string');
      return item[field];
    };
    if (item.type === 'function_call')
      return { type: 'function_call', call_id: str('call_id'), name: str('name'), arguments: str('arguments') };
    if (item.type === 'function_call_output') {
      if (!isText(item.output)) throw bad('output', 'must be text');
      return { type: 'function_call_output', call_id: str('call_id'), output: item.output as string };
    }
    if (item.type !== undefined && item.type !== 'message') throw bad('type', 'message, function_call or function_call_output are stored');
    if (typeof item.role !== 'string' || !roles.has(item.role)) throw bad('role', 'must be user, assistant, system or developer');
    if (!isText(item.content)) throw bad('content', 'must be text');
    return { type: 'message', role: item.role as 'user', content: item.content as string };
  });
}
