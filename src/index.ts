// Switchyard's public API: everything users may import, and nothing else.

export type { ApiKeyConfig, AuthConfig, Role, TenantBudget } from './config/auth.ts';
export {
  type ConfigCheck,
  type ConfigIssue,
  type Continuation,
  type ConversationsConfig,
  checkConfig,
  checkConfigFile,
  loadConfigFile,
  type ProviderConfig,
  type RoutingConfig,
  resolveConfig,
  type Strategy,
  type SwitchyardConfig,
  type SwitchyardConfigInput,
  type UpstreamModel,
  type UpstreamModelInput,
} from './config.ts';
export { type ChatTurnRequest, chatTurnOf, type TurnSpec } from './conversation/chat-turn.ts';
export type { ConversationItem, FunctionCallItem, FunctionCallOutputItem, ItemInput, MessageItem } from './conversation/items.ts';
export type { ItemPage, ListOptions } from './conversation/items-api.ts';
export type {
  ConversationScope,
  ConversationView,
  CreateConversation,
  LiveConversation,
  PostOptions,
  TurnResult,
  TurnStreamEvent,
} from './conversation/types.ts';
export { type AttemptRecord, type ErrorCode, isSwitchyardError, SwitchyardError } from './errors.ts';
export type { InspectionRecord } from './inspection/events.ts';
export { type LimitsConfig, limitDefaults } from './limits.ts';
export type { FaultMode, MockFaults } from './mock/faults.ts';
export { type MockStats, type MockUpstream, type MockUpstreamOptions, startMockUpstream } from './mock/server.ts';
export { type ModelInfo, modelInfo } from './models/table.ts';
export { countChatTokens, countMessageTokens, countTokens, type Encoding, freeEncoders } from './models/tokens.ts';
export { createProvider, type ProviderRuntimeOptions } from './provider/actor.ts';
export { type BackoffKind, type BackoffOptions, backoffDefaults } from './provider/backoff.ts';
export { deploymentDefaults, type Provider, type ProviderDeployment, type ProviderView } from './provider/deployment.ts';
export { admission, healthOf, type ProviderHealth } from './provider/health.ts';
export { type ProviderSnapshot, providerMachine } from './provider/machine.ts';
export { type ProviderHealthInput, type ProviderHealthOptions, providerHealthDefaults } from './provider/options.ts';
export type { ProviderEvent, ProviderInput } from './provider/types.ts';
export type { ExperimentView, RolloutCommand, RolloutView, Subject } from './rollout/splits.ts';
export type { RateLimiter } from './routing/budgets.ts';
export type { DeploymentPlan } from './routing/fleet.ts';
export type { CallOptions, ChatStreamDelta, ChatStreamEnd, RouteInfo } from './routing/request.ts';
export type {
  ChatCompletionRequest,
  ChatResult,
  ChatStreamEvent,
  Decision,
  EmbeddingsRequest,
  EmbeddingsResult,
} from './routing/supervisor.ts';
export {
  type ConfigStatus,
  type ConversationHandle,
  createRuntime,
  type DeploymentView,
  type ReloadResult,
  type ReloadSource,
  type Runtime,
  type RuntimeOptions,
} from './runtime.ts';
export type { StoreStatus } from './stores/health.ts';
export { openStore } from './stores/index.ts';
export { createMemoryStore } from './stores/memory.ts';
export { createSqliteStore } from './stores/sqlite.ts';
export type {
  ConversationRecord,
  ConversationStore,
  MessageRecord,
  MessageRole,
  Metadata,
  StoredConversation,
  SummaryRecord,
  ToolCallRecord,
} from './stores/types.ts';
export type { Timers } from './timers.ts';
export type {
  AdapterOptions,
  AnswerStream,
  ChatRequest,
  EmbeddingRequest,
  StreamDelta,
  StreamEnd,
  StreamEvent,
  ToolCallDelta,
} from './upstream/adapter.ts';
