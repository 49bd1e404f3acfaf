import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { ChatMessage } from '../../src/conversations/chat-message.entity.js';
import { Conversation } from '../../src/conversations/conversation.entity.js';
import { LlmConfig } from '../../src/llm-configs/llm-config.entity.js';
import { openTestDataSource, pgError } from '../helpers/pg.js';

describe('constraints', () => {
  let db: DataSource;

  beforeAll(async () => {
    db = await openTestDataSource();
  });

  afterAll(async () => {
    await db.destroy();
  });

  const newConversation = (fields: Partial<Conversation> = {}): Promise<Conversation> =>
    db.getRepository(Conversation).save({ title: 'test', ...fields });

  const newMessage = (conversationId: string, seq: number, fields: Partial<ChatMessage> = {}): Promise<ChatMessage> =>
    db
      .getRepository(ChatMessage)
      .save({ conversationId, seq, role: 'user', content: 'hi', status: 'complete', ...fields });

  /** Runs `work` in a transaction that is always rolled back, so the test leaves no rows behind. */
  async function inRolledBackTransaction(work: (manager: EntityManager) => Promise<void>): Promise<void> {
    const runner = db.createQueryRunner();
    await runner.startTransaction();
    try {
      await work(runner.manager);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  }

  it('fills defaults: uuid ids, empty metadata, timestamps, empty content', async () => {
    const conversation = await newConversation();
    const message = await db
      .getRepository(ChatMessage)
      .save({ conversationId: conversation.id, seq: 1, role: 'assistant', status: 'aborted' });
    const stored = await db.getRepository(ChatMessage).findOneByOrFail({ id: message.id });

    expect(conversation.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(conversation.metadata).toEqual({});
    expect(conversation.createdAt).toBeInstanceOf(Date);
    expect(stored.content).toBe('');
  });

  it('deletes a conversation’s messages with it', async () => {
    const conversation = await newConversation();
    await newMessage(conversation.id, 1);
    await newMessage(conversation.id, 2, { role: 'assistant' });

    await db.getRepository(Conversation).delete({ id: conversation.id });

    expect(await db.getRepository(ChatMessage).countBy({ conversationId: conversation.id })).toBe(0);
  });

  it('rejects a second message with the same seq in one conversation, not in another', async () => {
    const first = await newConversation();
    const second = await newConversation();
    await newMessage(first.id, 1);
    await newMessage(second.id, 1);

    const duplicate = await newMessage(first.id, 1).then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(pgError(duplicate)).toEqual({ code: '23505', constraint: 'uq_chat_messages_conversation_seq' });
  });

  it('rejects an unknown message status', async () => {
    const conversation = await newConversation();

    const rejected = await db
      .query(
        `INSERT INTO chat_messages (conversation_id, seq, role, content, status) VALUES ($1, 1, 'user', '', 'bogus')`,
        [conversation.id],
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );

    expect(pgError(rejected)).toEqual({ code: '23514', constraint: 'ck_chat_messages_status' });
  });

  it('allows at most one default llm_config', async () => {
    let rejected: unknown;
    // Rolled back so a default row never outlives the test and trips other suites sharing the database.
    await inRolledBackTransaction(async (manager) => {
      const configs = manager.getRepository(LlmConfig);
      await configs.save({ name: `plain-${randomUUID()}` });
      await configs.save({ name: `plain-${randomUUID()}` });
      rejected = await configs
        .save({ name: `default-${randomUUID()}`, isDefault: true })
        .then(() => configs.save({ name: `default-${randomUUID()}`, isDefault: true }))
        .then(
          () => undefined,
          (err: unknown) => err,
        );
    });

    expect(pgError(rejected)).toEqual({ code: '23505', constraint: 'uq_llm_configs_default' });
  });

  it('rejects a duplicate llm_config name', async () => {
    const name = `dup-${randomUUID()}`;
    await db.getRepository(LlmConfig).save({ name });

    const rejected = await db
      .getRepository(LlmConfig)
      .save({ name })
      .then(
        () => undefined,
        (err: unknown) => err,
      );

    expect(pgError(rejected)).toEqual({ code: '23505', constraint: 'uq_llm_configs_name' });
  });

  it('keeps a conversation when its llm_config is deleted, with the reference cleared', async () => {
    const config = await db.getRepository(LlmConfig).save({ name: `gone-${randomUUID()}`, extraParams: { top_k: 5 } });
    const conversation = await newConversation({ llmConfigId: config.id });

    await db.getRepository(LlmConfig).delete({ id: config.id });

    const stored = await db.getRepository(Conversation).findOneByOrFail({ id: conversation.id });
    expect(stored.llmConfigId).toBeNull();
  });
});
