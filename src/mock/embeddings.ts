// POST /v1/embeddings of the mock upstream: a deterministic unit vector per input (the same text always gets
// the same vector), as floats or base64, after the fault gate.

import { countTokens } from '../models/tokens.ts';
import { type MockCall, passGate, sendCut } from './gate.ts';
import { type Problem, parseObject, sendJson, sendProblem } from './http.ts';
import { hashText } from './reply.ts';

/** Dimensions of a vector when the request names none. */
export const defaultDimensions = 64;
const maxInputs = 2048;
const maxDimensions = 4096;

/** The mock's embedding of a text: `dimensions` numbers from a seeded xorshift, scaled to length 1. */
export function embeddingOf(text: string, dimensions: number): number[] {
  let h = hashText(text) || 1;
  const values: number[] = [];
  for (let i = 0; i < dimensions; i++) {
    h ^= h << 13;
    h ^= h >>> 17;
    h ^= h << 5;
    h >>>= 0;
    values.push(h / 0x7fffffff - 1);
  }
  const norm = Math.hypot(...values) || 1;
  return values.map((v) => v / norm);
}

interface EmbeddingsBody {
  model: string;
  /** Each input as text (token arrays are joined as their ids, which keeps them deterministic). */
  inputs: string[];
  dimensions: number;
  base64: boolean;
}

function parseEmbeddings(raw: string): EmbeddingsBody | Problem {
  const parsed = parseObject(raw);
  if ('problem' in parsed) return parsed.problem;
  const b = parsed.body;
  if (typeof b.model !== 'string' || b.model === '') return { param: 'model', message: 'you must provide a model' };
  const input = b.input;
  const isTokens = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t));
  let inputs: string[];
  if (typeof input === 'string') inputs = [input];
  else if (isTokens(input)) inputs = [input.join(' ')];
  else if (Array.isArray(input) && input.length > 0 && input.every((v) => typeof v === 'string')) inputs = input as string[];
  else if (Array.isArray(input) && input.length > 0 && input.every(isTokens)) inputs = input.map((t) => t.join(' '));
  else return { param: 'input', message: 'input must be a string, an array of strings, or token arrays' };
  if (inputs.length > maxInputs) return { param: 'input', message: `at most ${maxInputs} inputs per request` };
  if (inputs.some((text) => text === '')) return { param: 'input', message: 'input must not contain empty strings' };
  const dimensions = b.dimensions ?? defaultDimensions;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > maxDimensions) {
    return { param: 'dimensions', message: `dimensions must be an integer in [1, ${maxDimensions}]` };
  }
  const format = b.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') return { param: 'encoding_format', message: 'expected float or base64' };
  return { model: b.model, inputs, dimensions, base64: format === 'base64' };
}

/** base64 of the vector as little-endian float32, as OpenAI sends `encoding_format: "base64"`. */
const asBase64 = (vector: number[]) => Buffer.from(new Float32Array(vector).buffer).toString('base64');

/** Answers one embeddings request whose body is `raw`. */
export async function answerEmbeddings(call: MockCall, raw: string, latencyMs: number): Promise<void> {
  const body = parseEmbeddings(raw);
  if ('param' in body) {
    call.count('rejected');
    return sendProblem(call.res, body);
  }
  const passed = await passGate(call, latencyMs);
  if (passed === null) return;
  const { mode } = passed;
  const tokens = body.inputs.reduce((sum, text) => sum + countTokens(text), 0);
  const answer = {
    object: 'list',
    model: body.model,
    data: body.inputs.map((text, index) => {
      const vector = embeddingOf(text, body.dimensions);
      return { object: 'embedding', index, embedding: body.base64 ? asBase64(vector) : vector };
    }),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
  if (mode === 'cut') {
    call.count('cut');
    return sendCut(call.res, answer);
  }
  call.count('ok');
  sendJson(call.res, 200, answer);
}
