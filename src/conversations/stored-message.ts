import { AppError } from '../common/errors/app-error.js';
import type { JsonObject } from '../common/json.js';
import type { ChatMessage } from './chat-message.entity.js';

/**
 * The columns of a message that come from the OpenAI message object itself: what a request's message is stored as,
 * and all that vLLM gets back of a stored one.
 */
export type MessageFields = Pick<
  ChatMessage,
  'role' | 'content' | 'contentParts' | 'toolCalls' | 'toolCallId' | 'name'
>;

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

/**
 * Refuses a turn whose new messages hold a content over `maxBytes` (MAX_STORED_MESSAGE_SIZE, UTF-8 bytes; content
 * parts count as their JSON): checked before anything is stored or sent, so a refused turn leaves no row behind.
 */
export function assertStorable(messages: readonly JsonObject[], maxBytes: number, offset = 0): void {
  for (let i = 0; i < messages.length; i++) {
    const content = messages[i]?.['content'];
    let size = 0;
    if (typeof content === 'string') size = Buffer.byteLength(content);
    else if (content !== undefined && content !== null) size = Buffer.byteLength(JSON.stringify(content));
    if (size > maxBytes) {
      throw new AppError(
        'bad_request',
        `messages[${i + offset}].content is ${size} bytes; a stored conversation message may hold at most ` +
          `${maxBytes} bytes (MAX_STORED_MESSAGE_SIZE). Nothing was stored.`,
        { param: `messages[${i + offset}].content` },
      );
    }
  }
}
