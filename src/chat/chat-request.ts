import { AppError } from '../common/errors/app-error.js';
import { EXTENSION_FIELDS } from '../common/extension-fields.js';
import { isJsonObject, type JsonObject } from '../common/json.js';

/**
 * Checks only what the gateway itself reads; everything else is vLLM's to validate (its errors come back with their
 * status and message). The body is never copied or whitelisted here: vLLM's extra fields must pass untouched.
 */
export function assertChatBody(body: unknown, maxMessages: number): asserts body is JsonObject {
  assertObjectBody(body);
  const messages = body['messages'];
  if (messages === undefined || messages === null) throw invalid('messages', 'you must provide a messages parameter');
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalid('messages', "'messages' must be a non-empty array of message objects");
  }
  // Checked before the loop below: the bound is on the work a request can cause, this check included.
  if (messages.length > maxMessages) {
    throw invalid('messages', `'messages' has ${messages.length} items; the limit is ${maxMessages} (MAX_MESSAGES)`);
  }
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isJsonObject(message)) {
      throw invalid(`messages[${i}]`, `'messages[${i}]' must be an object`);
    }
    if (typeof message['role'] !== 'string') {
      throw invalid(`messages[${i}].role`, `'messages[${i}].role' must be a string`);
    }
  }
  assertCommonFields(body);
  assertOptional(body, 'temperature', 'number');
  assertOptional(body, 'conversation_id', 'string');
  assertOptional(body, 'llm_config_id', 'string');
  const variables = body['prompt_variables'];
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
    throw invalid('prompt_variables', "'prompt_variables' must be an object");
  }
}

/** `/v1/completions`: the gateway reads `stream`, `model` and, for the default, `temperature`. */
export function assertCompletionBody(body: unknown): asserts body is JsonObject {
  assertObjectBody(body);
  assertCommonFields(body);
  assertOptional(body, 'temperature', 'number');
}

/** `/v1/embeddings`: the gateway reads `model` only (and `stream`, which must not turn the answer into SSE). */
export function assertEmbeddingBody(body: unknown): asserts body is JsonObject {
  assertObjectBody(body);
  assertCommonFields(body);
}

/**
 * The body vLLM receives: the client's object itself when nothing changes (no copy, key order kept), otherwise a
 * shallow copy without the extension fields and, only when configured and the request has none, the default
 * temperature. Nothing else is ever added: no max_tokens, no stream_options.
 */
export function upstreamBody(body: JsonObject, defaultTemperature: number | undefined): JsonObject {
  const addTemperature =
    defaultTemperature !== undefined && (body['temperature'] === undefined || body['temperature'] === null);
  const hasExtensions = EXTENSION_FIELDS.some((field) => field in body);
  if (!addTemperature && !hasExtensions) return body;
  const copy: JsonObject = { ...body };
  for (const field of EXTENSION_FIELDS) delete copy[field];
  if (addTemperature) copy['temperature'] = defaultTemperature;
  return copy;
}

function assertObjectBody(body: unknown): asserts body is JsonObject {
  if (!isJsonObject(body)) {
    throw new AppError('bad_request', 'The request body must be a JSON object');
  }
}

function assertCommonFields(body: JsonObject): void {
  assertOptional(body, 'model', 'string');
  assertOptional(body, 'stream', 'boolean');
}

/** Absent and null are both "not given", as in vLLM's pydantic models (`x: T | None`). */
function assertOptional(body: JsonObject, field: string, type: 'string' | 'number' | 'boolean'): void {
  const value = body[field];
  if (value === undefined || value === null || typeof value === type) return;
  throw invalid(field, `'${field}' must be a ${type}`);
}

function invalid(param: string, message: string): AppError {
  return new AppError('bad_request', message, { param });
}
