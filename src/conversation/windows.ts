// The window a conversation of a logical model fits into: its deployments' smallest, with the first one's encoding.

import type { SwitchyardConfig } from '../config.ts';
import type { Encoding } from '../models/tokens.ts';

/** Each logical model's window (the smallest of its deployments') and encoding (that of the first). */
export function logicalModelWindows(config: SwitchyardConfig): Map<string, { contextWindow: number; encoding: Encoding }> {
  const windows = new Map<string, { contextWindow: number; encoding: Encoding }>();
  for (const provider of config.providers) {
    for (const [logical, upstream] of Object.entries(provider.models)) {
      const known = windows.get(logical);
      windows.set(logical, {
        contextWindow: Math.min(known?.contextWindow ?? Number.POSITIVE_INFINITY, upstream.contextWindow),
        encoding: known?.encoding ?? upstream.encoding,
      });
    }
  }
  return windows;
}
