import { EXTENSION_FIELDS } from '../../common/extension-fields.js';
import type { JsonObject } from '../../common/json.js';
import type { LlmConfig } from '../../llm-configs/llm-config.entity.js';
import { type PromptVariables, renderPromptTemplate } from '../../llm-configs/prompt-template.js';
import { type MessageFields, toUpstreamMessage } from '../stored-message.js';

const isSet = (value: unknown): boolean => value !== undefined && value !== null;

const isSystemRole = (message: JsonObject): boolean => message['role'] === 'system' || message['role'] === 'developer';

/**
 * A shallow copy of the request without the extension fields, with the config's settings filled in where the
 * request has none (absent or null, as vLLM reads them): model, temperature, top_p, max_tokens (unless the request
 * set max_completion_tokens, which vLLM prefers) and each `extra_params` field.
 */
export function applyConfig(body: JsonObject, config: Readonly<LlmConfig> | null): JsonObject {
  const upstream: JsonObject = { ...body };
  for (const field of EXTENSION_FIELDS) delete upstream[field];
  if (config === null) return upstream;
  const fill = (field: string, value: unknown): void => {
    if (isSet(value) && !isSet(upstream[field])) upstream[field] = value;
  };
  fill('model', config.model);
  fill('temperature', config.temperature);
  fill('top_p', config.topP);
  if (!isSet(upstream['max_completion_tokens'])) fill('max_tokens', config.maxTokens);
  for (const [field, value] of Object.entries(config.extraParams)) fill(field, value);
  return upstream;
}

/** The request's leading system/developer messages, and the messages after them. */
export function splitLeadingSystem(messages: readonly JsonObject[]): { system: JsonObject[]; rest: JsonObject[] } {
  let i = 0;
  while (i < messages.length && isSystemRole(messages[i] as JsonObject)) i++;
  return { system: messages.slice(0, i), rest: messages.slice(i) };
}

/**
 * The system messages a request starts with: the client's own when it sent any (the request wins), else the
 * config's system prompt with its `{{variables}}` filled in, else none.
 */
export function systemMessages(
  requestSystem: JsonObject[],
  config: Readonly<LlmConfig> | null,
  variables: PromptVariables | undefined,
): JsonObject[] {
  if (requestSystem.length > 0) return requestSystem;
  const template = config?.systemPrompt;
  if (template === undefined || template === null || template === '') return [];
  return [{ role: 'system', content: renderPromptTemplate(template, variables) }];
}

/** The tokens the reply may take: what the request (or its config) asked for, else the one vLLM needs at least. */
export function replyReserve(upstream: JsonObject): number {
  for (const field of ['max_completion_tokens', 'max_tokens']) {
    const value = upstream[field];
    if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  }
  return 1;
}

/**
 * Whether a streaming client asked for the final usage chunk. vLLM sends it for any `stream_options` object whose
 * `include_usage` is not false (its default is true, unlike OpenAI's).
 */
export function clientAskedForUsage(body: JsonObject): boolean {
  const options = body['stream_options'];
  return typeof options === 'object' && options !== null && (options as JsonObject)['include_usage'] !== false;
}

export interface TurnMessages {
  system: readonly JsonObject[];
  /** The stored messages the turn sends, oldest first. */
  history: readonly MessageFields[];
  /** The request's own messages after its leading system ones. */
  rest: readonly JsonObject[];
}

/**
 * What vLLM receives for a conversation turn: the request with its config applied (`withConfig`), its messages
 * replaced by system + kept history + the new messages, and, for a stream whose client did not ask for the usage
 * chunk, `include_usage` turned on (the stored reply needs the counts; the relay hides that chunk from the client).
 */
export function turnUpstreamBody(
  withConfig: JsonObject,
  messages: TurnMessages,
): { body: JsonObject; hideUsageChunk: boolean } {
  const body: JsonObject = {
    ...withConfig,
    messages: [...messages.system, ...messages.history.map(toUpstreamMessage), ...messages.rest],
  };
  const hideUsageChunk = body['stream'] === true && !clientAskedForUsage(withConfig);
  if (hideUsageChunk) {
    const options = body['stream_options'];
    body['stream_options'] = { ...(typeof options === 'object' ? options : {}), include_usage: true };
  }
  return { body, hideUsageChunk };
}
