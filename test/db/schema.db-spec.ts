import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { openTestDataSource } from '../helpers/pg.js';

describe('schema (migrated by the global setup)', () => {
  let db: DataSource;

  beforeAll(async () => {
    db = await openTestDataSource();
  });

  afterAll(async () => {
    await db.destroy();
  });

  it('has the tables and the migration record', async () => {
    const tables = await db.query<{ table_name: string }[]>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['api_keys', 'chat_messages', 'conversations', 'llm_configs', 'migrations']),
    );
    const applied = await db.query<{ name: string }[]>(`SELECT name FROM migrations`);
    expect(applied.map((m) => m.name)).toContain('Initial1795597283909');
  });

  it('has the newest-first pagination index on conversations', async () => {
    const [index] = await db.query<{ indexdef: string }[]>(
      `SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_conversations_created_at_id'`,
    );
    expect(index?.indexdef).toContain('(created_at DESC, id)');
  });

  it("has the owner's newest-first index on conversations, and API keys unique by digest", async () => {
    const [owner] = await db.query<{ indexdef: string }[]>(
      `SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_conversations_owner_created_at_id'`,
    );
    expect(owner?.indexdef).toContain('(owner, created_at DESC, id)');
    const [digest] = await db.query<{ indexdef: string }[]>(
      `SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_api_keys_key_hash'`,
    );
    expect(digest?.indexdef).toContain('UNIQUE INDEX');
  });

  it('matches the entities: the schema builder finds nothing to change', async () => {
    const pending = await db.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });
});
