// Fitting a conversation into its model's window, as pure arithmetic over token counts that were computed
// once per message. The prompt is: system prompt, running summary, then the history oldest first.

import { replyPriming } from '../models/chat-format.ts';

/** Tokens of a prompt whose messages were counted one by one: their sum plus the reply priming. */
export function promptTokens(messageTokens: Iterable<number>): number {
  let total = replyPriming;
  for (const t of messageTokens) total += t;
  return total;
}

export interface FitMessage {
  seq: number;
  /** Messages of one turn (a user message and its reply) are kept or dropped together. */
  turnId: string;
  tokens: number;
  /** A `tool` result joins the turn before it: a call and its result are kept or dropped together. */
  role?: string;
}

export interface FitInput {
  /** Tokens of the system message, 0 without one. */
  system: number;
  /** Tokens of the summary message, 0 without one. */
  summary: number;
  /** Oldest first; the last turn is the one being answered and is always kept. */
  history: readonly FitMessage[];
  /** Window minus the completion reserve. */
  budget: number;
}

export type FitResult = { ok: true; keep: number[]; total: number } | { ok: false; needed: number };

function turnsOf(history: readonly FitMessage[]): FitMessage[][] {
  const turns: FitMessage[][] = [];
  for (const m of history) {
    const last = turns.at(-1);
    if (last && (last.at(-1)?.turnId === m.turnId || m.role === 'tool')) last.push(m);
    else turns.push([m]);
  }
  return turns;
}

const sum = (ms: readonly FitMessage[]) => ms.reduce((n, m) => n + m.tokens, 0);

/**
 * Sliding window: drops the oldest turns whole until the prompt fits, never the system prompt, the summary or
 * the newest turn. Fails when even those do not fit, with the tokens they need.
 */
export function fitSliding(input: FitInput): FitResult {
  const turns = turnsOf(input.history);
  const newest = turns.pop() ?? [];
  let total = promptTokens([input.system, input.summary, sum(newest)]);
  if (total > input.budget) return { ok: false, needed: total };
  // Take turns from the newest backwards while they fit; the oldest go first.
  const kept: FitMessage[][] = [newest];
  for (let i = turns.length - 1; i >= 0; i--) {
    const turn = turns[i] as FitMessage[];
    const cost = sum(turn);
    if (total + cost > input.budget) break;
    total += cost;
    kept.unshift(turn);
  }
  return { ok: true, keep: kept.flat().map((m) => m.seq), total };
}

/**
 * Summarization plan: the oldest turns to fold into the summary so that the rest, plus a summary of at most
 * `summaryMaxTokens`, fits. Empty when everything fits as it is.
 */
export function planFold(input: FitInput, summaryMaxTokens: number): number[] {
  const turns = turnsOf(input.history);
  let total = promptTokens([input.system, input.summary, sum(input.history)]);
  if (total <= input.budget) return [];
  const newest = turns.pop();
  const fold: number[] = [];
  // The summary message is replaced by one of at most summaryMaxTokens.
  total += summaryMaxTokens - input.summary;
  for (const turn of turns) {
    if (total <= input.budget) break;
    total -= sum(turn);
    fold.push(...turn.map((m) => m.seq));
  }
  return newest ? fold : [];
}
