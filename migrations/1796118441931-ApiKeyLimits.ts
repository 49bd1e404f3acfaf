import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-key limits on `api_keys`: `rate_limit_rpm` (requests a minute) and `max_concurrent` (requests in flight),
 * each enforced in memory by every gateway process on its own. NULL, as on every key made before, means no limit.
 */
export class ApiKeyLimits1796118441931 implements MigrationInterface {
  name = 'ApiKeyLimits1796118441931';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "rate_limit_rpm" integer`);
    await queryRunner.query(`ALTER TABLE "api_keys" ADD "max_concurrent" integer`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "max_concurrent"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP COLUMN "rate_limit_rpm"`);
  }
}
