// What the conversation machine does to the world, provided through setup(): store writes, completions
// through the supervisor (streamed into a sink when the caller reads the reply as it comes), and summaries.

import type { CompletionUsage } from 'openai/resources/completions';
import { fromPromise } from 'xstate';
import type { ConversationsConfig } from '../config.ts';
import { asSwitchyard, SwitchyardError } from '../errors.ts';
import { countMessageTokens, type Encoding } from '../models/tokens.ts';
import type { ChatCompletionRequest, ChatStreamDelta, ChatStreamEnd } from '../routing/request.ts';
import type { CallOptions, Supervisor } from '../routing/supervisor.ts';
import type { ConversationStore, MessageRecord, ToolCallRecord } from '../stores/types.ts';
import type { ToolCallDelta } from '../upstream/adapter.ts';
import { messageTokens } from './count.ts';
import { newId } from './ids.ts';
import { BrokenReply, type ConversationMessage, conversationMachine, type Reply } from './machine.ts';

const summaryPrompt =
  'Summarize the conversation below for your own later use: keep facts, decisions, names, numbers and open questions; drop pleasantries. Write plain prose.';

export interface LogicDeps {
  store: ConversationStore;
  supervisor: Supervisor;
  settings: ConversationsConfig;
  now: () => number;
  /** The tokenizer encoding of a logical model. */
  encodingOf(model: string): Encoding;
  /** A conversation's own logical model, for summaries when no summarizer model is set. */
  modelOf(conversationId: string): string | undefined;
  /** The tenant a conversation's turns are charged to (its owner); undefined: none. */
  tenantOf(conversationId: string): string | undefined;
  /** The caller's abort signal, by turn id. */
  signals: ReadonlyMap<string, AbortSignal>;
  /** Where a turn's reply goes as it streams, by turn id (only for callers that stream); resolves when taken. */
  sinks: ReadonlyMap<string, (delta: ChatStreamDelta) => Promise<void>>;
}

/** The conversation machine with its actors provided. */
export function conversationLogic(deps: LogicDeps) {
  const { store, supervisor, settings, signals, sinks } = deps;

  /** Streams a reply through the supervisor into `sink`; a failure after text was delivered carries that text. */
  async function streamReply(
    request: ChatCompletionRequest,
    encoding: Encoding,
    sink: (delta: ChatStreamDelta) => Promise<void>,
    options: CallOptions,
  ): Promise<Reply> {
    let content = '';
    const calls: ToolCallRecord[] = [];
    const stream = supervisor.stream(request, options);
    try {
      // The end is the stream's return value: a stream that did not reach it threw.
      for (let next = await stream.next(); ; next = await stream.next()) {
        if (next.done) return replyOf(content, calls, next.value, encoding);
        if (next.value.type !== 'delta') continue;
        content += next.value.content;
        gatherCalls(calls, next.value.toolCalls);
        await sink(next.value);
      }
    } catch (err) {
      const tokens = content === '' ? 0 : countMessageTokens({ role: 'assistant', content }, encoding);
      throw new BrokenReply(asSwitchyard(err), { content, tokens });
    }
  }
  return conversationMachine.provide({
    actors: {
      persistUser: fromPromise(async ({ input }) => {
        const records = input.messages.map(record);
        if (store.appendMessages) return store.appendMessages(input.id, records);
        // An embedder's store without appendMessages: one by one (a turn has one message unless it brings tool results).
        for (const r of records) await store.appendUser(input.id, r);
      }),
      persistReply: fromPromise(async ({ input }) => store.completeTurn(input.id, input.turnId, record(input.message))),
      persistSummary: fromPromise(async ({ input }) => store.saveSummary(input.id, input.summary)),
      restartTurn: fromPromise(async ({ input }) => store.restartTurn(input.id, input.turnId)),
      failTurn: fromPromise(async ({ input }) =>
        store.failTurn(input.id, input.turnId, input.status, input.partial ? record(input.partial) : undefined),
      ),
      complete: fromPromise(async ({ input }) => {
        // The turn's request is charged to the conversation's tenant, whoever posted it; the conversation is the
        // subject of a split model's sticky arm (src/rollout).
        const options = { signal: signals.get(input.turnId), tenant: deps.tenantOf(input.id), subject: { conversation: input.id } };
        // The client's whole request (tools, temperature, response_format…), with the window as its messages.
        const request = { ...input.params, model: input.model, messages: input.messages } as ChatCompletionRequest;
        const encoding = deps.encodingOf(input.model);
        const sink = sinks.get(input.turnId);
        if (sink) return streamReply(request, encoding, sink, options);
        const { completion, route } = await supervisor.chat(request, options);
        const choice = completion.choices[0];
        const content = choice?.message.content ?? '';
        const toolCalls = (choice?.message.tool_calls ?? []).flatMap((t) =>
          t.type === 'function' ? [{ id: t.id, name: t.function.name, arguments: t.function.arguments, itemId: newId('fc') }] : [],
        );
        return {
          content,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
          itemId: newId('msg'),
          tokens: messageTokens({ role: 'assistant', content, toolCalls }, encoding),
          finishReason: choice?.finish_reason ?? 'stop',
          ...(choice?.logprobs ? { logprobs: choice.logprobs } : {}),
          usage: usageOf(completion.usage),
          route,
        };
      }),
      summarize: fromPromise(async ({ input }) => {
        const model = settings.summarizerModel ?? deps.modelOf(input.id) ?? '';
        const transcript = input.messages.map(transcriptLine).join('\n');
        const previous = input.previous ? `Summary so far:\n${input.previous.text}\n\nThen:\n` : '';
        const { completion } = await supervisor.chat({
          model,
          messages: [
            { role: 'system', content: summaryPrompt },
            { role: 'user', content: `${previous}${transcript}` },
          ],
          max_tokens: settings.summaryMaxTokens,
        });
        const text = completion.choices[0]?.message.content ?? '';
        if (text.trim() === '') throw new SwitchyardError('internal_error', 'the summarizer returned nothing');
        const encoding = deps.encodingOf(model);
        return { text, tokens: countMessageTokens({ role: 'system', content: `Summary of the conversation so far:\n${text}` }, encoding) };
      }),
    },
  });

  function record(m: ConversationMessage): MessageRecord {
    return { ...m, createdAt: deps.now() };
  }
}

/** A message as a line of the transcript a summary is made from: its calls and results named. */
function transcriptLine(m: ConversationMessage): string {
  const calls = (m.toolCalls ?? []).map((t) => ` [calls ${t.name}(${t.arguments})]`).join('');
  const result = m.role === 'tool' ? ` [result of ${m.toolCallId ?? 'a call'}]` : '';
  return `${m.role}:${result} ${m.content}${calls}`;
}

/** Adds a stream's tool call pieces to the calls so far: the first piece of a call has its id and name, the rest add arguments. */
function gatherCalls(calls: ToolCallRecord[], deltas: readonly ToolCallDelta[] | undefined) {
  for (const d of deltas ?? []) {
    let call = calls[d.index];
    if (!call) {
      call = { id: d.id ?? '', name: '', arguments: '', itemId: newId('fc') };
      calls[d.index] = call;
    }
    if (d.id) call.id = d.id;
    if (d.function?.name) call.name += d.function.name;
    if (d.function?.arguments) call.arguments += d.function.arguments;
  }
}

/** A reply from a finished stream: counted once, at its end. */
function replyOf(content: string, gathered: ToolCallRecord[], end: ChatStreamEnd, encoding: Encoding): Reply {
  const toolCalls = gathered.filter((c) => c !== undefined);
  return {
    content,
    ...(toolCalls.length > 0 ? { toolCalls } : {}),
    itemId: newId('msg'),
    tokens: messageTokens({ role: 'assistant', content, toolCalls }, encoding),
    finishReason: end.finishReason,
    usage: usageOf(end.usage),
    route: end.route,
  };
}

const usageOf = (usage: CompletionUsage | null | undefined): Reply['usage'] =>
  usage ? { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens } : null;
