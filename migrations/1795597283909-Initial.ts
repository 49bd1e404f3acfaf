import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Conversations, their messages and the named LLM configs. Constraint and index names are spelled out and match the
 * entities, so `migration:generate` against a migrated database finds nothing to change.
 */
export class Initial1795597283909 implements MigrationInterface {
  name = 'Initial1795597283909';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "llm_configs" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" text NOT NULL,
        "model" text,
        "temperature" double precision,
        "top_p" double precision,
        "max_tokens" integer,
        "system_prompt" text,
        "extra_params" jsonb NOT NULL DEFAULT '{}',
        "is_default" boolean NOT NULL DEFAULT false,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_llm_configs" PRIMARY KEY ("id"),
        CONSTRAINT "uq_llm_configs_name" UNIQUE ("name")
      )`);
    // A partial unique index: any number of non-default rows, at most one default.
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_llm_configs_default" ON "llm_configs" ("is_default") WHERE "is_default"`,
    );

    await queryRunner.query(`
      CREATE TABLE "conversations" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "title" text,
        "llm_config_id" uuid,
        "owner" text,
        "metadata" jsonb NOT NULL DEFAULT '{}',
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_conversations" PRIMARY KEY ("id"),
        CONSTRAINT "fk_conversations_llm_config" FOREIGN KEY ("llm_config_id")
          REFERENCES "llm_configs" ("id") ON DELETE SET NULL
      )`);
    // Newest-first listing pages on (created_at, id) so rows with the same timestamp still get a stable order.
    await queryRunner.query(
      `CREATE INDEX "ix_conversations_created_at_id" ON "conversations" ("created_at" DESC, "id")`,
    );
    // Deleting a config nulls its conversations' reference; without this index that is a full scan under lock.
    await queryRunner.query(`CREATE INDEX "ix_conversations_llm_config_id" ON "conversations" ("llm_config_id")`);

    // content is never NULL: an empty or aborted-before-the-first-token reply is stored as ''.
    await queryRunner.query(`
      CREATE TABLE "chat_messages" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "conversation_id" uuid NOT NULL,
        "seq" integer NOT NULL,
        "role" text NOT NULL,
        "content" text NOT NULL DEFAULT '',
        "status" text NOT NULL,
        "finish_reason" text,
        "prompt_tokens" integer,
        "completion_tokens" integer,
        "model" text,
        "request_id" text,
        "ttft_ms" integer,
        "duration_ms" integer,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_chat_messages" PRIMARY KEY ("id"),
        CONSTRAINT "uq_chat_messages_conversation_seq" UNIQUE ("conversation_id", "seq"),
        CONSTRAINT "ck_chat_messages_status" CHECK ("status" IN ('complete', 'aborted', 'error')),
        CONSTRAINT "fk_chat_messages_conversation" FOREIGN KEY ("conversation_id")
          REFERENCES "conversations" ("id") ON DELETE CASCADE
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "chat_messages"`);
    await queryRunner.query(`DROP TABLE "conversations"`);
    await queryRunner.query(`DROP TABLE "llm_configs"`);
  }
}
