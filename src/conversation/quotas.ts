// The conversation limits of issue 14 (src/limits.ts): conversations per tenant, tokens of a system prompt and
// characters of a message, checked before anything is stored; and the refusal of an idempotency key reused
// with another message.

import { SwitchyardError } from '../errors.ts';
import type { LimitsConfig } from '../limits.ts';
import type { ConversationStore } from '../stores/types.ts';

type ConversationLimits = Pick<LimitsConfig, 'conversationsPerTenant' | 'systemPromptTokens' | 'messageChars'>;

export function createQuotas(store: Pick<ConversationStore, 'countByTenant'>, limits: ConversationLimits) {
  return {
    /** Before a conversation is created: its system prompt's size, and how many the tenant holds. */
    async checkCreate(tenant: string | null, systemTokens: number) {
      if (systemTokens > limits.systemPromptTokens) {
        const message = `the system prompt has ${systemTokens} tokens; at most ${limits.systemPromptTokens} are allowed`;
        throw new SwitchyardError('system_prompt_too_large', message, { param: 'system' });
      }
      // Counted in the store, so the quota holds across restarts and instances sharing the store.
      const held = await store.countByTenant(tenant);
      if (held >= limits.conversationsPerTenant) {
        const message = `${held} conversations are stored; at most ${limits.conversationsPerTenant} are allowed: delete some first`;
        throw new SwitchyardError('conversation_quota_exceeded', message);
      }
    },

    /** Before a message is counted or stored: its size in characters. */
    checkMessage(content: string) {
      if (content.length > limits.messageChars) {
        const message = `the message has ${content.length} characters; at most ${limits.messageChars} are allowed`;
        throw new SwitchyardError('message_too_large', message, { param: 'content' });
      }
    },
  };
}

/** The same idempotency key with a different message: replaying either answer would be wrong. */
export const keyReused = (key: string) =>
  new SwitchyardError('idempotency_key_reused', `the idempotency key "${key}" was used with a different message`, {
    param: 'idempotency-key',
  });
