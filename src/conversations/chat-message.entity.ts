import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
  Unique,
} from 'typeorm';
import { Conversation } from './conversation.entity.js';

export const CHAT_MESSAGE_STATUSES = ['complete', 'aborted', 'error'] as const;
export type ChatMessageStatus = (typeof CHAT_MESSAGE_STATUSES)[number];

/**
 * One message of a conversation; rows are appended, never rewritten. `seq` orders a conversation's messages and is
 * unique within it, which is also the index history reads use.
 */
@Entity({ name: 'chat_messages' })
@Unique('uq_chat_messages_conversation_seq', ['conversationId', 'seq'])
@Check('ck_chat_messages_status', `"status" IN ('complete', 'aborted', 'error')`)
export class ChatMessage {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_chat_messages' })
  id: string;

  @Column({ name: 'conversation_id', type: 'uuid' })
  conversationId: string;

  @ManyToOne(() => Conversation, { onDelete: 'CASCADE', nullable: false })
  @JoinColumn({ name: 'conversation_id', foreignKeyConstraintName: 'fk_chat_messages_conversation' })
  conversation?: Relation<Conversation>;

  @Column({ name: 'seq', type: 'integer' })
  seq: number;

  /** OpenAI's role as sent or received: system, user, assistant, tool. */
  @Column({ name: 'role', type: 'text' })
  role: string;

  /** Never NULL: a reply aborted before its first token, or one that only made tool calls, is stored as ''. */
  @Column({ name: 'content', type: 'text', default: '' })
  content: string;

  /** The content when it was an array of parts (text, image_url, …) rather than a string; `content` is then ''. */
  @Column({ name: 'content_parts', type: 'jsonb', nullable: true })
  contentParts: object[] | null;

  /** An assistant message's tool calls, as OpenAI's `tool_calls`. */
  @Column({ name: 'tool_calls', type: 'jsonb', nullable: true })
  toolCalls: object[] | null;

  /** A tool message's `tool_call_id`. */
  @Column({ name: 'tool_call_id', type: 'text', nullable: true })
  toolCallId: string | null;

  /** OpenAI's optional participant `name`. */
  @Column({ name: 'name', type: 'text', nullable: true })
  name: string | null;

  /** A reasoning model's chain of thought; kept, but not replayed to the model on later turns. */
  @Column({ name: 'reasoning', type: 'text', nullable: true })
  reasoning: string | null;

  /** Tokens this message takes in a prompt, as vLLM's `/tokenize` counted them; NULL when it could not. */
  @Column({ name: 'token_count', type: 'integer', nullable: true })
  tokenCount: number | null;

  @Column({ name: 'status', type: 'text' })
  status: ChatMessageStatus;

  @Column({ name: 'finish_reason', type: 'text', nullable: true })
  finishReason: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer', nullable: true })
  promptTokens: number | null;

  @Column({ name: 'completion_tokens', type: 'integer', nullable: true })
  completionTokens: number | null;

  /** The model that actually answered, as vLLM reported it. */
  @Column({ name: 'model', type: 'text', nullable: true })
  model: string | null;

  @Column({ name: 'request_id', type: 'text', nullable: true })
  requestId: string | null;

  @Column({ name: 'ttft_ms', type: 'integer', nullable: true })
  ttftMs: number | null;

  @Column({ name: 'duration_ms', type: 'integer', nullable: true })
  durationMs: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
