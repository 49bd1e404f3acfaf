import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  type Relation,
  UpdateDateColumn,
} from 'typeorm';
import { LlmConfig } from '../llm-configs/llm-config.entity.js';

/**
 * A conversation; its messages are `ChatMessage` rows. There is deliberately no `messages` relation here: history is
 * read with one bounded query on (conversation_id, seq), never by loading a whole conversation.
 */
@Entity({ name: 'conversations' })
// The migration creates it as (created_at DESC, id); TypeORM's decorator cannot express the direction.
@Index('ix_conversations_created_at_id', ['createdAt', 'id'])
@Index('ix_conversations_llm_config_id', ['llmConfigId'])
// (owner, created_at DESC, id) in the migration: a key's own newest-first page.
@Index('ix_conversations_owner_created_at_id', ['owner', 'createdAt', 'id'])
export class Conversation {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_conversations' })
  id: string;

  @Column({ name: 'title', type: 'text', nullable: true })
  title: string | null;

  @Column({ name: 'llm_config_id', type: 'uuid', nullable: true })
  llmConfigId: string | null;

  @ManyToOne(() => LlmConfig, { onDelete: 'SET NULL', nullable: true })
  @JoinColumn({ name: 'llm_config_id', foreignKeyConstraintName: 'fk_conversations_llm_config' })
  llmConfig?: Relation<LlmConfig> | null;

  /** Who created it: the API key's id or hash prefix, never a raw key. */
  @Column({ name: 'owner', type: 'text', nullable: true })
  owner: string | null;

  @Column({ name: 'metadata', type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  /** The highest message `seq` handed out; a turn reserves its seqs by raising it (the row lock orders turns). */
  @Column({ name: 'last_seq', type: 'integer', default: 0 })
  lastSeq: number;

  /** The first seq a turn sends to the model; truncation moves it forward only when the window overflows. */
  @Column({ name: 'context_start_seq', type: 'integer', default: 0 })
  contextStartSeq: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
