import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { ChatMessage, type ChatMessageStatus } from '../chat-message.entity.js';
import { Conversation } from '../conversation.entity.js';
import type { MessageFields } from '../stored-message.js';
import type { AssistantReply } from './assistant-reply.js';

/** A stored message as a conversation turn reads it: its place, how it ended, and vLLM's count when there is one. */
export type StoredMessage = MessageFields & Pick<ChatMessage, 'seq' | 'status' | 'tokenCount'>;

export interface TurnContext {
  llmConfigId: string | null;
  /** The first seq turns send (see `planContext`). */
  contextStartSeq: number;
  /** Oldest first, from the context start on. */
  history: StoredMessage[];
  /** False when messages after the context start were left out by the read's bounds (rows or bytes). */
  complete: boolean;
  /** The conversation's highest seq handed out, when it was read. */
  lastSeq: number;
}

/** How much of a conversation one turn reads: its rows and their text, the bound on what a request costs. */
export interface HistoryBounds {
  rows: number;
  bytes: number;
}

/** A request's message as `appendTurn` stores it: its seq comes from the statement, and it is complete. */
export type NewMessage = Omit<StoredMessage, 'seq' | 'status'>;

/** The assistant row `insertReply` writes: the reply's own columns, and what the turn knows of it. */
export type ReplyRow = Omit<AssistantReply, 'error'> &
  Pick<ChatMessage, 'conversationId' | 'seq' | 'status' | 'requestId' | 'ttftMs' | 'durationMs' | 'tokenCount'>;

interface HistoryRow {
  llm_config_id: string | null;
  context_start_seq: number;
  last_seq: number;
  first_seq: number | null;
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
   * The conversation's config and its newest messages from the context start on, oldest first, or null when it does
   * not exist or belongs to another owner (`owner` null: any). One query: newest first on the (conversation_id, seq)
   * unique index, bounded by `bounds.rows` and by a running sum of the stored sizes (`bounds.bytes`, which the
   * database knows without reading the text), reversed here. The context's first seq tells whether the read
   * reached it.
   */
  async loadTurnContext(
    conversationId: string,
    bounds: HistoryBounds,
    owner: string | null,
  ): Promise<TurnContext | null> {
    const rows: HistoryRow[] = await this.conversations.query(
      `SELECT c.llm_config_id, c.context_start_seq, c.last_seq, f.first_seq, m.seq, m.role, m.content,
              m.content_parts, m.tool_calls, m.tool_call_id, m.name, m.status, m.token_count
       FROM conversations c
       LEFT JOIN LATERAL (
         SELECT min(seq) AS first_seq FROM chat_messages WHERE conversation_id = c.id AND seq >= c.context_start_seq
       ) f ON true
       LEFT JOIN LATERAL (
         SELECT * FROM (
           SELECT seq, role, content, content_parts, tool_calls, tool_call_id, name, status, token_count,
                  sum(octet_length(content) + coalesce(pg_column_size(content_parts), 0)
                      + coalesce(pg_column_size(tool_calls), 0)) OVER (ORDER BY seq DESC) AS bytes
           FROM chat_messages WHERE conversation_id = c.id AND seq >= c.context_start_seq
           ORDER BY seq DESC LIMIT $2
         ) w WHERE w.bytes <= $3
       ) m ON true
       WHERE c.id = $1 AND ($4::text IS NULL OR c.owner = $4)`,
      [conversationId, bounds.rows, bounds.bytes, owner],
    );
    const first = rows[0];
    if (first === undefined) return null;
    const history: StoredMessage[] = [];
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
    history.reverse();
    const complete = first.first_seq === null || history[0]?.seq === first.first_seq;
    return {
      llmConfigId: first.llm_config_id,
      contextStartSeq: first.context_start_seq,
      history,
      complete,
      lastSeq: first.last_seq,
    };
  }

  /**
   * Stores the request's messages and reserves one more seq for the reply, in one statement: raising
   * `conversations.last_seq` locks the row until the insert commits, so concurrent turns get distinct, increasing
   * seqs and keep their user message and reply next to each other. A truncation's new context start is written in
   * the same statement (never backwards). Returns the reply's seq, or null when the conversation no longer exists.
   */
  async appendTurn(
    conversationId: string,
    messages: readonly NewMessage[],
    requestId: string,
    contextStartSeq: number,
  ): Promise<number | null> {
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
         UPDATE conversations
         SET last_seq = last_seq + $2, context_start_seq = GREATEST(context_start_seq, $5), updated_at = now()
         WHERE id = $1 RETURNING last_seq
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
      [conversationId, reserved, JSON.stringify(rows), requestId, contextStartSeq],
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

  /**
   * The reply, at the seq its turn reserved; a second write for the same seq is ignored, never a duplicate. It is on
   * the turn's critical path (committed before the client's last bytes), hence one plain statement: no query builder,
   * no RETURNING of generated columns nobody reads.
   */
  async insertReply(reply: ReplyRow): Promise<void> {
    await this.messages.query(
      `INSERT INTO chat_messages
         (conversation_id, seq, role, status, content, reasoning, tool_calls, finish_reason, prompt_tokens,
          completion_tokens, model, request_id, ttft_ms, duration_ms, token_count)
       VALUES ($1, $2, 'assistant', $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (conversation_id, seq) DO NOTHING`,
      [
        reply.conversationId,
        reply.seq,
        reply.status,
        reply.content,
        reply.reasoning,
        reply.toolCalls === null ? null : JSON.stringify(reply.toolCalls),
        reply.finishReason,
        reply.promptTokens,
        reply.completionTokens,
        reply.model,
        reply.requestId,
        reply.ttftMs,
        reply.durationMs,
        reply.tokenCount,
      ],
    );
  }
}
