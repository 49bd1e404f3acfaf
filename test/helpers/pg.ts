import { DataSource } from 'typeorm';
import { postgresOptions } from '../../src/database/database.options.js';
import { ENTITIES } from '../../src/entities.js';

/** A connected data source with every entity, on the database the Jest global setup migrated. */
export async function openTestDataSource(): Promise<DataSource> {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') throw new Error('DATABASE_URL is unset: run through the Jest global setup');
  return new DataSource({ ...postgresOptions(url, ENTITIES), extra: { max: 4 } }).initialize();
}

/** The SQLSTATE and constraint of a failed query, for asserting which rule rejected it. */
export function pgError(err: unknown): { code?: string; constraint?: string } {
  const source = err instanceof Error && 'driverError' in err ? err.driverError : err;
  if (typeof source !== 'object' || source === null) return {};
  const { code, constraint } = source as { code?: unknown; constraint?: unknown };
  return {
    code: typeof code === 'string' ? code : undefined,
    constraint: typeof constraint === 'string' ? constraint : undefined,
  };
}
