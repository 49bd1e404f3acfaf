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

/** Socket-level failures on the way to PostgreSQL: the server is down, restarting or unreachable. */
const UNAVAILABLE_SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say the server cannot serve now rather than that the query is wrong: 57P01 admin_shutdown, 57P02
 * crash_shutdown, 57P03 cannot_connect_now (starting up or in recovery), 53300 too_many_connections, and 57014
 * query_canceled, which is what our own statement_timeout raises. Class 08 (connection exceptions) is matched whole.
 */
const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300', '57014']);

/**
 * node-postgres and pg-pool raise these without a code: the pool's connectionTimeoutMillis expired, or the socket
 * closed under a client.
 */
const UNAVAILABLE_MESSAGES: readonly RegExp[] = [
  /^timeout exceeded when trying to connect$/i,
  /^Connection terminated/i,
  /^Client has encountered a connection error and is not queryable$/i,
  /^Client was closed and is not queryable$/i,
];

/**
 * Whether `err` means the database is unreachable or refusing work for now (a 503 the client may retry), as opposed
 * to a query that failed on its own terms. Reads TypeORM's `driverError` and `cause` chains, since the pool's connect
 * errors arrive bare while query errors arrive wrapped.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let current = err, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (UNAVAILABLE_SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) {
        return true;
      }
    }
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(message))) return true;
    // AggregateError: a host name that resolves to several addresses fails on each of them.
    if (current instanceof AggregateError && current.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
    current = current instanceof QueryFailedError ? current.driverError : (current as { cause?: unknown }).cause;
  }
  return false;
}
