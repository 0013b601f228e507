// What a Responses-only deployment is sent for a chat request: the client's Responses original when the
// request came from the Responses route (plus what a continuation appended to its translation), otherwise the
// chat request translated (a chat client, or the health probe, on a deployment that speaks only Responses).

import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { ChatRequest } from './adapter.ts';
import { type InputItem, type ResponsesBody, responsesSource, type TextFormat, type WithResponsesSource } from './responses-wire.ts';

const textOf = (content: unknown): string => {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p: { type?: unknown; text?: unknown }) => (p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
};

/** Chat content as Responses input content: text stays a string; parts become input_text and input_image. */
function inputContentOf(content: unknown): unknown {
  if (!Array.isArray(content)) return textOf(content);
  return content.map((p: { type?: unknown; text?: unknown; image_url?: { url?: unknown; detail?: unknown } }) =>
    p.type === 'image_url'
      ? { type: 'input_image', image_url: p.image_url?.url, detail: p.image_url?.detail ?? 'auto' }
      : { type: 'input_text', text: typeof p.text === 'string' ? p.text : '' },
  );
}

/** Chat messages as Responses input items. */
export function itemsOfMessages(messages: readonly ChatCompletionMessageParam[]): InputItem[] {
  const items: InputItem[] = [];
  for (const m of messages) {
    if (m.role === 'tool') {
      items.push({ type: 'function_call_output', call_id: m.tool_call_id, output: textOf(m.content) });
      continue;
    }
    if (m.role === 'assistant') {
      const text = textOf(m.content);
      if (text !== '') items.push({ type: 'message', role: 'assistant', content: text });
      for (const call of m.tool_calls ?? []) {
        if (call.type === 'function')
          items.push({ type: 'function_call', call_id: call.id, name: call.function.name, arguments: call.function.arguments });
      }
      continue;
    }
    if (m.role === 'function') continue; // chat's deprecated form: no Responses counterpart
    items.push({ type: 'message', role: m.role, content: inputContentOf(m.content) });
  }
  return items;
}

function formatOf(format: ChatRequest['response_format']): TextFormat | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type !== 'json_schema') return undefined;
  const { name, schema, strict, description } = format.json_schema;
  return {
    type: 'json_schema',
    name,
    ...(schema ? { schema } : {}),
    ...(strict === undefined ? {} : { strict }),
    ...(description === undefined ? {} : { description }),
  };
}

/** A chat request (with no Responses original) as a Responses request. */
function translated(request: ChatRequest): ResponsesBody {
  const body: ResponsesBody = { input: itemsOfMessages(request.messages) };
  const tools = request.tools?.flatMap((t) =>
    t.type === 'function'
      ? [
          {
            type: 'function' as const,
            name: t.function.name,
            description: t.function.description ?? null,
            parameters: t.function.parameters ?? null,
            strict: t.function.strict ?? null,
          },
        ]
      : [],
  );
  if (tools?.length) body.tools = tools;
  const choice = request.tool_choice;
  if (choice !== undefined)
    body.tool_choice = typeof choice === 'object' && choice.type === 'function' ? { type: 'function', name: choice.function.name } : choice;
  if (typeof request.parallel_tool_calls === 'boolean') body.parallel_tool_calls = request.parallel_tool_calls;
  const format = formatOf(request.response_format);
  if (format) body.text = { format };
  const limit = request.max_completion_tokens ?? request.max_tokens;
  if (typeof limit === 'number') body.max_output_tokens = limit;
  if (typeof request.temperature === 'number') body.temperature = request.temperature;
  if (typeof request.top_p === 'number') body.top_p = request.top_p;
  if (typeof request.user === 'string') body.user = request.user;
  return body;
}

/** The Responses request for a chat request: its original, with a continuation's messages appended as items. */
export function responsesBodyOf(request: ChatRequest & WithResponsesSource): ResponsesBody {
  const source = request[responsesSource];
  if (!source) return translated(request);
  const extra = request.messages.slice(source.messages);
  return extra.length === 0 ? source.body : { ...source.body, input: [...source.body.input, ...itemsOfMessages(extra)] };
}
