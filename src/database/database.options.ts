import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { MIGRATIONS } from './migrations.js';

/** Per gateway process; with several processes behind a balancer, keep their sum under max_connections. */
export const POOL_SIZE = 10;

/**
 * Shared by the app's DatabaseModule and the TypeORM CLI's data source, so both see the same schema. The app leaves
 * `entities` empty: each feature module registers its own (`autoLoadEntities`), so this folder depends on none of
 * them; the CLI and the tests pass the whole list (src/entities.ts).
 */
export function postgresOptions(
  url: string,
  entities: PostgresDataSourceOptions['entities'] = [],
): PostgresDataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    // Ids default to gen_random_uuid(), built into PostgreSQL 13+: no extension to install (which needs superuser).
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    applicationName: 'llm-gateway',
    extra: { max: POOL_SIZE, connectionTimeoutMillis: 5_000 },
  };
}
