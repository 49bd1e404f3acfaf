import { QueryFailedError } from 'typeorm';

/** PostgreSQL SQLSTATE codes the app turns into client errors. */
export const PG_FOREIGN_KEY_VIOLATION = '23503';
export const PG_UNIQUE_VIOLATION = '23505';

/**
 * Whether a TypeORM query failed with one of PostgreSQL's `codes` and, when given, on `constraint`: the one place
 * that reads the driver error's fields.
 */
export function isPgError(err: unknown, codes: string | readonly string[], constraint?: string): boolean {
  if (!(err instanceof QueryFailedError)) return false;
  const { code, constraint: failed } = err.driverError as { code?: unknown; constraint?: unknown };
  if (typeof code !== 'string' || !(typeof codes === 'string' ? code === codes : codes.includes(code))) return false;
  return constraint === undefined || failed === constraint;
}
