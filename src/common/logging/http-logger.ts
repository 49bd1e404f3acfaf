import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LevelWithSilent, Logger } from 'pino';
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

declare module 'http' {
  interface IncomingMessage {
    /** What only the matched route knows (route template, handler, model, ids), added to the request's end line. */
    routeLogFields?: RouteLogFields;
  }
}

/** Fields the route adds to its request's end line; strings only, each bounded (`addRouteLogFields`). */
export interface RouteLogFields {
  route?: string;
  handler?: string;
  model?: string;
  conversation_id?: string;
  llm_config_id?: string;
  api_key_id?: string;
}

/** Client-chosen strings (a model name) must not make one line arbitrarily long. */
const MAX_FIELD_LENGTH = 200;

/** Called by the route logging interceptor and by the chat fast lane, so both paths log the same fields. */
export function addRouteLogFields(req: IncomingMessage, fields: RouteLogFields): void {
  const target: RouteLogFields = (req.routeLogFields ??= {});
  // for…in, not Object.entries: twice per request, and no array of pairs each time.
  for (const key in fields) {
    const value = fields[key as keyof RouteLogFields];
    if (value !== undefined) {
      target[key as keyof RouteLogFields] = value.length > MAX_FIELD_LENGTH ? value.slice(0, MAX_FIELD_LENGTH) : value;
    }
  }
}

function endFields(req: Req, res: ServerResponse, durationMs: number): Record<string, unknown> {
  return {
    method: req.method,
    path: requestPath(req),
    ...req.routeLogFields,
    status_code: res.statusCode,
    duration_ms: durationMs,
  };
}

export type RequestLogger = (req: Req, res: ServerResponse, next: () => void) => void;

/** Told when each request ends, whatever its path and level (the request metrics); `seconds` is its duration. */
export type RequestEndObserver = (req: IncomingMessage, res: ServerResponse, seconds: number) => void;

/**
 * One line when a request starts and one when its response finishes (for a stream: when the last byte is written,
 * so `duration_ms` is the real one) or the client goes away. Lines are flat: no request or response object, so no
 * headers and no bodies. Every line logged while the request is handled carries `request_id`: the request's child
 * logger is `req.log`, which nestjs-pino's request context then serves to `PinoLogger` and Nest's `Logger`.
 *
 * The lines and fields are pino-http's with this app's options (quiet request and response loggers, custom levels
 * and messages); written here because pino-http builds a second child logger per request around the whole `req`,
 * whose redaction pass and bookkeeping were about 4 % of the gateway's CPU per request.
 */
export function createHttpLogger(logger: Logger, onEnd?: RequestEndObserver): RequestLogger {
  return (req, res, next) => {
    // pino-http's contract, which nestjs-pino relies on: an id already set (by an outer logger) is kept.
    req.id ||= assignRequestId(req, res);
    const log = logger.child({ request_id: req.id });
    req.log = log;
    const startedAt = Date.now();
    const startedAtPrecise = performance.now();

    const startLevel = requestLogLevel(req, res);
    if (startLevel !== 'silent') log[startLevel]({ method: req.method, path: requestPath(req) }, 'request started');

    // The first of these ends the request (a quiet path still logs a crash); then all three are removed.
    const onFinish = (): void => end();
    const onError = (err: Error): void => end(err);
    res.on('finish', onFinish);
    res.on('close', onFinish);
    res.on('error', onError);
    function end(err?: Error): void {
      res.off('finish', onFinish);
      res.off('close', onFinish);
      res.off('error', onError);
      onEnd?.(req, res, (performance.now() - startedAtPrecise) / 1000);
      const level = requestLogLevel(req, res, err);
      if (level === 'silent') return;
      const durationMs = Date.now() - startedAt;
      if (err !== undefined || res.err !== undefined || res.statusCode >= 500) {
        const fields = endFields(req, res, durationMs);
        if (res.err !== undefined) fields['err'] = res.err;
        log[level](fields, 'request failed');
        return;
      }
      const message = res.writableEnded && !req.readableAborted ? 'request completed' : 'request aborted';
      log[level](endFields(req, res, durationMs), message);
    }
    next();
  };
}
