import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { ChatMessage, type ChatMessageStatus } from './chat-message.entity.js';
import { Conversation } from './conversation.entity.js';
import type { MessageFields } from './stored-message.js';

/** A stored message as a conversation turn reads it. */
export interface HistoryMessage extends MessageFields {
  seq: number;
  status: ChatMessageStatus;
  tokenCount: number | null;
}

export interface TurnContext {
  llmConfigId: string | null;
  /** Oldest first. */
  history: HistoryMessage[];
  /** False when the conversation has older messages than the bounded read returned. */
  complete: boolean;
}

export interface NewMessage extends MessageFields {
  tokenCount: number | null;
}

export interface ReplyRow {
  conversationId: string;
  seq: number;
  status: ChatMessageStatus;
  content: string;
  reasoning: string | null;
  toolCalls: object[] | null;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  model: string | null;
  requestId: string | null;
  ttftMs: number | null;
  durationMs: number | null;
  tokenCount: number | null;
}

interface HistoryRow {
  llm_config_id: string | null;
  seq: number | null;
  role: string;
  content: string;
  content_parts: object[] | null;
  tool_calls: object[] | null;
  tool_call_id: string | null;
  name: string | null;
  status: ChatMessageStatus;
  token_count: number | null;
}

/**
 * The conversation turn's database work, one round trip per step: read (conversation + newest messages), append the
 * request's messages (reserving the reply's seq), insert the reply. Hand-written SQL where TypeORM would need a
 * transaction and several round trips for the same thing.
 */
@Injectable()
export class MessageStore {
  constructor(
    @InjectRepository(Conversation) private readonly conversations: Repository<Conversation>,
    @InjectRepository(ChatMessage) private readonly messages: Repository<ChatMessage>,
  ) {}

  /**
   * The conversation's config and its newest `limit` messages in order, or null when it does not exist. One query,
   * newest first on the (conversation_id, seq) unique index with a LIMIT, reversed here; one extra row tells whether
   * anything older was left out.
   */
  async loadTurnContext(conversationId: string, limit: number): Promise<TurnContext | null> {
    const rows: HistoryRow[] = await this.conversations.query(
      `SELECT c.llm_config_id, m.seq, m.role, m.content, m.content_parts, m.tool_calls, m.tool_call_id, m.name,
              m.status, m.token_count
       FROM conversations c
       LEFT JOIN LATERAL (
         SELECT seq, role, content, content_parts, tool_calls, tool_call_id, name, status, token_count
         FROM chat_messages WHERE conversation_id = c.id ORDER BY seq DESC LIMIT $2
       ) m ON true
       WHERE c.id = $1`,
      [conversationId, limit + 1],
    );
    const first = rows[0];
    if (first === undefined) return null;
    const history: HistoryMessage[] = [];
    for (const row of rows) {
      if (row.seq === null) continue;
      history.push({
        seq: row.seq,
        role: row.role,
        content: row.content,
        contentParts: row.content_parts,
        toolCalls: row.tool_calls,
        toolCallId: row.tool_call_id,
        name: row.name,
        status: row.status,
        tokenCount: row.token_count,
      });
    }
    const complete = history.length <= limit;
    if (!complete) history.pop();
    history.reverse();
    return { llmConfigId: first.llm_config_id, history, complete };
  }

  /**
   * Stores the request's messages and reserves one more seq for the reply, in one statement: raising
   * `conversations.last_seq` locks the row until the insert commits, so concurrent turns get distinct, increasing
   * seqs and keep their user message and reply next to each other. Returns the reply's seq, or null when the
   * conversation no longer exists.
   */
  async appendTurn(conversationId: string, messages: readonly NewMessage[], requestId: string): Promise<number | null> {
    const reserved = messages.length + 1;
    const rows = messages.map((m, i) => ({
      i: i + 1,
      role: m.role,
      content: m.content,
      content_parts: m.contentParts,
      tool_calls: m.toolCalls,
      tool_call_id: m.toolCallId,
      name: m.name,
      token_count: m.tokenCount,
    }));
    const result: { last_seq: number }[] = await this.conversations.query(
      `WITH c AS (
         UPDATE conversations SET last_seq = last_seq + $2, updated_at = now() WHERE id = $1 RETURNING last_seq
       ), inserted AS (
         INSERT INTO chat_messages
           (conversation_id, seq, role, content, content_parts, tool_calls, tool_call_id, name, status, token_count,
            request_id)
         SELECT $1, c.last_seq - $2 + v.i, v.role, v.content, v.content_parts, v.tool_calls, v.tool_call_id, v.name,
                'complete', v.token_count, $4
         FROM c, jsonb_to_recordset($3::jsonb) AS v(i integer, role text, content text, content_parts jsonb,
                tool_calls jsonb, tool_call_id text, name text, token_count integer)
       )
       SELECT last_seq FROM c`,
      [conversationId, reserved, JSON.stringify(rows), requestId],
    );
    return result[0]?.last_seq ?? null;
  }

  /**
   * Fills in the token counts of messages stored without one. The store is otherwise append-only, but token_count is
   * a cache of vLLM's count, not content: a turn that provably fit without counting stores its messages with NULL
   * and counts them after the response; writing the count once (only over NULL) changes nothing a client sent.
   */
  async fillTokenCounts(conversationId: string, counts: readonly { seq: number; tokenCount: number }[]): Promise<void> {
    if (counts.length === 0) return;
    await this.conversations.query(
      `UPDATE chat_messages m SET token_count = v.token_count
       FROM jsonb_to_recordset($2::jsonb) AS v(seq integer, token_count integer)
       WHERE m.conversation_id = $1 AND m.seq = v.seq AND m.token_count IS NULL`,
      [conversationId, JSON.stringify(counts.map((c) => ({ seq: c.seq, token_count: c.tokenCount })))],
    );
  }

  /** The reply, at the seq its turn reserved; a second write for the same seq is ignored, never a duplicate. */
  async insertReply(reply: ReplyRow): Promise<void> {
    await this.messages
      .createQueryBuilder()
      .insert()
      .into(ChatMessage)
      .values({ ...reply, role: 'assistant' })
      .orIgnore()
      .execute();
  }
}
