/**
 * The gateway's error vocabulary. Services throw `AppError` with one of these codes; the global filter is the only
 * place that turns a code into an HTTP status and OpenAI's error body.
 */
export type AppErrorCode =
  | 'bad_request'
  | 'context_length_exceeded'
  | 'unauthorized'
  | 'invalid_token'
  | 'invalid_credentials'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'upstream_error'
  | 'bad_gateway'
  | 'service_unavailable'
  | 'gateway_timeout'
  | 'internal';

export interface AppErrorOptions {
  /** The request field at fault, as OpenAI's `param`. */
  param?: string | null;
  /** Only for `upstream_error`: vLLM's own status, kept as is. */
  status?: number;
  /** Only for `upstream_error`: vLLM's own error type, kept as is. */
  type?: string;
  /** For `rate_limited` and `service_unavailable`: sent as the `Retry-After` header. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly param: string | null;
  readonly upstreamStatus: number | undefined;
  readonly upstreamType: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: AppErrorCode,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.param = options.param ?? null;
    this.upstreamStatus = options.status;
    this.upstreamType = options.type;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

export interface MappedError {
  status: number;
  body: OpenAiErrorBody;
  /** Sent as the `Retry-After` header when set. */
  retryAfterSeconds?: number;
}

/** Exhaustive code → status/type mapping; adding a code without a case fails the type check. */
export function mapAppError(err: AppError): MappedError {
  const body = (status: number, type: string, code: string | number | null = err.code): MappedError => ({
    status,
    body: { error: { message: err.message, type, param: err.param, code } },
    ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
  });
  switch (err.code) {
    case 'bad_request':
      return body(400, 'invalid_request_error');
    case 'context_length_exceeded':
      // OpenAI's own code for this case: SDKs and agents branch on it to shorten the history and retry.
      return body(400, 'invalid_request_error');
    case 'unauthorized':
      return body(401, 'authentication_error', 'invalid_api_key');
    case 'invalid_token':
      // An admin bearer token, not an API key: a client branching on invalid_api_key must not mistake one for the other.
      return body(401, 'authentication_error');
    case 'invalid_credentials':
      return body(401, 'authentication_error');
    case 'forbidden':
      return body(403, 'permission_error');
    case 'not_found':
      return body(404, 'not_found_error');
    case 'conflict':
      return body(409, 'invalid_request_error');
    case 'payload_too_large':
      return body(413, 'invalid_request_error');
    case 'rate_limited':
      return body(429, 'rate_limit_error', 'rate_limit_exceeded');
    case 'upstream_error': {
      const status = err.upstreamStatus ?? 502;
      return body(status, err.upstreamType ?? (status >= 500 ? 'server_error' : 'invalid_request_error'), status);
    }
    case 'bad_gateway':
      return body(502, 'server_error');
    case 'service_unavailable':
      return body(503, 'server_error');
    case 'gateway_timeout':
      return body(504, 'server_error');
    case 'internal':
      return body(500, 'server_error');
  }
}
