import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { MIGRATIONS } from './migrations.js';

/**
 * Per gateway process, which also holds one connection of its own for the change feed: with several processes behind
 * a balancer, keep (POOL_SIZE + 1) × processes under max_connections.
 */
export const POOL_SIZE = 10;

/** The app's session limits (AppConfig.database); the TypeORM CLI passes none, so a long migration is not cut off. */
export interface PoolTimeouts {
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/** Without AppConfig (the CLI, tests' own data sources): no session limits, and the connect timeout they always had. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Shared by the app's DatabaseModule and the TypeORM CLI's data source, so both see the same schema. The app leaves
 * `entities` empty: each feature module registers its own (`autoLoadEntities`), so this folder depends on none of
 * them; the CLI and the tests pass the whole list (src/entities.ts).
 */
export function postgresOptions(
  url: string,
  entities: PostgresDataSourceOptions['entities'] = [],
  timeouts?: PoolTimeouts,
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
    extra: {
      max: POOL_SIZE,
      // A stopped database must be a quick 503, not requests queued behind a connect that never completes.
      connectionTimeoutMillis: timeouts?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Sent as startup parameters: every session of the pool gets them, with no extra round trip.
      ...(timeouts === undefined
        ? {}
        : {
            statement_timeout: timeouts.statementTimeoutMs,
            idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
          }),
      // Detects a peer that vanished without closing the socket (a host or network failure).
      keepAlive: true,
    },
  };
}
