import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LevelWithSilent, Logger } from 'pino';
import { pinoHttp, type HttpLogger } from 'pino-http';
import { assignRequestId } from './request-id.js';

/** Probed every few seconds: logging them would drown the real traffic. */
const QUIET_PATHS = ['/health', '/metrics'];

type Req = IncomingMessage & { originalUrl?: string };

/** The path without the query string, which may carry tokens and is not ours to log. */
export function requestPath(req: Req): string {
  const url = req.originalUrl ?? req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function isQuiet(req: Req): boolean {
  const path = requestPath(req);
  return QUIET_PATHS.some((quiet) => path === quiet || path.startsWith(`${quiet}/`));
}

/**
 * ERROR means an exception with a stack (the exception filter puts it on `res.err`); a 5xx written without one is a
 * WARNING. Quiet paths log nothing unless they crash.
 */
export function requestLogLevel(req: Req, res: ServerResponse, error?: Error): LevelWithSilent {
  const failed = error !== undefined || res.err !== undefined;
  if (isQuiet(req)) return failed && res.statusCode === 500 ? 'error' : 'silent';
  if (failed) return 'error';
  return res.statusCode >= 500 ? 'warn' : 'info';
}

function endFields(req: Req, res: ServerResponse, durationMs: number): Record<string, unknown> {
  return { method: req.method, path: requestPath(req), status_code: res.statusCode, duration_ms: durationMs };
}

/**
 * One line when a request starts and one when its response finishes (for a stream: when the last byte is written,
 * so `duration_ms` is the real one) or the client goes away. Lines are flat: no request or response object, so no
 * headers and no bodies. Every line logged while the request is handled carries `request_id` (pino-http binds it on
 * `req.log`, which nestjs-pino's request context then serves to `PinoLogger` and Nest's `Logger`).
 */
export function createHttpLogger(logger: Logger): HttpLogger<Req, ServerResponse> {
  return pinoHttp<Req, ServerResponse>({
    logger,
    wrapSerializers: false,
    genReqId: assignRequestId,
    quietReqLogger: true,
    quietResLogger: true,
    customAttributeKeys: { reqId: 'request_id' },
    customLogLevel: requestLogLevel,
    customReceivedMessage: () => 'request started',
    customReceivedObject: (req) => ({ method: req.method, path: requestPath(req) }),
    customSuccessMessage: (req, res) =>
      res.writableEnded && !req.readableAborted ? 'request completed' : 'request aborted',
    customSuccessObject: (req, res, value: { responseTime: number }) => endFields(req, res, value.responseTime),
    customErrorMessage: () => 'request failed',
    customErrorObject: (req, res, _error, value: { responseTime: number }) => ({
      ...endFields(req, res, value.responseTime),
      ...(res.err !== undefined && { err: res.err }),
    }),
  });
}
