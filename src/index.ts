// Switchyard's public API: everything users may import, and nothing else.

export type {
  ConversationView,
  CreateConversation,
  LiveConversation,
  PostOptions,
  TurnResult,
  TurnStreamEvent,
} from './actors/conversation-types.ts';
export { deploymentDefaults, type Provider, type ProviderDeployment, type ProviderView } from './actors/deployment.ts';
export type { InspectionRecord } from './actors/inspection.ts';
export { type ModelInfo, modelInfo } from './actors/models.ts';
export type { AdapterOptions, ChatRequest, StreamEvent, ToolCallDelta } from './actors/openai-adapter.ts';
export { createProvider, type ProviderRuntimeOptions } from './actors/provider.ts';
export type { RateLimiter } from './actors/rate-limit.ts';
export type { RouteInfo } from './actors/request.ts';
export type { ChatCompletionRequest, ChatResult, ChatStreamEvent, Decision } from './actors/supervisor.ts';
export { countChatTokens, countMessageTokens, countTokens, type Encoding, freeEncoders } from './actors/tokens.ts';
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
export { type AttemptRecord, type ErrorCode, isSwitchyardError, SwitchyardError } from './errors.ts';
export { type BackoffKind, type BackoffOptions, backoffDefaults } from './machines/backoff.ts';
export {
  admission,
  healthOf,
  type ProviderEvent,
  type ProviderHealth,
  type ProviderInput,
  type ProviderSnapshot,
  providerMachine,
} from './machines/provider.ts';
export { type ProviderHealthInput, type ProviderHealthOptions, providerHealthDefaults } from './machines/provider-options.ts';
export type { FaultMode, MockFaults } from './mock/faults.ts';
export { type MockStats, type MockUpstream, type MockUpstreamOptions, startMockUpstream } from './mock/server.ts';
export { type ConversationHandle, createRuntime, type DeploymentView, type Runtime, type RuntimeOptions } from './runtime.ts';
export { openStore } from './stores/index.ts';
export { createMemoryStore } from './stores/memory.ts';
export { createSqliteStore } from './stores/sqlite.ts';
export type { ConversationRecord, ConversationStore, MessageRecord, StoredConversation, SummaryRecord } from './stores/types.ts';
