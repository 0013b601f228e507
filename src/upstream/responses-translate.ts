// Pure translation between the Responses API and chat completions, both ways: a Responses request as the chat
// request a chat-only deployment gets (and its completion back as a Response), and a chat request as the
// Responses request a Responses-only deployment gets (and its Response back as a completion).

import type {
  ChatCompletion,
  ChatCompletionContentPart,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { Response as OpenAIResponse } from 'openai/resources/responses/responses';
import { SwitchyardError } from '../errors.ts';
import type { ChatRequest } from './adapter.ts';
import { chatUsageOf, type InputItem, type ResponsesBody, responsesUsageOf, type TextFormat } from './responses-wire.ts';

const invalid = (param: string, message: string) => new SwitchyardError('invalid_request', message, { param });

type Part = Record<string, unknown>;

/** Text parts joined (as OpenAI reads them), or chat content parts when an image is among them. */
function contentOf(content: unknown, param: string): string | ChatCompletionContentPart[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(param, 'content must be a string or an array of content parts');
  const parts: ChatCompletionContentPart[] = [];
  let textOnly = true;
  for (const [i, raw] of content.entries()) {
    const part = (typeof raw === 'object' && raw !== null ? raw : {}) as Part;
    if ((part.type === 'input_text' || part.type === 'output_text' || part.type === 'text') && typeof part.text === 'string') {
      parts.push({ type: 'text', text: part.text });
    } else if (part.type === 'input_image' && typeof part.image_url === 'string') {
      textOnly = false;
      const detail = part.detail === 'low' || part.detail === 'high' ? part.detail : 'auto';
      parts.push({ type: 'image_url', image_url: { url: part.image_url, detail } });
    } else if (part.type === 'refusal' && typeof part.refusal === 'string') {
      parts.push({ type: 'text', text: part.refusal });
    } else throw invalid(`${param}[${i}]`, `content part type '${String(part.type)}' is not supported by this gateway`);
  }
  return textOnly ? parts.map((p) => (p.type === 'text' ? p.text : '')).join('') : parts;
}

/** Item types the gateway reads; any other is refused with `invalid_request` naming the item. */
export const inputItemTypes = ['message', 'function_call', 'function_call_output', 'reasoning'] as const;

/** Checks every input item's type (before anything is routed): a clear 400 naming the first unknown one. */
export function checkInputItems(input: InputItem[]) {
  for (const [i, item] of input.entries()) {
    const type = item.type ?? (typeof item.role === 'string' ? 'message' : undefined);
    if (!inputItemTypes.includes(type as (typeof inputItemTypes)[number]))
      throw invalid(
        `input[${i}].type`,
        `input item type '${String(type)}' is not supported by this gateway (supported: ${inputItemTypes.join(', ')})`,
      );
  }
}

/** The input items as chat messages; consecutive function calls become one assistant message's tool calls. */
export function messagesOfItems(input: InputItem[], instructions?: string | null): ChatCompletionMessageParam[] {
  const messages: ChatCompletionMessageParam[] = instructions ? [{ role: 'system', content: instructions }] : [];
  let calls: ChatCompletionMessageToolCall[] | null = null;
  for (const [i, item] of input.entries()) {
    const param = `input[${i}]`;
    if (item.type === 'function_call') {
      if (typeof item.call_id !== 'string' || typeof item.name !== 'string' || typeof item.arguments !== 'string')
        throw invalid(param, 'a function_call item needs call_id, name and arguments (strings)');
      const call: ChatCompletionMessageToolCall = {
        id: item.call_id,
        type: 'function',
        function: { name: item.name, arguments: item.arguments },
      };
      if (calls) calls.push(call);
      else {
        calls = [call];
        messages.push({ role: 'assistant', content: null, tool_calls: calls });
      }
      continue;
    }
    calls = null;
    if (item.type === 'reasoning') continue; // only the model that wrote it can read it
    if (item.type === 'function_call_output') {
      if (typeof item.call_id !== 'string') throw invalid(`${param}.call_id`, 'a function_call_output item needs a call_id');
      const output = contentOf(item.output, `${param}.output`);
      messages.push({
        role: 'tool',
        tool_call_id: item.call_id,
        content: typeof output === 'string' ? output : JSON.stringify(item.output),
      });
      continue;
    }
    const role = item.role;
    const content = contentOf(item.content, `${param}.content`);
    if (role === 'assistant') messages.push({ role, content: typeof content === 'string' ? content : JSON.stringify(content) });
    else if (role === 'user') messages.push({ role, content });
    else if (role === 'system' || role === 'developer')
      messages.push({
        role,
        content: typeof content === 'string' ? content : content.map((p) => (p.type === 'text' ? p.text : '')).join(''),
      });
    else throw invalid(`${param}.role`, `role '${String(role)}' is not one of user, assistant, system, developer`);
  }
  return messages;
}

/** `text.format` as chat's `response_format` (the schema moves under json_schema). */
function responseFormatOf(format: TextFormat | undefined): ChatRequest['response_format'] {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: {
      name: format.name ?? 'response',
      ...(format.schema ? { schema: format.schema } : {}),
      ...(format.strict === undefined ? {} : { strict: format.strict }),
      ...(format.description === undefined ? {} : { description: format.description }),
    },
  };
}

function toolChoiceOf(choice: unknown): ChatRequest['tool_choice'] {
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  const c = choice as { type?: unknown; name?: unknown } | null | undefined;
  if (c && c.type === 'function' && typeof c.name === 'string') return { type: 'function', function: { name: c.name } };
  return undefined;
}

/** A Responses request as the chat request a chat-only deployment gets. */
export function chatOfResponses(body: ResponsesBody): ChatRequest {
  const tools: ChatCompletionTool[] | undefined = body.tools?.map((t, i) => {
    if (typeof t.name !== 'string' || t.name === '') throw invalid(`tools[${i}].name`, 'a function tool needs a name');
    return {
      type: 'function',
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        ...(t.parameters ? { parameters: t.parameters } : {}),
        ...(typeof t.strict === 'boolean' ? { strict: t.strict } : {}),
      },
    };
  });
  const chat: ChatRequest = { messages: messagesOfItems(body.input, body.instructions) };
  const format = responseFormatOf(body.text?.format);
  if (format) chat.response_format = format;
  if (tools && tools.length > 0) {
    chat.tools = tools;
    const choice = toolChoiceOf(body.tool_choice);
    if (choice) chat.tool_choice = choice;
    if (typeof body.parallel_tool_calls === 'boolean') chat.parallel_tool_calls = body.parallel_tool_calls;
  }
  if (typeof body.max_output_tokens === 'number') chat.max_tokens = body.max_output_tokens;
  if (typeof body.temperature === 'number') chat.temperature = body.temperature;
  if (typeof body.top_p === 'number') chat.top_p = body.top_p;
  if (typeof body.user === 'string') chat.user = body.user;
  return chat;
}

/** The output items of a chat answer: its text as a message, its tool calls as function calls. */
export function outputOf(
  message: { content?: string | null; tool_calls?: ChatCompletionMessageToolCall[] | undefined },
  ids: () => string,
): Record<string, unknown>[] {
  const output: Record<string, unknown>[] = [];
  if (message.content) {
    const part = { type: 'output_text', text: message.content, annotations: [] };
    output.push({ id: `msg_${ids()}`, type: 'message', status: 'completed', role: 'assistant', content: [part] });
  }
  for (const call of message.tool_calls ?? []) {
    if (call.type !== 'function') continue;
    const { name, arguments: args } = call.function;
    output.push({ id: `fc_${ids()}`, type: 'function_call', status: 'completed', call_id: call.id, name, arguments: args });
  }
  return output;
}

/** What a Response says about the request that made it (echoed back, as OpenAI does). */
export function echoOf(body: ResponsesBody, model: string, previous: string | null) {
  return {
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: (body.metadata as Record<string, string> | undefined) ?? {},
    model,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: previous,
    store: body.store !== false,
    temperature: body.temperature ?? 1,
    text: { format: body.text?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
  };
}

/** A chat completion as a Response (`id` and `echo` from the route). */
export function responseOfCompletion(completion: ChatCompletion, id: string, echo: ReturnType<typeof echoOf>, ids: () => string) {
  const choice = completion.choices[0];
  const incomplete = choice?.finish_reason === 'length';
  return {
    id,
    object: 'response',
    created_at: completion.created,
    status: incomplete ? 'incomplete' : 'completed',
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    ...echo,
    output: choice ? outputOf(choice.message, ids) : [],
    usage: responsesUsageOf(completion.usage),
  };
}

/** A chat finish reason for a Response: tool calls, cut by the token limit, or stop. */
export function finishOf(response: Pick<OpenAIResponse, 'status' | 'output'>): string {
  if (response.output.some((o) => o.type === 'function_call')) return 'tool_calls';
  return response.status === 'incomplete' ? 'length' : 'stop';
}

/** A Response (from a Responses-only deployment) as the chat completion the router handles. */
export function completionOfResponse(response: OpenAIResponse): ChatCompletion {
  let text = '';
  const calls: ChatCompletionMessageToolCall[] = [];
  for (const item of response.output ?? []) {
    if (item.type === 'message') for (const part of item.content) text += part.type === 'output_text' ? part.text : '';
    if (item.type === 'function_call')
      calls.push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
  }
  return {
    id: response.id,
    object: 'chat.completion',
    created: response.created_at,
    model: response.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text === '' && calls.length > 0 ? null : text,
          refusal: null,
          ...(calls.length ? { tool_calls: calls } : {}),
        },
        finish_reason: finishOf(response) as ChatCompletion.Choice['finish_reason'],
        logprobs: null,
      },
    ],
    ...(response.usage ? { usage: chatUsageOf(response.usage) ?? undefined } : {}),
  };
}
