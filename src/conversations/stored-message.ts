import type { JsonObject } from '../common/json.js';

/** The columns of a message that come from the OpenAI message object itself. */
export interface MessageFields {
  role: string;
  content: string;
  contentParts: object[] | null;
  toolCalls: object[] | null;
  toolCallId: string | null;
  name: string | null;
}

/** A chat request's message as it will be stored: nothing the client sent is dropped. */
export function fromRequestMessage(message: JsonObject): MessageFields {
  const content = message['content'];
  const toolCalls = message['tool_calls'];
  return {
    role: typeof message['role'] === 'string' ? message['role'] : 'user',
    content: typeof content === 'string' ? content : '',
    contentParts: Array.isArray(content) ? content : null,
    toolCalls: Array.isArray(toolCalls) && toolCalls.length > 0 ? toolCalls : null,
    toolCallId: typeof message['tool_call_id'] === 'string' ? message['tool_call_id'] : null,
    name: typeof message['name'] === 'string' ? message['name'] : null,
  };
}

/** A stored message as vLLM gets it in a later turn's history (reasoning stays out, as chat templates expect). */
export function toUpstreamMessage(row: MessageFields): JsonObject {
  const message: JsonObject = { role: row.role };
  if (row.contentParts !== null) message['content'] = row.contentParts;
  else message['content'] = row.toolCalls !== null && row.content === '' ? null : row.content;
  if (row.name !== null) message['name'] = row.name;
  if (row.toolCalls !== null) message['tool_calls'] = row.toolCalls;
  if (row.toolCallId !== null) message['tool_call_id'] = row.toolCallId;
  return message;
}
