import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, Unique } from 'typeorm';
import type { ApiKeyScope } from '../common/principal.js';

/**
 * A client API key made through the admin API. The key itself is never stored: only its SHA-256 (what a request's
 * key is looked up by) and a short prefix an operator can recognise it by. A revoked key keeps its row, so the
 * conversations filed under its id keep a known owner.
 */
@Entity({ name: 'api_keys' })
@Unique('uq_api_keys_key_hash', ['keyHash'])
export class ApiKey {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_api_keys' })
  id: string;

  @Column({ name: 'name', type: 'text' })
  name: string;

  /** Hex SHA-256 of the whole key. */
  @Column({ name: 'key_hash', type: 'text' })
  keyHash: string;

  /** The key's first characters (`sk-gw-` and a few more): enough to tell keys apart, far too few to guess one. */
  @Column({ name: 'prefix', type: 'text' })
  prefix: string;

  @Column({ name: 'scopes', type: 'text', array: true })
  scopes: ApiKeyScope[];

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  /** Requests a minute this key may make (per gateway process); null: no limit. */
  @Column({ name: 'rate_limit_rpm', type: 'integer', nullable: true })
  rateLimitRpm: number | null;

  /** Requests this key may have in flight at once (per gateway process); null: no limit. */
  @Column({ name: 'max_concurrent', type: 'integer', nullable: true })
  maxConcurrent: number | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  /** Written lazily, at most about once a minute per key; never on the request path. */
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
