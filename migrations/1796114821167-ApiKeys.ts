import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Client API keys made through the admin API (stored as SHA-256 digests, never the key), and the index that serves a
 * key's own conversation list: `owner` was in the initial schema but nothing filtered on it until keys had owners.
 */
export class ApiKeys1796114821167 implements MigrationInterface {
  name = 'ApiKeys1796114821167';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "api_keys" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" text NOT NULL,
        "key_hash" text NOT NULL,
        "prefix" text NOT NULL,
        "scopes" text array NOT NULL,
        "expires_at" timestamptz,
        "revoked_at" timestamptz,
        "last_used_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_api_keys" PRIMARY KEY ("id"),
        CONSTRAINT "uq_api_keys_key_hash" UNIQUE ("key_hash")
      )`);
    // Same order as ix_conversations_created_at_id, behind the owner: a key's newest-first page is one index range.
    await queryRunner.query(
      `CREATE INDEX "ix_conversations_owner_created_at_id" ON "conversations" ("owner", "created_at" DESC, "id")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_conversations_owner_created_at_id"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
  }
}
