import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cross-process signals (src/database/change-feed.ts): a write to `api_keys` or `llm_configs` sends a NOTIFY with the
 * row's id on `llm_gateway_<table>`. A trigger sends it in the writer's own transaction, so it is delivered exactly
 * when the change commits (never for a rolled-back one) and whoever wrote it: a gateway process, a migration or an
 * operator's SQL. The `last_used_at` flush, a batched UPDATE every minute from every process, changes nothing that
 * another process caches, so it sends none.
 */
export class ChangeNotifications1796118500000 implements MigrationInterface {
  name = 'ChangeNotifications1796118500000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION "llm_gateway_notify_change"() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('llm_gateway_' || TG_TABLE_NAME, (CASE TG_OP WHEN 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
        RETURN NULL;
      END
      $$`);
    await queryRunner.query(`
      CREATE TRIGGER "trg_api_keys_notify_write" AFTER INSERT OR DELETE ON "api_keys"
      FOR EACH ROW EXECUTE FUNCTION "llm_gateway_notify_change"()`);
    await queryRunner.query(`
      CREATE TRIGGER "trg_api_keys_notify_update" AFTER UPDATE ON "api_keys"
      FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
      EXECUTE FUNCTION "llm_gateway_notify_change"()`);
    await queryRunner.query(`
      CREATE TRIGGER "trg_llm_configs_notify" AFTER INSERT OR UPDATE OR DELETE ON "llm_configs"
      FOR EACH ROW EXECUTE FUNCTION "llm_gateway_notify_change"()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "trg_llm_configs_notify" ON "llm_configs"`);
    await queryRunner.query(`DROP TRIGGER "trg_api_keys_notify_update" ON "api_keys"`);
    await queryRunner.query(`DROP TRIGGER "trg_api_keys_notify_write" ON "api_keys"`);
    await queryRunner.query(`DROP FUNCTION "llm_gateway_notify_change"()`);
  }
}
