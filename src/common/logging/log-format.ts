import type { LoggerOptions } from 'pino';

/**
 * Level names as written in the `level` field. They follow syslog/Python wording (`WARNING`, `CRITICAL`) rather than
 * pino's labels so that `jq 'select(.level=="ERROR")'` and log shippers keyed on those names work unchanged.
 */
export const LEVEL_NAMES: Readonly<Record<string, string>> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/**
 * Keys whose values are replaced when they appear at the top level of a logged object or inside one of the usual
 * containers (`headers.authorization`, `body.password`, a logged `config.databaseUrl`). This is the safety net:
 * request headers and bodies are never logged in the first place.
 */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
  'set-cookie',
  'password',
  'passwordHash',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'api_key',
  'apiKey',
  'apiKeys',
  'jwt',
  'jwtSecret',
  'secret',
  'client_secret',
  'databaseUrl',
];

const SECRET_CONTAINERS = ['headers', 'req.headers', 'body', 'req.body', 'data', 'config', 'config.headers', 'query'];

/**
 * Explicit paths only, no wildcards: pino checks a path only when a line has its first key, so ordinary lines pay
 * nothing, whereas a wildcard path walks every logged object and calls its getters (Express' `req.fresh` throws).
 */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((key) => {
  const isIdentifier = /^[A-Za-z_$][\w$]*$/.test(key);
  const child = isIdentifier ? `.${key}` : `["${key}"]`;
  return [isIdentifier ? key : child, ...SECRET_CONTAINERS.map((container) => `${container}${child}`)];
});

const SECRET_PATTERNS: readonly (readonly [RegExp, string])[] = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[REDACTED_JWT]'],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, '[REDACTED_KEY]'],
  [/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1[REDACTED]@'],
];

/** Error messages are free text that may quote a header or a connection string, so they are scrubbed by pattern. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

export interface SerializedError {
  type: string;
  message: string;
  stack?: string;
  code?: string | number;
  cause?: SerializedError;
}

const MAX_CAUSE_DEPTH = 3;

/**
 * Replaces pino's standard `err` serializer, which copies every enumerable property: an AxiosError would bring its
 * request config (with the upstream Bearer key) and socket objects into the line. Only the fields worth reading are
 * kept, and the text is scrubbed.
 */
export function serializeError(value: unknown, depth = 0): SerializedError {
  if (!(value instanceof Error)) return { type: typeof value, message: scrubSecrets(String(value)) };
  const out: SerializedError = { type: value.name, message: scrubSecrets(value.message) };
  if (value.stack !== undefined) out.stack = scrubSecrets(value.stack);
  const code: unknown = (value as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(value.cause, depth + 1);
  return out;
}

function omit(): undefined {
  return undefined;
}

let stampedAt = Number.NaN;
let stamp = '';

/** pino's timestamp field; lines logged in the same millisecond (several per request under load) share one string. */
function timestamp(): string {
  const now = Date.now();
  if (now !== stampedAt) {
    stampedAt = now;
    stamp = `,"timestamp":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/** pino options shared by every line: flat JSON with `timestamp`, a named `level`, `msg`. */
export function loggerOptions(): LoggerOptions {
  return {
    level: 'info',
    messageKey: 'msg',
    base: { pid: process.pid },
    timestamp,
    formatters: { level: (label) => ({ level: LEVEL_NAMES[label] ?? label.toUpperCase() }) },
    // `req`/`res` are dropped: a logger a library binds the whole request to (pino-http does) would otherwise
    // serialise it, headers included, on every line.
    serializers: { err: serializeError, req: omit, res: omit },
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
  };
}
