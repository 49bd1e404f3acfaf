import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { ChatMessage } from '../../src/conversations/chat-message.entity.js';
import { Conversation } from '../../src/conversations/conversation.entity.js';
import { ConversationsService } from '../../src/conversations/conversations.service.js';
import { MessageStore, type NewMessage } from '../../src/conversations/turn/message-store.js';
import { createConversation, createMessages } from '../factories/conversations.js';
import { openTestDataSource } from '../helpers/pg.js';

const rows = (count: number): { rows: number; bytes: number } => ({ rows: count, bytes: 1 << 30 });

const userMessage = (content: string): NewMessage => ({
  role: 'user',
  content,
  contentParts: null,
  toolCalls: null,
  toolCallId: null,
  name: null,
  tokenCount: 3,
});

describe('conversation storage (real PostgreSQL)', () => {
  let db: DataSource;
  let store: MessageStore;
  let conversations: ConversationsService;

  beforeAll(async () => {
    db = await openTestDataSource();
    store = new MessageStore(db.getRepository(Conversation), db.getRepository(ChatMessage));
    conversations = new ConversationsService(db.getRepository(Conversation), db.getRepository(ChatMessage));
  });

  afterAll(async () => {
    await db.destroy();
  });

  const messagesOf = (conversationId: string): Promise<ChatMessage[]> =>
    db.getRepository(ChatMessage).find({ where: { conversationId }, order: { seq: 'ASC' } });

  it('gives 10 concurrent turns on one conversation distinct seqs, each turn’s reply next to its message', async () => {
    const conversation = await createConversation(db);

    const replySeqs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.appendTurn(conversation.id, [userMessage(`turn ${i}`)], `req-${i}`, 0),
      ),
    );
    await Promise.all(
      replySeqs.map((seq, i) =>
        store.insertReply({
          conversationId: conversation.id,
          seq: seq ?? -1,
          status: 'complete',
          content: `reply ${i}`,
          reasoning: null,
          toolCalls: null,
          finishReason: 'stop',
          promptTokens: 3,
          completionTokens: 2,
          model: 'm',
          requestId: `req-${i}`,
          ttftMs: 1,
          durationMs: 2,
          tokenCount: 4,
        }),
      ),
    );

    const stored = await messagesOf(conversation.id);
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (let i = 0; i < 20; i += 2) {
      const turn = stored[i]?.content.replace('turn ', '');
      expect(stored[i]?.role).toBe('user');
      expect(stored[i + 1]).toMatchObject({ role: 'assistant', content: `reply ${turn}` });
    }
    const row = await db.getRepository(Conversation).findOneByOrFail({ id: conversation.id });
    expect(row.lastSeq).toBe(20);
  });

  it('stores a turn’s messages in order with everything the client sent', async () => {
    const conversation = await createConversation(db);
    const parts = [{ type: 'text', text: 'look' }];
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }];

    const replySeq = await store.appendTurn(
      conversation.id,
      [
        { ...userMessage(''), contentParts: parts, name: 'ada' },
        { ...userMessage(''), role: 'assistant', toolCalls },
        { ...userMessage('42'), role: 'tool', toolCallId: 'call_1' },
      ],
      'req-parts',
      0,
    );

    expect(replySeq).toBe(4);
    const stored = await messagesOf(conversation.id);
    expect(stored.map((m) => [m.seq, m.role])).toEqual([
      [1, 'user'],
      [2, 'assistant'],
      [3, 'tool'],
    ]);
    expect(stored[0]).toMatchObject({ contentParts: parts, name: 'ada', tokenCount: 3, requestId: 'req-parts' });
    expect(stored[1]?.toolCalls).toEqual(toolCalls);
    expect(stored[2]).toMatchObject({ content: '42', toolCallId: 'call_1' });
  });

  it('never stores a reply twice for the same turn', async () => {
    const conversation = await createConversation(db);
    const seq = (await store.appendTurn(conversation.id, [userMessage('hi')], 'req-dup', 0)) ?? -1;
    const reply = {
      conversationId: conversation.id,
      seq,
      status: 'complete' as const,
      content: 'once',
      reasoning: null,
      toolCalls: null,
      finishReason: 'stop',
      promptTokens: null,
      completionTokens: null,
      model: null,
      requestId: 'req-dup',
      ttftMs: null,
      durationMs: null,
      tokenCount: null,
    };

    await store.insertReply(reply);
    await store.insertReply({ ...reply, content: 'twice' });

    expect((await messagesOf(conversation.id)).map((m) => m.content)).toEqual(['hi', 'once']);
  });

  it('stores a reply with everything the client received: tool calls, reasoning, usage, timings', async () => {
    const conversation = await createConversation(db);
    const seq = (await store.appendTurn(conversation.id, [userMessage('weather?')], 'req-tools', 0)) ?? -1;
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }];
    const reply = {
      status: 'aborted' as const,
      content: '',
      reasoning: 'thinking',
      toolCalls,
      finishReason: 'tool_calls',
      promptTokens: 11,
      completionTokens: 7,
      model: 'm',
      requestId: 'req-tools',
      ttftMs: 5,
      durationMs: 9,
      tokenCount: null,
    };
    await store.insertReply({ conversationId: conversation.id, seq, ...reply });
    const [, stored] = await messagesOf(conversation.id);
    expect(stored).toMatchObject({ role: 'assistant', ...reply });
  });

  it('appends nothing to a conversation that does not exist', async () => {
    expect(await store.appendTurn('00000000-0000-4000-8000-00000000dead', [userMessage('x')], 'req-x', 0)).toBeNull();
  });

  it('reads the newest messages in order with one bounded query, and says when older ones exist', async () => {
    const conversation = await createConversation(db);
    await createMessages(db, conversation.id, 30);

    const bounded = await store.loadTurnContext(conversation.id, rows(10), null);
    const whole = await store.loadTurnContext(conversation.id, rows(30), null);

    expect(bounded?.history.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 21));
    expect(bounded?.history[0]).toMatchObject({ content: 'm21', role: 'user', tokenCount: 10 });
    expect(bounded?.complete).toBe(false);
    expect(whole?.history).toHaveLength(30);
    expect(whole?.complete).toBe(true);
  });

  it('bounds the read in bytes too, and reads from the context start on', async () => {
    const conversation = await createConversation(db);
    await createMessages(db, conversation.id, 30);
    // Each message is 'mNN' (3 bytes): 12 bytes hold the newest four.
    const byBytes = await store.loadTurnContext(conversation.id, { rows: 100, bytes: 12 }, null);
    expect(byBytes?.history.map((m) => m.seq)).toEqual([27, 28, 29, 30]);
    expect(byBytes?.complete).toBe(false);

    await db.query('UPDATE conversations SET context_start_seq = 25 WHERE id = $1', [conversation.id]);
    const fromStart = await store.loadTurnContext(conversation.id, rows(100), null);
    expect(fromStart?.history.map((m) => m.seq)).toEqual([25, 26, 27, 28, 29, 30]);
    expect(fromStart).toMatchObject({ contextStartSeq: 25, complete: true });

    // A turn that cuts moves the start forward in the same statement, never backwards.
    await store.appendTurn(conversation.id, [userMessage('next')], 'req-cut', 29);
    await store.appendTurn(conversation.id, [userMessage('later')], 'req-nocut', 0);
    const [row] = await db.query<{ context_start_seq: number }[]>(
      'SELECT context_start_seq FROM conversations WHERE id = $1',
      [conversation.id],
    );
    expect(row?.context_start_seq).toBe(29);
  });

  it('reads a conversation only for its owner, or for anyone when no owner is asked', async () => {
    const conversation = await createConversation(db);
    await db.query(`UPDATE conversations SET owner = 'key-a' WHERE id = $1`, [conversation.id]);
    expect(await store.loadTurnContext(conversation.id, rows(10), 'key-a')).not.toBeNull();
    expect(await store.loadTurnContext(conversation.id, rows(10), null)).not.toBeNull();
    expect(await store.loadTurnContext(conversation.id, rows(10), 'key-b')).toBeNull();
  });

  it('reads a conversation without messages, and nothing for an unknown one', async () => {
    const conversation = await createConversation(db);

    expect(await store.loadTurnContext(conversation.id, rows(10), null)).toEqual({
      llmConfigId: null,
      contextStartSeq: 0,
      history: [],
      complete: true,
      lastSeq: 0,
    });
    expect(await store.loadTurnContext('00000000-0000-4000-8000-00000000dead', rows(10), null)).toBeNull();
  });

  it('reads history through the (conversation_id, seq) index, newest first, bounded', async () => {
    const conversation = await createConversation(db);
    await createMessages(db, conversation.id, 4);
    const runner = db.createQueryRunner();
    await runner.startTransaction();
    try {
      // A tiny test table would be scanned anyway; what matters is that the index can serve the read.
      await runner.query('SET LOCAL enable_seqscan = off');
      const plan: { 'QUERY PLAN': string }[] = (await runner.query(
        `EXPLAIN SELECT seq, role, content FROM chat_messages WHERE conversation_id = $1 ORDER BY seq DESC LIMIT 10`,
        [conversation.id],
      )) as { 'QUERY PLAN': string }[];
      const text = plan.map((line) => line['QUERY PLAN']).join('\n');
      expect(text).toMatch(/Index (Only )?Scan Backward using uq_chat_messages_conversation_seq/);
      expect(text).not.toContain('Sort');
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('deletes a conversation’s messages with it', async () => {
    const conversation = await createConversation(db);
    await createMessages(db, conversation.id, 4);

    await conversations.remove(conversation.id, null);

    expect(await db.getRepository(ChatMessage).countBy({ conversationId: conversation.id })).toBe(0);
    await expect(conversations.remove(conversation.id, null)).rejects.toMatchObject({ code: 'not_found' });
  });
});
