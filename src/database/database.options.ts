import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { ApiKey } from '../auth/api-key.entity.js';
import { ChatMessage } from '../conversations/chat-message.entity.js';
import { Conversation } from '../conversations/conversation.entity.js';
import { LlmConfig } from '../llm-configs/llm-config.entity.js';
import { MIGRATIONS } from './migrations.js';

/** Every entity, listed explicitly (no globs: they break between src/ and dist/). */
export const ENTITIES = [Conversation, ChatMessage, LlmConfig, ApiKey];

/** Per gateway process; with several processes behind a balancer, keep their sum under max_connections. */
export const POOL_SIZE = 10;

/** Shared by the app's DatabaseModule and the TypeORM CLI's data source, so both see the same schema. */
export function postgresOptions(url: string): PostgresDataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
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
