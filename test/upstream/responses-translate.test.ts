// The pure translation between the Responses API and chat completions, both ways.

import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Response as OpenAIResponse } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { isSwitchyardError } from '../../src/errors.ts';
import { responsesBodyOf } from '../../src/upstream/responses-request.ts';
import {
  chatOfResponses,
  checkInputItems,
  completionOfResponse,
  echoOf,
  responseOfCompletion,
} from '../../src/upstream/responses-translate.ts';
import { type ResponsesBody, responsesSource } from '../../src/upstream/responses-wire.ts';

const tool = { type: 'function' as const, name: 'search', description: 'Search', parameters: { type: 'object' }, strict: true };

describe('a Responses request as chat', () => {
  it('puts instructions first, joins text parts, and maps every parameter', () => {
    const body: ResponsesBody = {
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'Hello ' },
            { type: 'input_text', text: 'there' },
          ],
        },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi.' }] },
        { role: 'developer', content: 'Be terse.' },
      ],
      instructions: 'You are kind.',
      tools: [tool],
      tool_choice: { type: 'function', name: 'search' },
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
      max_output_tokens: 50,
      temperature: 0.5,
      top_p: 0.9,
      parallel_tool_calls: false,
    };
    expect(chatOfResponses(body)).toEqual({
      messages: [
        { role: 'system', content: 'You are kind.' },
        { role: 'user', content: 'Hello there' },
        { role: 'assistant', content: 'Hi.' },
        { role: 'developer', content: 'Be terse.' },
      ],
      tools: [{ type: 'function', function: { name: 'search', description: 'Search', parameters: { type: 'object' }, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'search' } },
      parallel_tool_calls: false,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
      max_tokens: 50,
      temperature: 0.5,
      top_p: 0.9,
    });
  });

  it('turns consecutive function calls into one assistant message and outputs into tool messages', () => {
    const { messages } = chatOfResponses({
      input: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { type: 'function_call', call_id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', call_id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
        { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
        { type: 'function_call_output', call_id: 'c2', output: 'rain' },
      ],
    });
    expect(messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'c2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c2', content: 'rain' },
    ]);
  });

  it('keeps an image as a chat content part', () => {
    const { messages } = chatOfResponses({
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is it?' },
            { type: 'input_image', image_url: 'https://x/y.png', detail: 'low' },
          ],
        },
      ],
    });
    expect(messages[0]).toEqual({
      role: 'user',
      content: [
        { type: 'text', text: 'What is it?' },
        { type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'low' } },
      ],
    });
  });

  it('maps json_object and drops text', () => {
    expect(chatOfResponses({ input: [], text: { format: { type: 'json_object' } } }).response_format).toEqual({ type: 'json_object' });
    expect(chatOfResponses({ input: [], text: { format: { type: 'text' } } })).not.toHaveProperty('response_format');
  });

  it('refuses unknown item types, parts and roles, naming where', () => {
    const param = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isSwitchyardError(err, 'invalid_request') ? err.param : 'other error';
      }
      return 'no error';
    };
    expect(param(() => checkInputItems([{ role: 'user', content: 'x' }, { type: 'web_search_call' }]))).toBe('input[1].type');
    expect(param(() => chatOfResponses({ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }))).toBe(
      'input[0].content[0]',
    );
    expect(param(() => chatOfResponses({ input: [{ role: 'tool', content: 'x' }] }))).toBe('input[0].role');
    expect(param(() => chatOfResponses({ input: [{ type: 'function_call', call_id: 'c' }] }))).toBe('input[0]');
  });
});

describe('a chat completion as a Response', () => {
  const completion = (message: ChatCompletion.Choice['message'], finish: ChatCompletion.Choice['finish_reason']): ChatCompletion => ({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 100,
    model: 'up',
    choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
  });
  let n = 0;
  const ids = () => String(++n);

  it('has a message item, usage in input and output tokens, and the request echoed', () => {
    const echo = echoOf({ input: [], instructions: 'Be kind.', max_output_tokens: 9 }, 'chat', 'resp_prev');
    const response = responseOfCompletion(completion({ role: 'assistant', content: 'Hi.', refusal: null }, 'stop'), 'resp_1', echo, ids);
    expect(response).toMatchObject({
      id: 'resp_1',
      status: 'completed',
      model: 'chat',
      instructions: 'Be kind.',
      max_output_tokens: 9,
      previous_response_id: 'resp_prev',
      output: [
        { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hi.', annotations: [] }] },
      ],
      usage: { input_tokens: 7, output_tokens: 3, total_tokens: 10 },
    });
  });

  it('has function_call items for tool calls, and is incomplete when cut by the token limit', () => {
    const calls = [{ id: 'c1', type: 'function' as const, function: { name: 'f', arguments: '{}' } }];
    const echo = echoOf({ input: [] }, 'chat', null);
    const withCalls = responseOfCompletion(
      completion({ role: 'assistant', content: null, refusal: null, tool_calls: calls }, 'tool_calls'),
      'r',
      echo,
      ids,
    );
    expect(withCalls.output).toEqual([
      { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'completed', call_id: 'c1', name: 'f', arguments: '{}' },
    ]);
    const cut = responseOfCompletion(completion({ role: 'assistant', content: 'Hal', refusal: null }, 'length'), 'r', echo, ids);
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });
});

describe('a chat request for a deployment that speaks Responses', () => {
  it('translates messages, tools, format and limits into a Responses request', () => {
    const body = responsesBodyOf({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'Q' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'R' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      response_format: { type: 'json_object' },
      max_completion_tokens: 20,
    });
    expect(body).toEqual({
      input: [
        { type: 'message', role: 'system', content: 'S' },
        { type: 'message', role: 'user', content: 'Q' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'R' },
      ],
      tools: [{ type: 'function', name: 'f', description: null, parameters: { type: 'object' }, strict: null }],
      text: { format: { type: 'json_object' } },
      max_output_tokens: 20,
    });
  });

  it("sends a Responses request's original, with what a continuation appended as items", () => {
    const original: ResponsesBody = { input: [{ role: 'user', content: 'Q' }], instructions: 'S', reasoning: { effort: 'low' } };
    const chat = { ...chatOfResponses(original), [responsesSource]: { body: original, messages: 2 } };
    expect(responsesBodyOf(chat)).toBe(original);
    const continued = {
      ...chat,
      messages: [...chat.messages, { role: 'assistant' as const, content: 'Part' }, { role: 'user' as const, content: 'Go on' }],
    };
    expect(responsesBodyOf(continued)).toEqual({
      ...original,
      input: [
        ...original.input,
        { type: 'message', role: 'assistant', content: 'Part' },
        { type: 'message', role: 'user', content: 'Go on' },
      ],
    });
    // The original never reaches a chat upstream: JSON drops the symbol.
    expect(JSON.stringify(chat)).not.toContain('reasoning');
  });

  it('reads a Response back as a chat completion', () => {
    const response = {
      id: 'resp_1',
      created_at: 5,
      model: 'up',
      status: 'completed',
      output: [
        {
          type: 'message',
          id: 'm',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Hi', annotations: [] }],
        },
        { type: 'function_call', id: 'f', call_id: 'c1', name: 'f', arguments: '{}', status: 'completed' },
      ],
      usage: {
        input_tokens: 4,
        output_tokens: 2,
        total_tokens: 6,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 0 },
      },
    } as unknown as OpenAIResponse;
    const completion = completionOfResponse(response);
    expect(completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { content: 'Hi', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }] },
    });
    expect(completion.usage).toEqual({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
  });
});
