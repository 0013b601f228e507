// What Switchyard knows of OpenAI's models: context window, maximum output and tokenizer encoding. Servers
// that are only OpenAI-compatible set `contextWindow` (and `encoding`) on the provider's model in the config.

import type { Encoding } from './tokens.ts';

export interface ModelInfo {
  contextWindow: number;
  maxOutput: number;
  encoding: Encoding;
}

// Prefix → facts; the longest matching prefix wins (so "gpt-4o-mini" before "gpt-4o", "gpt-4.1" before "gpt-4").
const table: [prefix: string, info: ModelInfo][] = [
  ['gpt-5', { contextWindow: 400_000, maxOutput: 128_000, encoding: 'o200k_base' }],
  ['gpt-4.1', { contextWindow: 1_047_576, maxOutput: 32_768, encoding: 'o200k_base' }],
  ['gpt-4o', { contextWindow: 128_000, maxOutput: 16_384, encoding: 'o200k_base' }],
  ['o4-mini', { contextWindow: 200_000, maxOutput: 100_000, encoding: 'o200k_base' }],
  ['o3', { contextWindow: 200_000, maxOutput: 100_000, encoding: 'o200k_base' }],
  ['o1', { contextWindow: 200_000, maxOutput: 100_000, encoding: 'o200k_base' }],
  ['gpt-4-turbo', { contextWindow: 128_000, maxOutput: 4096, encoding: 'cl100k_base' }],
  ['gpt-4', { contextWindow: 8192, maxOutput: 8192, encoding: 'cl100k_base' }],
  ['gpt-3.5-turbo', { contextWindow: 16_385, maxOutput: 4096, encoding: 'cl100k_base' }],
];

/** For a model nobody described: o200k_base and a modest window, so that fitting errs on the safe side. */
export const unknownModel: ModelInfo = { contextWindow: 8192, maxOutput: 4096, encoding: 'o200k_base' };

/** Facts about an upstream model: the table's, overridden by what the config says. */
export function modelInfo(model: string, overrides: Partial<ModelInfo> = {}): ModelInfo {
  let best: ModelInfo | undefined;
  let bestLength = -1;
  for (const [prefix, info] of table) {
    if (model.startsWith(prefix) && prefix.length > bestLength) {
      best = info;
      bestLength = prefix.length;
    }
  }
  return { ...(best ?? unknownModel), ...overrides };
}
