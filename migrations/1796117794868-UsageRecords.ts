import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One row per completion for usage accounting, written in batches after the response. Queried by time range only
 * (admin stats, retention delete), hence the one index on created_at.
 */
export class UsageRecords1796117794868 implements MigrationInterface {
  name = 'UsageRecords1796117794868';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "usage_records" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "created_at" timestamptz NOT NULL,
        "route" text NOT NULL,
        "model" text,
        "llm_config_id" uuid,
        "api_key_id" uuid,
        "owner" text,
        "conversation_id" uuid,
        "status" text NOT NULL,
        "streamed" boolean NOT NULL,
        "input_tokens" integer,
        "output_tokens" integer,
        "ttft_ms" real,
        "duration_ms" real NOT NULL,
        CONSTRAINT "pk_usage_records" PRIMARY KEY ("id"),
        CONSTRAINT "ck_usage_records_status" CHECK ("status" IN ('complete', 'aborted', 'error'))
      )`);
    await queryRunner.query(`CREATE INDEX "ix_usage_records_created_at" ON "usage_records" ("created_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "usage_records"`);
  }
}
