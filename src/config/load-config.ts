import type { Level } from 'pino';
import { type AppConfig, LOG_STDOUT_VALUES, type LogStdout } from './app-config.js';

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: readonly (Level | 'silent')[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const BODY_LIMIT_RE = /^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i;
const DURATION_RE = /^\d+\s*(ms|s|m|h|d|w|y)?$/i;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads every variable, collects every problem, and throws one `ConfigError` naming them all. */
export function loadConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };

  const list = (name: string): string[] =>
    (read(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');

  const port = int('PORT', 8080, 0, 65535);
  const workers = int('GATEWAY_WORKERS', 1, 1, 64);
  const shutdownGraceMs = int('SHUTDOWN_GRACE_MS', 25_000, 0, 3_600_000);
  const host = read('HOST') ?? '0.0.0.0';

  const baseUrls = list('VLLM_BASE_URL').map((u) => u.replace(/\/+$/, ''));
  if (baseUrls.length === 0) problems.push('VLLM_BASE_URL is required (one URL or a comma-separated list)');
  for (const url of baseUrls) {
    if (!isHttpUrl(url)) problems.push(`VLLM_BASE_URL contains an invalid http(s) URL: "${url}"`);
    // Upstream URLs are shown by the public /health and written to logs, so they must not hold a secret.
    else if (hasCredentials(url)) problems.push('VLLM_BASE_URL must not contain credentials; set VLLM_API_KEY instead');
  }
  if (new Set(baseUrls).size !== baseUrls.length) problems.push('VLLM_BASE_URL lists the same URL twice');

  const databaseUrl = read('DATABASE_URL');
  if (databaseUrl === undefined) problems.push('DATABASE_URL is required');
  else if (!/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// URL');

  // Secure by default: a gateway listening on 0.0.0.0 must not be an open relay unless someone says so.
  const enabled = bool('ENABLE_AUTH', true);
  const apiKeys = list('API_KEY');
  // Unset: unlimited, as keys made through the admin API without limits.
  const optionalInt = (name: string, min: number, max: number): number | null =>
    read(name) === undefined ? null : int(name, min, min, max);
  const staticKeyLimits = {
    rateLimitRpm: optionalInt('API_KEY_RATE_LIMIT_RPM', 1, 1_000_000),
    maxConcurrent: optionalInt('API_KEY_MAX_CONCURRENT', 1, 100_000),
  };

  let defaultTemperature: number | undefined;
  const rawTemperature = read('DEFAULT_TEMPERATURE');
  if (rawTemperature !== undefined) {
    defaultTemperature = Number(rawTemperature);
    if (!Number.isFinite(defaultTemperature) || defaultTemperature < 0 || defaultTemperature > 2) {
      problems.push(`DEFAULT_TEMPERATURE must be a number between 0 and 2 (got "${rawTemperature}")`);
      defaultTemperature = undefined;
    }
  }

  const level = (read('LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${level}")`);
  }

  const logStdout = (read('LOG_STDOUT') ?? 'auto').toLowerCase();
  if (!(LOG_STDOUT_VALUES as readonly string[]).includes(logStdout)) {
    problems.push(`LOG_STDOUT must be one of ${LOG_STDOUT_VALUES.join(', ')} (got "${logStdout}")`);
  }

  const password = read('ADMIN_PASSWORD');
  const passwordHash = read('ADMIN_PASSWORD_HASH');
  const adminEnabled = password !== undefined || passwordHash !== undefined;
  const jwtSecret = read('JWT_SECRET');
  if (adminEnabled && (jwtSecret === undefined || jwtSecret.length < 32)) {
    problems.push('JWT_SECRET is required and must be at least 32 characters when admin login is enabled');
  }
  // With auth on, a client needs a key from somewhere: a static one, or one an admin makes.
  if (enabled && apiKeys.length === 0 && !adminEnabled) {
    problems.push(
      'ENABLE_AUTH is true (the default) but no client can get a key: set API_KEY (static keys), or enable admin ' +
        'login (ADMIN_PASSWORD or ADMIN_PASSWORD_HASH, with JWT_SECRET) to create keys, or set ENABLE_AUTH=false',
    );
  }
  const jwtExpiresIn = read('JWT_EXPIRES_IN') ?? '1h';
  if (!DURATION_RE.test(jwtExpiresIn) || durationSeconds(jwtExpiresIn) < 1) {
    problems.push(`JWT_EXPIRES_IN must be a duration of at least 1 s, such as 3600, 15m or 1h`);
  }
  // Checked here, not at the first login: a hash argon2 cannot read would make every login fail.
  if (passwordHash !== undefined && !/^\$argon2(id|i|d)\$/.test(passwordHash)) {
    problems.push('ADMIN_PASSWORD_HASH must be an argon2 hash (it starts with $argon2id$)');
  }

  const bodyLimit = read('BODY_LIMIT') ?? '10mb';
  if (!BODY_LIMIT_RE.test(bodyLimit))
    problems.push(`BODY_LIMIT must be a size such as 512kb or 10mb (got "${bodyLimit}")`);

  const vllm = {
    baseUrls,
    apiKey: read('VLLM_API_KEY'),
    connectTimeoutMs: int('VLLM_CONNECT_TIMEOUT_MS', 5_000, 1, 600_000),
    firstByteTimeoutMs: int('VLLM_FIRST_BYTE_TIMEOUT_MS', 600_000, 1, 3_600_000),
    idleTimeoutMs: int('VLLM_IDLE_TIMEOUT_MS', 60_000, 1, 3_600_000),
  };
  const database = {
    connectTimeoutMs: int('DATABASE_CONNECT_TIMEOUT_MS', 2_000, 100, 600_000),
    statementTimeoutMs: int('DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    idleInTransactionTimeoutMs: int('DATABASE_IDLE_IN_TX_TIMEOUT_MS', 60_000, 100, 3_600_000),
  };
  const migrationsRun = bool('MIGRATIONS_RUN', false);
  const maxMessages = int('MAX_MESSAGES', 2_048, 1, 1_000_000);
  const usage = {
    retentionDays: int('USAGE_RETENTION_DAYS', 90, 1, 36_500),
    queueSize: int('USAGE_QUEUE_SIZE', 10_000, 1, 1_000_000),
  };

  const size = (name: string, fallback: string): number => {
    const raw = read(name) ?? fallback;
    if (!BODY_LIMIT_RE.test(raw) || sizeInBytes(raw) < 1) {
      problems.push(`${name} must be a size such as 64kb or 1mb (got "${raw}")`);
      return sizeInBytes(fallback);
    }
    return sizeInBytes(raw);
  };
  const limits = {
    jsonMaxDepth: int('JSON_MAX_DEPTH', 64, 1, 10_000),
    headersTimeoutMs: int('HEADERS_TIMEOUT_MS', 20_000, 1_000, 3_600_000),
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
    maxConnections: int('MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    maxSseEventBytes: size('VLLM_MAX_EVENT_SIZE', '1mb'),
    upstreamErrorBodyBytes: size('VLLM_ERROR_BODY_LIMIT', '64kb'),
    upstreamErrorMessageChars: int('VLLM_ERROR_MESSAGE_LIMIT', 2_048, 64, 1_000_000),
    maxStoredMessageBytes: size('MAX_STORED_MESSAGE_SIZE', '1mb'),
  };
  // node refuses a headers timeout longer than the whole-request one.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    problems.push('HEADERS_TIMEOUT_MS must not be longer than REQUEST_TIMEOUT_MS');
  }
  const corsOrigins = list('CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (origin !== '*' && !isHttpOrigin(origin)) {
      problems.push(`CORS_ORIGINS must list origins such as https://app.example.com, or * (got "${origin}")`);
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    port,
    host,
    vllm: Object.freeze(vllm),
    databaseUrl: databaseUrl as string,
    database: Object.freeze(database),
    migrationsRun,
    auth: Object.freeze({ enabled, apiKeys, staticKeyLimits: Object.freeze(staticKeyLimits) }),
    defaultTemperature,
    log: Object.freeze({
      dir: read('LOG_DIR') ?? './logs',
      level: level as Level | 'silent',
      stdout: logStdout as LogStdout,
    }),
    admin: Object.freeze({
      enabled: adminEnabled,
      username: read('ADMIN_USERNAME') ?? 'admin',
      password,
      passwordHash,
      jwtSecret,
      jwtExpiresIn,
    }),
    bodyLimit,
    bodyLimitBytes: sizeInBytes(bodyLimit),
    maxMessages,
    workers,
    shutdownGraceMs,
    metricsToken: read('METRICS_TOKEN'),
    usage: Object.freeze(usage),
    limits: Object.freeze(limits),
    corsOrigins: Object.freeze(corsOrigins),
  });
}

const DURATION_UNIT_SECONDS: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3_600,
  d: 86_400,
  w: 604_800,
  y: 31_557_600,
};

/**
 * JWT_EXPIRES_IN in whole seconds: a bare number is seconds, as the variable documents (jsonwebtoken would read a
 * numeric string as milliseconds). 0 for a value DURATION_RE does not accept.
 */
export function durationSeconds(duration: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(duration.trim());
  if (match === null) return 0;
  return Math.floor(Number(match[1]) * (DURATION_UNIT_SECONDS[(match[2] ?? '').toLowerCase() || 's'] ?? 0));
}

const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** BODY_LIMIT in bytes, computed as body-parser's `bytes` does, so both request paths draw the line at the same byte. */
function sizeInBytes(size: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(size);
  if (match === null) return 0;
  return Math.floor(Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase() || 'b'] ?? 1));
}

function hasCredentials(value: string): boolean {
  const url = new URL(value);
  return url.username !== '' || url.password !== '';
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** An origin as browsers send it: scheme, host and optional port, nothing after. */
function isHttpOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
