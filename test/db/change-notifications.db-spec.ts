import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ApiKey } from '../../src/auth/api-key.entity.js';
import { LlmConfig } from '../../src/llm-configs/llm-config.entity.js';
import { createLlmConfig } from '../factories/conversations.js';
import { openTestDataSource } from '../helpers/pg.js';

/**
 * The triggers behind the change feed (migration ChangeNotifications): which writes announce themselves, on which
 * channel, with which payload. Other specs write to the same tables meanwhile, so only this spec's ids count.
 */
describe('change notifications (triggers)', () => {
  let db: DataSource;
  let listener: pg.Client;
  const heard: { channel: string; payload: string }[] = [];

  beforeAll(async () => {
    db = await openTestDataSource();
    listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await listener.connect();
    listener.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload ?? '' }));
    await listener.query('LISTEN llm_gateway_api_keys; LISTEN llm_gateway_llm_configs');
  });

  afterAll(async () => {
    await listener?.end();
    await db?.destroy();
  });

  /** The channels that announced `id` since the last call, once delivery had time to happen. */
  async function heardFor(id: string): Promise<string[]> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A round trip on the listening connection: notifications committed before it are delivered by its end.
    await listener.query('SELECT 1');
    const found = heard.filter((n) => n.payload === id).map((n) => n.channel);
    heard.splice(0, heard.length, ...heard.filter((n) => n.payload !== id));
    return found;
  }

  const newKey = (): Promise<ApiKey> =>
    db.getRepository(ApiKey).save({
      name: 'notify',
      keyHash: randomUUID(),
      prefix: 'sk-gw-abcdef',
      scopes: ['chat'],
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    });

  it('announces a key made, revoked and deleted, each with its id, on llm_gateway_api_keys', async () => {
    const key = await newKey();
    expect(await heardFor(key.id)).toEqual(['llm_gateway_api_keys']);
    await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    expect(await heardFor(key.id)).toEqual(['llm_gateway_api_keys']);
    await db.query('DELETE FROM api_keys WHERE id = $1', [key.id]);
    expect(await heardFor(key.id)).toEqual(['llm_gateway_api_keys']);
  });

  it('stays silent when only last_used_at changes (the per-minute flush of every process)', async () => {
    const key = await newKey();
    await heardFor(key.id);
    await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [key.id]);
    expect(await heardFor(key.id)).toEqual([]);
  });

  it('announces a config made, changed and deleted on llm_gateway_llm_configs', async () => {
    const config = await createLlmConfig(db);
    expect(await heardFor(config.id)).toEqual(['llm_gateway_llm_configs']);
    await db.getRepository(LlmConfig).update({ id: config.id }, { temperature: 0.3 });
    expect(await heardFor(config.id)).toEqual(['llm_gateway_llm_configs']);
    await db.getRepository(LlmConfig).delete({ id: config.id });
    expect(await heardFor(config.id)).toEqual(['llm_gateway_llm_configs']);
  });

  it('announces nothing for a write that is rolled back', async () => {
    const id = randomUUID();
    const runner = db.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.manager.getRepository(LlmConfig).insert({ id, name: `rolled-back-${id}` });
      expect(await runner.manager.getRepository(LlmConfig).existsBy({ id })).toBe(true);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await heardFor(id)).toEqual([]);
  });
});
