import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type UsageStatus = 'complete' | 'aborted' | 'error';

/**
 * One completion (chat, text or embeddings), written after the response in batches (`UsageService`). Append-only;
 * rows older than USAGE_RETENTION_DAYS are deleted. Nothing here is a secret: the key is its id (or, for a static
 * key, the owner digest prefix), never the key.
 */
@Entity({ name: 'usage_records' })
@Index('ix_usage_records_created_at', ['createdAt'])
@Check('ck_usage_records_status', `"status" IN ('complete', 'aborted', 'error')`)
export class UsageRecord {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_usage_records' })
  id: string;

  /** When the completion ended (set by the gateway, not by the insert, which may come a second later). */
  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  /** `/v1/chat/completions`, `/v1/completions` or `/v1/embeddings`. */
  @Column({ name: 'route', type: 'text' })
  route: string;

  /** The model sent to vLLM, as named (after an LLM config applied); null when the request named none. */
  @Column({ name: 'model', type: 'text', nullable: true })
  model: string | null;

  @Column({ name: 'llm_config_id', type: 'uuid', nullable: true })
  llmConfigId: string | null;

  /** A database key's id; null for a static API_KEY, for admin and for anonymous requests. */
  @Column({ name: 'api_key_id', type: 'uuid', nullable: true })
  apiKeyId: string | null;

  /** The key's owner identity (its id, or a static key's digest prefix); null when authentication is off. */
  @Column({ name: 'owner', type: 'text', nullable: true })
  owner: string | null;

  @Column({ name: 'conversation_id', type: 'uuid', nullable: true })
  conversationId: string | null;

  @Column({ name: 'status', type: 'text' })
  status: UsageStatus;

  @Column({ name: 'streamed', type: 'boolean' })
  streamed: boolean;

  /** vLLM's counts; an aborted stream's output is the tokens relayed; null when unknown. */
  @Column({ name: 'input_tokens', type: 'integer', nullable: true })
  inputTokens: number | null;

  @Column({ name: 'output_tokens', type: 'integer', nullable: true })
  outputTokens: number | null;

  /** Arrival to a stream's first relayed event; null for non-streamed answers and streams that sent none. */
  @Column({ name: 'ttft_ms', type: 'real', nullable: true })
  ttftMs: number | null;

  @Column({ name: 'duration_ms', type: 'real' })
  durationMs: number;
}
