import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Accepts what tracing systems and proxies send (UUIDs, hex trace ids, `abc-123.4:5`) and nothing that could smuggle
 * control characters or an unbounded string into every log line and the upstream request.
 */
const ACCEPTED_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Reuses a well-formed incoming `X-Request-Id` or makes a UUID, and echoes it on the response at once, so that every
 * response carries it, errors and body-parser rejections included. Called by the request logger, which stores the
 * result as `req.id`.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  const id = typeof incoming === 'string' && ACCEPTED_ID.test(incoming) ? incoming : randomUUID();
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}
