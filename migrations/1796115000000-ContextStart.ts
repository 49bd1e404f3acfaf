import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `conversations.context_start_seq`: the first seq a conversation turn sends to the model. Truncation moves it
 * forward only when the context window overflows, so the turns in between share one prompt prefix (vLLM's prefix
 * cache) and every gateway process cuts at the same place. 0 means nothing was ever cut.
 */
export class ContextStart1796115000000 implements MigrationInterface {
  name = 'ContextStart1796115000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "conversations" ADD "context_start_seq" integer NOT NULL DEFAULT 0`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "conversations" DROP COLUMN "context_start_seq"`);
  }
}
