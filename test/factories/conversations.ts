import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ChatMessage } from '../../src/conversations/chat-message.entity.js';
import { Conversation } from '../../src/conversations/conversation.entity.js';
import { LlmConfig } from '../../src/llm-configs/llm-config.entity.js';

/** A conversation row of its own, straight through the repository. */
export function createConversation(db: DataSource, fields: Partial<Conversation> = {}): Promise<Conversation> {
  return db.getRepository(Conversation).save({ title: `test ${randomUUID()}`, ...fields });
}

/**
 * `count` messages alternating user/assistant from seq 1, with `last_seq` kept in step, as turns would leave them.
 * Message n has content `m<n>` and `tokens` tokens.
 */
export async function createMessages(
  db: DataSource,
  conversationId: string,
  count: number,
  tokens = 10,
): Promise<ChatMessage[]> {
  const rows = Array.from({ length: count }, (_, i) => ({
    conversationId,
    seq: i + 1,
    role: i % 2 === 0 ? 'user' : 'assistant',
    content: `m${i + 1}`,
    status: 'complete' as const,
    tokenCount: tokens,
  }));
  const saved = await db.getRepository(ChatMessage).save(rows);
  await db.getRepository(Conversation).update({ id: conversationId }, { lastSeq: count });
  return saved;
}

/** An LLM config with a unique name, so tests never collide on the unique index. */
export function createLlmConfig(db: DataSource, fields: Partial<LlmConfig> = {}): Promise<LlmConfig> {
  return db.getRepository(LlmConfig).save({ name: `config-${randomUUID()}`, extraParams: {}, ...fields });
}
