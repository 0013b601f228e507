// The JSON schema of POST /v1/responses: the fields the gateway reads are checked here (a 400 in OpenAI's
// shape naming the field); any other field passes on to a deployment that speaks Responses as sent.

import type { ResponsesFunctionTool, TextFormat } from '../../upstream/responses-wire.ts';

const nullable = <T extends object>(schema: T) => ({ anyOf: [schema, { type: 'null' }] }) as const;

/** Items per request; the body limit bounds their size and the JSON parser their depth. */
export const maxInputItems = 10_000;

// `name` is checked by the translation (responses-translate.ts), so that a hosted tool is refused for its type.
const functionTool = {
  type: 'object',
  required: ['type'],
  properties: {
    // Only function tools: the hosted ones (web_search, file_search, …) run inside OpenAI, not here.
    type: { const: 'function' },
    name: { type: 'string', minLength: 1, maxLength: 128 },
    description: nullable({ type: 'string' }),
    parameters: nullable({ type: 'object' }),
    strict: nullable({ type: 'boolean' }),
  },
} as const;

export const responsesSchema = {
  type: 'object',
  required: ['model', 'input'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 256 },
    input: {
      anyOf: [
        { type: 'string' },
        {
          type: 'array',
          minItems: 1,
          maxItems: maxInputItems,
          items: { type: 'object', properties: { type: { type: 'string', maxLength: 64 } } },
        },
      ],
    },
    instructions: nullable({ type: 'string' }),
    tools: { type: 'array', maxItems: 512, items: functionTool },
    tool_choice: {
      anyOf: [
        { enum: ['auto', 'none', 'required'] },
        { type: 'object', required: ['type', 'name'], properties: { type: { const: 'function' }, name: { type: 'string' } } },
      ],
    },
    text: {
      type: 'object',
      properties: {
        format: {
          type: 'object',
          required: ['type'],
          properties: {
            type: { enum: ['text', 'json_object', 'json_schema'] },
            name: { type: 'string', maxLength: 64 },
            schema: { type: 'object' },
          },
        },
      },
    },
    max_output_tokens: nullable({ type: 'integer', minimum: 1 }),
    temperature: nullable({ type: 'number', minimum: 0, maximum: 2 }),
    top_p: nullable({ type: 'number', minimum: 0, maximum: 1 }),
    parallel_tool_calls: nullable({ type: 'boolean' }),
    previous_response_id: nullable({ type: 'string', minLength: 1, maxLength: 256 }),
    conversation: {
      anyOf: [
        { type: 'string', minLength: 1, maxLength: 128 },
        { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } },
        { type: 'null' },
      ],
    },
    store: nullable({ type: 'boolean' }),
    stream: nullable({ type: 'boolean' }),
    metadata: nullable({ type: 'object' }),
    user: { type: 'string', maxLength: 256 },
  },
} as const;

/** A request as the schema lets it through. */
export interface ResponsesCreate {
  model: string;
  input: string | Record<string, unknown>[];
  instructions?: string | null;
  tools?: ResponsesFunctionTool[];
  tool_choice?: unknown;
  text?: { format?: TextFormat };
  max_output_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  parallel_tool_calls?: boolean | null;
  previous_response_id?: string | null;
  conversation?: string | { id: string } | null;
  store?: boolean | null;
  stream?: boolean | null;
  metadata?: Record<string, string> | null;
  user?: string;
  [field: string]: unknown;
}

export const responseIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;
