import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

/** A named set of generation settings a conversation or request can refer to. */
@Entity({ name: 'llm_configs' })
@Unique('uq_llm_configs_name', ['name'])
@Index('uq_llm_configs_default', ['isDefault'], { unique: true, where: '"is_default"' })
export class LlmConfig {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_llm_configs' })
  id: string;

  @Column({ name: 'name', type: 'text' })
  name: string;

  @Column({ name: 'model', type: 'text', nullable: true })
  model: string | null;

  @Column({ name: 'temperature', type: 'double precision', nullable: true })
  temperature: number | null;

  @Column({ name: 'top_p', type: 'double precision', nullable: true })
  topP: number | null;

  @Column({ name: 'max_tokens', type: 'integer', nullable: true })
  maxTokens: number | null;

  @Column({ name: 'system_prompt', type: 'text', nullable: true })
  systemPrompt: string | null;

  /** Sent to vLLM as request fields exactly as stored (e.g. `top_k`, `repetition_penalty`). */
  @Column({ name: 'extra_params', type: 'jsonb', default: () => "'{}'" })
  extraParams: Record<string, unknown>;

  /** At most one row is the default (a partial unique index enforces it). */
  @Column({ name: 'is_default', type: 'boolean', default: false })
  isDefault: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
