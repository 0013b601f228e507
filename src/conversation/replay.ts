// Replaying a turn posted again with the same idempotency key: the earlier post's reply when it was answered
// (served from what the conversation holds, or from the store for turns folded into the summary), or its turn to
// run again when it was not.

import type { RouteInfo } from '../errors.ts';
import type { ConversationStore } from '../stores/types.ts';
import type { ConversationMessage } from './machine.ts';

/** The route of a reply served from the store: no deployment, no attempt. */
const storedRoute = (model: string): RouteInfo => ({ model, deployments: [], attempts: [], continued: false });

/** An earlier post with this idempotency key: its reply when answered, or its turn id to run it again. */
export async function findByKey(
  store: Pick<ConversationStore, 'load'>,
  id: string,
  model: string,
  active: readonly ConversationMessage[],
  folded: boolean,
  key: string,
) {
  let messages: readonly Pick<ConversationMessage, 'role' | 'content' | 'turnId' | 'status' | 'idempotencyKey' | 'toolCalls' | 'itemId'>[] =
    active;
  // The key rides on a turn's first message: the user's, or its first tool result.
  const keyed = (m: (typeof messages)[number]) => m.role !== 'assistant' && m.idempotencyKey === key;
  let user = messages.find(keyed);
  // The actor holds every message after the summary: only folded ones need the store.
  if (!user && folded) {
    messages = (await store.load(id))?.messages ?? [];
    user = messages.find(keyed);
  }
  if (!user) return null;
  const reply = user.status === 'done' ? messages.find((m) => m.role === 'assistant' && m.turnId === user.turnId) : undefined;
  return {
    turnId: user.turnId,
    content: user.content,
    reply: reply
      ? {
          turnId: user.turnId,
          content: reply.content,
          ...(reply.toolCalls ? { toolCalls: reply.toolCalls } : {}),
          ...(reply.itemId ? { itemId: reply.itemId } : {}),
          finishReason: reply.toolCalls?.length ? 'tool_calls' : 'stop',
          usage: null,
          deployments: [],
          route: storedRoute(model),
          replayed: true,
        }
      : null,
  };
}

/** Whether the actor runs or has queued the turn `turnId`. */
export const queued = (context: { current: { turnId: string } | null; queue: readonly { turnId: string }[] }, turnId: string) =>
  context.current?.turnId === turnId || context.queue.some((t) => t.turnId === turnId);
