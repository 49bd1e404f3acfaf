import { HttpException, HttpStatus } from '@nestjs/common';
import { UNPARSABLE_JSON_MESSAGE } from '../http/json-body.js';
import { AppError, type AppErrorCode, type MappedError, mapAppError } from '../errors/app-error.js';
import { isDatabaseUnavailable, isPgError } from '../errors/pg-error.js';

/** What a client sees for any failure we did not anticipate; the details go to the log only. */
export const INTERNAL_ERROR_MESSAGE = 'Internal server error';

const CODE_BY_STATUS: Readonly<Partial<Record<number, AppErrorCode>>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

const STATUS_NAMES = HttpStatus as unknown as Readonly<Record<number, string | undefined>>;

function fromStatus(status: number, message: string): MappedError {
  if (status === 500 || status < 400 || status > 599) {
    return mapAppError(new AppError('internal', INTERNAL_ERROR_MESSAGE));
  }
  const code = CODE_BY_STATUS[status];
  if (code !== undefined) return mapAppError(new AppError(code, message));
  // Statuses outside the vocabulary (405, 415, 429, ...) keep their status; the code is the status name.
  const type = status >= 500 ? 'server_error' : 'invalid_request_error';
  return { status, body: { error: { message, type, param: null, code: STATUS_NAMES[status]?.toLowerCase() ?? null } } };
}

function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message: unknown = (response as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return exception.message;
}

/**
 * PostgreSQL's codes for text it cannot store: a NUL character in a text column (22021) or a `\u0000` escape in
 * jsonb (22P05). JSON allows both, so they are the client's input, not our failure.
 */
const UNSTORABLE_TEXT_CODES = ['22021', '22P05'];

/**
 * What a client is told to wait before retrying while the database is unreachable: PostgreSQL restarts or fails
 * over in seconds, and the pool reconnects on the next request, so a short wait is the useful one.
 */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** The shape of errors raised by body-parser (built with `http-errors`). */
interface BodyParserError extends Error {
  status: number;
  expose: boolean;
  type?: string;
  limit?: number;
}

function isBodyParserError(value: unknown): value is BodyParserError {
  return (
    value instanceof Error &&
    typeof (value as Partial<BodyParserError>).status === 'number' &&
    typeof (value as Partial<BodyParserError>).expose === 'boolean'
  );
}

/** Maps anything thrown while handling a request to a status and OpenAI's error body. */
export function toErrorResponse(exception: unknown): MappedError {
  if (exception instanceof AppError) return mapAppError(exception);
  if (exception instanceof HttpException) return fromStatus(exception.getStatus(), httpExceptionMessage(exception));
  if (isBodyParserError(exception)) {
    // body-parser's own messages quote the client's body back ("Unexpected token ... in JSON"): not repeated.
    if (exception.type === 'entity.parse.failed') {
      return mapAppError(new AppError('bad_request', UNPARSABLE_JSON_MESSAGE));
    }
    if (exception.type === 'entity.too.large') {
      const limit = exception.limit === undefined ? '' : ` of ${exception.limit} bytes`;
      return mapAppError(new AppError('payload_too_large', `The request body is larger than the limit${limit}.`));
    }
    if (exception.expose) return fromStatus(exception.status, exception.message);
  }
  if (isPgError(exception, UNSTORABLE_TEXT_CODES)) {
    return mapAppError(
      new AppError('bad_request', 'Text to be stored must not contain NUL (\\u0000) characters; nothing was stored.'),
    );
  }
  if (isDatabaseUnavailable(exception)) {
    return mapAppError(
      new AppError('service_unavailable', 'The database is temporarily unavailable; please retry.', {
        retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
      }),
    );
  }
  return fromStatus(500, INTERNAL_ERROR_MESSAGE);
}
