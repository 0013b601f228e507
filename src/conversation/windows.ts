// The window a conversation of a logical model fits into (its deployments' smallest, with the first one's
// encoding), and a stored conversation as its actor's input.

import type { ConversationsConfig, SwitchyardConfig } from '../config.ts';
import { SwitchyardError } from '../errors.ts';
import type { Encoding } from '../models/tokens.ts';
import type { StoredConversation } from '../stores/types.ts';
import type { ConversationInput, ModelWindow } from './machine.ts';

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

/** A stored conversation as its actor's input: its window, fallback, and the messages after its summary. */
export function conversationInput(
  stored: StoredConversation,
  settings: ConversationsConfig,
  windowOf: (model: string) => ModelWindow,
): ConversationInput {
  const c = stored.conversation;
  const model = windowOf(c.model);
  const fallbackName = settings.contextFallbacks[c.model];
  const throughSeq = c.summary?.throughSeq ?? -1;
  return {
    id: c.id,
    model: { model: model.model, contextWindow: model.contextWindow },
    fallback: fallbackName ? { model: fallbackName, contextWindow: windowOf(fallbackName).contextWindow } : null,
    system: c.system === null ? null : { content: c.system, tokens: c.systemTokens },
    strategy: c.strategy,
    reserveTokens: settings.reserveTokens,
    summaryMaxTokens: settings.summaryMaxTokens,
    summary: c.summary,
    messages: stored.messages.filter((m) => m.seq > throughSeq).map(({ createdAt: _created, ...m }) => m),
  };
}

/**
 * The windows of the config in use, recomputed when a reload brings other providers (`config` reads the live
 * config: src/reload/reloader.ts liveConfig).
 */
export function liveWindows(config: SwitchyardConfig): () => Map<string, { contextWindow: number; encoding: Encoding }> {
  let current = { of: config.providers, map: logicalModelWindows(config) };
  return () => {
    if (current.of !== config.providers) current = { of: config.providers, map: logicalModelWindows(config) };
    return current.map;
  };
}

/** The model of a conversation created without one: the first logical model of the config (providers in order). */
export function firstModel(windows: ReadonlyMap<string, unknown>): string {
  const first = windows.keys().next();
  if (first.done) throw new SwitchyardError('model_not_found', 'no logical model is served here', { param: 'switchyard.model' });
  return first.value;
}
