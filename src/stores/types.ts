// The conversation store: narrow enough for memory, SQLite and Postgres. Writes are write-ahead: the user
// message is stored (pending) before the provider is called, the reply before the caller is answered.

export type Strategy = 'sliding' | 'summarize';
export type MessageStatus = 'pending' | 'done' | 'failed' | 'interrupted';
/** A chat message's role as stored: system and developer ones come from items added through the Conversations API. */
export type MessageRole = 'user' | 'assistant' | 'tool' | 'system' | 'developer';

/** A function call an assistant message made, with the id of its `function_call` item. */
export interface ToolCallRecord {
  id: string;
  name: string;
  arguments: string;
  itemId: string;
}

/** OpenAI's metadata: at most 16 string pairs (keys up to 64 characters, values up to 512). */
export type Metadata = Record<string, string>;

export interface ConversationRecord {
  id: string;
  /** Logical model. */
  model: string;
  system: string | null;
  systemTokens: number;
  strategy: Strategy;
  createdAt: number;
  summary: SummaryRecord | null;
  /** The tenant that owns it; null (or absent) when created without one (embedding, a server without keys). */
  tenant?: string | null;
  /** OpenAI's metadata of the conversation (absent: none). */
  metadata?: Metadata | null;
}

export interface SummaryRecord {
  text: string;
  tokens: number;
  /** Messages up to this sequence number are folded into the summary. */
  throughSeq: number;
}

export interface MessageRecord {
  seq: number;
  role: MessageRole;
  content: string;
  /** What the message adds to a prompt (framing included), counted once when it was added. */
  tokens: number;
  turnId: string;
  /** A user message is pending until its reply is stored; failed or interrupted turns are kept, marked. */
  status: MessageStatus;
  idempotencyKey: string | null;
  createdAt: number;
  /** Its item id in the Conversations API (msg_…, fco_…); absent on messages stored before items existed. */
  itemId?: string | undefined;
  /** The function calls of an assistant message. */
  toolCalls?: ToolCallRecord[] | undefined;
  /** The call a `tool` message answers. */
  toolCallId?: string | undefined;
}

export interface StoredConversation {
  conversation: ConversationRecord;
  messages: MessageRecord[];
}

export interface ConversationStore {
  /** Creates a conversation; rejects with `conversation_exists` when the id is taken. */
  create(conversation: ConversationRecord): Promise<void>;
  load(id: string): Promise<StoredConversation | null>;
  /** Stores a user message as pending (write-ahead). */
  appendUser(id: string, message: MessageRecord): Promise<void>;
  /** Stores the reply and marks its user message done, atomically. */
  completeTurn(id: string, turnId: string, reply: MessageRecord): Promise<void>;
  /** Marks a turn failed or interrupted; a partial reply, when given, is kept with the same status. */
  failTurn(id: string, turnId: string, status: 'failed' | 'interrupted', partial?: MessageRecord): Promise<void>;
  /** Starts a turn that never got its reply again: its user message pending, its partial replies deleted, atomically. */
  restartTurn(id: string, turnId: string): Promise<void>;
  saveSummary(id: string, summary: SummaryRecord): Promise<void>;
  /**
   * Stores messages in one write, with the status each carries: the input of a turn (several tool results) or
   * items added through the Conversations API. Optional for an embedder's store: without it they are appended one
   * by one with appendUser.
   */
  appendMessages?(id: string, messages: MessageRecord[]): Promise<void>;
  /** Replaces the conversation's metadata (the Conversations API); optional for an embedder's store. */
  setMetadata?(id: string, metadata: Metadata | null): Promise<void>;
  /** Deletes one message by sequence number; false when there is none. Optional for an embedder's store. */
  deleteMessage?(id: string, seq: number): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /** Conversations stored for `tenant` (null: those without a tenant). */
  countByTenant(tenant: string | null): Promise<number>;
  /**
   * Takes or renews this store instance's write lease on a conversation for `ttlMs` and returns its fencing
   * token. The token stays the same while this instance keeps (or takes back) the lease nobody else took
   * meanwhile, and grows when the lease changes hands: a holder whose token changed must reload what it has
   * in memory. Rejects with `conversation_moved` while another instance holds an unexpired lease, and with
   * `conversation_not_found`. Once taken, every write to the conversation checks the token in its own
   * transaction, and fails with `conversation_moved` if another instance took the lease since. Stores of one
   * process (memory, SQLite) have a single writer already: their token never changes.
   */
  acquireLease?(id: string, ttlMs: number): Promise<number>;
  /** Gives the lease up (expires it now) without forgetting who held it last; a no-op when not held. */
  releaseLease?(id: string): Promise<void>;
  /** A small real write, to learn whether a store that failed can write again (optional). */
  probe?(): Promise<void>;
  close(): Promise<void>;
}
