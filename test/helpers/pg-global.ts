import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { PgCluster } from '../../tools/pg/cluster.js';

/**
 * Loaded by the Jest global setup through tsx (it is plain .mjs), so it imports only the cluster and the migrations:
 * nothing here needs decorator metadata.
 */

export interface TestDatabase {
  url: string;
  teardown(): Promise<void>;
}

/**
 * Uses DATABASE_URL when it is set (CI starts its own server); otherwise starts a throwaway cluster on a free port
 * and exports its URL, which the test workers inherit. Either way the migrations run once, here.
 */
export async function setUpTestDatabase(): Promise<TestDatabase> {
  const given = process.env.DATABASE_URL;
  if (given !== undefined && given !== '') {
    await migrate(given);
    return { url: given, teardown: () => Promise.resolve() };
  }
  const cluster = await PgCluster.startThrowaway();
  try {
    await cluster.createDatabase('llm_gateway_test');
    const url = cluster.url('llm_gateway_test');
    await migrate(url);
    process.env.DATABASE_URL = url;
    return { url, teardown: () => cluster.destroy() };
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
}

/** Applies every pending migration to `url` (the global setup, and specs that start a cluster of their own). */
export async function migrate(url: string): Promise<void> {
  const dataSource = new DataSource({ type: 'postgres', url, migrations: MIGRATIONS, installExtensions: false });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'all' });
  } finally {
    await dataSource.destroy();
  }
}
