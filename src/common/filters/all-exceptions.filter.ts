import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { ErrorRequestHandler } from 'express';
import type { ServerResponse } from 'node:http';
import { toErrorResponse } from './error-response.js';

/**
 * Writes the error response. A 5xx hands the exception to the request's end log line (`res.err`), which is where
 * its stack is logged, once. When the headers are already out (a stream), a JSON body can no longer be sent: the
 * response is ended, and the relay is expected to have written its own error frame.
 */
export function sendError(exception: unknown, res: ServerResponse): void {
  const { status, body, retryAfterSeconds } = toErrorResponse(exception);
  if (status >= 500) {
    res.err = exception instanceof Error ? exception : new Error(`Non-error value thrown: ${String(exception)}`);
  }
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  // Written on node:http, not with Express' res.json: the chat fast lane (chat-fast-lane.ts) answers without Express.
  const json = JSON.stringify(body);
  if (retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(retryAfterSeconds));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** Every failure inside Nest's pipeline: unknown routes, validation, HttpExceptions, AppErrors, crashes. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    sendError(exception, host.switchToHttp().getResponse<ServerResponse>());
  }
}

/**
 * Failures raised by Express middleware that runs before Nest's pipeline (the body parser: malformed JSON, body over
 * BODY_LIMIT), which Nest's exception filters never see.
 */
export const expressErrorHandler: ErrorRequestHandler = (err, _req, res, _next) => {
  sendError(err, res);
};
