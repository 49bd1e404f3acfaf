import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What conversation turns need beyond the initial schema:
 * - `conversations.last_seq`: the highest `seq` handed out, so a turn reserves its seqs with one
 *   `UPDATE … RETURNING` (the row lock serialises concurrent turns) instead of `max(seq)` under an explicit lock.
 * - the parts of an OpenAI message that are not plain text (content parts, tool calls, tool result id, name,
 *   reasoning), so a stored message replays exactly as it was sent or received;
 * - `token_count`: the tokens a message takes in a prompt, as vLLM's `/tokenize` counted them, for truncation.
 */
export class ConversationTurns1795598299578 implements MigrationInterface {
  name = 'ConversationTurns1795598299578';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "conversations" ADD "last_seq" integer NOT NULL DEFAULT 0`);
    await queryRunner.query(`
      UPDATE "conversations" c SET "last_seq" = m."max_seq"
      FROM (SELECT "conversation_id", max("seq") AS "max_seq" FROM "chat_messages" GROUP BY "conversation_id") m
      WHERE m."conversation_id" = c."id"`);
    await queryRunner.query(`
      ALTER TABLE "chat_messages"
        ADD "content_parts" jsonb,
        ADD "tool_calls" jsonb,
        ADD "tool_call_id" text,
        ADD "name" text,
        ADD "reasoning" text,
        ADD "token_count" integer`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "chat_messages"
        DROP COLUMN "token_count",
        DROP COLUMN "reasoning",
        DROP COLUMN "name",
        DROP COLUMN "tool_call_id",
        DROP COLUMN "tool_calls",
        DROP COLUMN "content_parts"`);
    await queryRunner.query(`ALTER TABLE "conversations" DROP COLUMN "last_seq"`);
  }
}
