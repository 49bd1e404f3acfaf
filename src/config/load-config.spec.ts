import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './load-config.js';

const REQUIRED = { VLLM_BASE_URL: 'http://vllm:8000', DATABASE_URL: 'postgres://gateway@db:5432/gateway' };
/** Authentication is on by default, so a start needs a way to get a key; most cases give a static one. */
const STARTABLE = { ...REQUIRED, API_KEY: 'client-key' };

/** The problems `loadConfig` reports for `env`, or fails the test if it accepts it. */
function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults when only the required variables and a key are set', () => {
    const config = loadConfig(STARTABLE);

    expect(config).toEqual({
      port: 8080,
      host: '0.0.0.0',
      vllm: {
        baseUrls: ['http://vllm:8000'],
        apiKey: undefined,
        connectTimeoutMs: 5_000,
        firstByteTimeoutMs: 600_000,
        idleTimeoutMs: 60_000,
      },
      databaseUrl: 'postgres://gateway@db:5432/gateway',
      database: { connectTimeoutMs: 2_000, statementTimeoutMs: 30_000, idleInTransactionTimeoutMs: 60_000 },
      migrationsRun: false,
      auth: { enabled: true, apiKeys: ['client-key'], staticKeyLimits: { rateLimitRpm: null, maxConcurrent: null } },
      defaultTemperature: undefined,
      log: { dir: './logs', level: 'info', stdout: 'auto' },
      admin: {
        enabled: false,
        username: 'admin',
        password: undefined,
        passwordHash: undefined,
        jwtSecret: undefined,
        jwtExpiresIn: '1h',
      },
      bodyLimit: '10mb',
      bodyLimitBytes: 10 * 1024 * 1024,
      maxMessages: 2048,
      workers: 1,
      shutdownGraceMs: 25_000,
      metricsToken: undefined,
      usage: { retentionDays: 90, queueSize: 10_000 },
      limits: {
        jsonMaxDepth: 64,
        headersTimeoutMs: 20_000,
        requestTimeoutMs: 60_000,
        maxConnections: 10_000,
        maxSseEventBytes: 1024 * 1024,
        upstreamErrorBodyBytes: 64 * 1024,
        upstreamErrorMessageChars: 2048,
        maxStoredMessageBytes: 1024 * 1024,
      },
      corsOrigins: [],
    });
  });

  it('reads the metrics token and the usage settings, and rejects bad usage numbers by name', () => {
    const config = loadConfig({
      ...STARTABLE,
      METRICS_TOKEN: 'scrape',
      USAGE_RETENTION_DAYS: '7',
      USAGE_QUEUE_SIZE: '5',
    });
    expect(config.metricsToken).toBe('scrape');
    expect(config.usage).toEqual({ retentionDays: 7, queueSize: 5 });
    expect(problemsOf({ ...STARTABLE, USAGE_RETENTION_DAYS: '0', USAGE_QUEUE_SIZE: 'x' }).join('\n')).toMatch(
      /USAGE_RETENTION_DAYS[\s\S]*USAGE_QUEUE_SIZE/,
    );
  });

  it('refuses to start with authentication on (the default) and no way to get a key, saying how to fix it', () => {
    expect(problemsOf(REQUIRED)).toEqual([
      'ENABLE_AUTH is true (the default) but no client can get a key: set API_KEY (static keys), or enable admin ' +
        'login (ADMIN_PASSWORD or ADMIN_PASSWORD_HASH, with JWT_SECRET) to create keys, or set ENABLE_AUTH=false',
    ]);
    expect(loadConfig({ ...REQUIRED, ENABLE_AUTH: 'false' }).auth).toMatchObject({ enabled: false, apiKeys: [] });
    const adminOnly = loadConfig({ ...REQUIRED, ADMIN_PASSWORD: 'pw', JWT_SECRET: 's'.repeat(32) });
    expect(adminOnly.auth).toMatchObject({ enabled: true, apiKeys: [] });
  });

  it('returns a frozen object', () => {
    const config = loadConfig(STARTABLE);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.vllm)).toBe(true);
    expect(Object.isFrozen(config.log)).toBe(true);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...REQUIRED,
      PORT: '9000',
      HOST: '127.0.0.1',
      VLLM_API_KEY: 'upstream-key',
      VLLM_CONNECT_TIMEOUT_MS: '100',
      VLLM_FIRST_BYTE_TIMEOUT_MS: '200',
      VLLM_IDLE_TIMEOUT_MS: '300',
      MIGRATIONS_RUN: 'yes',
      ENABLE_AUTH: 'on',
      API_KEY: 'k1',
      API_KEY_RATE_LIMIT_RPM: '60',
      API_KEY_MAX_CONCURRENT: '4',
      DEFAULT_TEMPERATURE: '0.7',
      LOG_DIR: '/var/log/gateway',
      LOG_LEVEL: 'DEBUG',
      LOG_STDOUT: 'JSON',
      ADMIN_USERNAME: 'root',
      ADMIN_PASSWORD_HASH: '$argon2id$hash',
      JWT_SECRET: 'x'.repeat(32),
      JWT_EXPIRES_IN: '15m',
      BODY_LIMIT: '512kb',
      GATEWAY_WORKERS: '4',
    });

    expect(config).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      vllm: { apiKey: 'upstream-key', connectTimeoutMs: 100, firstByteTimeoutMs: 200, idleTimeoutMs: 300 },
      migrationsRun: true,
      auth: { enabled: true, apiKeys: ['k1'], staticKeyLimits: { rateLimitRpm: 60, maxConcurrent: 4 } },
      defaultTemperature: 0.7,
      log: { dir: '/var/log/gateway', level: 'debug', stdout: 'json' },
      admin: { enabled: true, username: 'root', passwordHash: '$argon2id$hash', jwtExpiresIn: '15m' },
      bodyLimit: '512kb',
      bodyLimitBytes: 512 * 1024,
      workers: 4,
    });
  });

  it('splits lists on commas, trims entries and trailing slashes, and drops empty entries', () => {
    const config = loadConfig({
      ...REQUIRED,
      VLLM_BASE_URL: ' http://a:8000/ , https://b.example/v//,,',
      ENABLE_AUTH: 'true',
      API_KEY: 'k1, k2 ,,k3',
    });

    expect(config.vllm.baseUrls).toEqual(['http://a:8000', 'https://b.example/v']);
    expect(config.auth.apiKeys).toEqual(['k1', 'k2', 'k3']);
  });

  it('treats blank values as unset', () => {
    const config = loadConfig({ ...STARTABLE, PORT: '  ', LOG_LEVEL: '', HOST: ' ' });
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', log: { level: 'info' } });
  });

  it('enables admin login with a password and a long enough JWT secret', () => {
    const config = loadConfig({ ...STARTABLE, ADMIN_PASSWORD: 'pw', JWT_SECRET: 's'.repeat(32) });
    expect(config.admin).toMatchObject({ enabled: true, password: 'pw', jwtSecret: 's'.repeat(32) });
  });

  it.each([
    ['PORT', { PORT: 'abc' }, 'PORT must be an integer between 0 and 65535 (got "abc")'],
    ['PORT', { PORT: '70000' }, 'PORT must be an integer between 0 and 65535 (got "70000")'],
    ['PORT', { PORT: '80.5' }, 'PORT must be an integer'],
    ['GATEWAY_WORKERS', { GATEWAY_WORKERS: '0' }, 'GATEWAY_WORKERS must be an integer between 1 and 64 (got "0")'],
    ['GATEWAY_WORKERS', { GATEWAY_WORKERS: 'auto' }, 'GATEWAY_WORKERS must be an integer between 1 and 64'],
    ['VLLM_BASE_URL', { VLLM_BASE_URL: undefined }, 'VLLM_BASE_URL is required'],
    ['VLLM_BASE_URL', { VLLM_BASE_URL: 'not-a-url' }, 'VLLM_BASE_URL contains an invalid http(s) URL: "not-a-url"'],
    ['VLLM_BASE_URL', { VLLM_BASE_URL: 'ftp://vllm' }, 'VLLM_BASE_URL contains an invalid http(s) URL'],
    ['VLLM_BASE_URL', { VLLM_BASE_URL: 'http://a, http://a/' }, 'VLLM_BASE_URL lists the same URL twice'],
    ['VLLM_BASE_URL', { VLLM_BASE_URL: 'http://gw:s3cret@vllm:8000' }, 'VLLM_BASE_URL must not contain credentials'],
    ['DATABASE_URL', { DATABASE_URL: undefined }, 'DATABASE_URL is required'],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL must be a postgres:// URL'],
    ['DATABASE_CONNECT_TIMEOUT_MS', { DATABASE_CONNECT_TIMEOUT_MS: '0' }, 'DATABASE_CONNECT_TIMEOUT_MS must be an'],
    ['DATABASE_STATEMENT_TIMEOUT_MS', { DATABASE_STATEMENT_TIMEOUT_MS: 'x' }, 'DATABASE_STATEMENT_TIMEOUT_MS must be'],
    [
      'DATABASE_IDLE_IN_TX_TIMEOUT_MS',
      { DATABASE_IDLE_IN_TX_TIMEOUT_MS: '-5' },
      'DATABASE_IDLE_IN_TX_TIMEOUT_MS must be an integer',
    ],
    ['JSON_MAX_DEPTH', { JSON_MAX_DEPTH: '0' }, 'JSON_MAX_DEPTH must be an integer between 1 and 10000'],
    ['VLLM_MAX_EVENT_SIZE', { VLLM_MAX_EVENT_SIZE: 'big' }, 'VLLM_MAX_EVENT_SIZE must be a size such as 64kb'],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://a.example/path' }, 'CORS_ORIGINS must list origins'],
    [
      'HEADERS_TIMEOUT_MS',
      { HEADERS_TIMEOUT_MS: '90000', REQUEST_TIMEOUT_MS: '60000' },
      'HEADERS_TIMEOUT_MS must not be longer than REQUEST_TIMEOUT_MS',
    ],
    ['ENABLE_AUTH', { ENABLE_AUTH: 'maybe' }, 'ENABLE_AUTH must be true or false (got "maybe")'],
    ['API_KEY', { ENABLE_AUTH: 'true', API_KEY: undefined }, 'ENABLE_AUTH is true (the default) but no client can'],
    ['API_KEY_RATE_LIMIT_RPM', { API_KEY_RATE_LIMIT_RPM: '0' }, 'API_KEY_RATE_LIMIT_RPM must be an integer between 1'],
    ['API_KEY_MAX_CONCURRENT', { API_KEY_MAX_CONCURRENT: 'two' }, 'API_KEY_MAX_CONCURRENT must be an integer'],
    ['DEFAULT_TEMPERATURE', { DEFAULT_TEMPERATURE: '3' }, 'DEFAULT_TEMPERATURE must be a number between 0 and 2'],
    ['DEFAULT_TEMPERATURE', { DEFAULT_TEMPERATURE: 'hot' }, 'DEFAULT_TEMPERATURE must be a number between 0 and 2'],
    ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
    ['LOG_STDOUT', { LOG_STDOUT: 'colour' }, 'LOG_STDOUT must be one of auto, json, pretty (got "colour")'],
    ['JWT_SECRET', { ADMIN_PASSWORD: 'pw' }, 'JWT_SECRET is required and must be at least 32 characters'],
    ['JWT_SECRET', { ADMIN_PASSWORD: 'pw', JWT_SECRET: 'short' }, 'JWT_SECRET is required and must be at least 32'],
    ['JWT_SECRET', { ADMIN_PASSWORD_HASH: '$argon2id$h', JWT_SECRET: 'short' }, 'JWT_SECRET is required and must be'],
    ['ADMIN_PASSWORD_HASH', { ADMIN_PASSWORD_HASH: 'plain', JWT_SECRET: 's'.repeat(32) }, 'must be an argon2 hash'],
    ['JWT_EXPIRES_IN', { JWT_EXPIRES_IN: 'soon' }, 'JWT_EXPIRES_IN must be a duration of at least 1 s, such as 3600'],
    ['JWT_EXPIRES_IN', { JWT_EXPIRES_IN: '500ms' }, 'JWT_EXPIRES_IN must be a duration of at least 1 s'],
    ['BODY_LIMIT', { BODY_LIMIT: 'huge' }, 'BODY_LIMIT must be a size such as 512kb or 10mb (got "huge")'],
    ['VLLM_CONNECT_TIMEOUT_MS', { VLLM_CONNECT_TIMEOUT_MS: '0' }, 'VLLM_CONNECT_TIMEOUT_MS must be an integer'],
    ['VLLM_FIRST_BYTE_TIMEOUT_MS', { VLLM_FIRST_BYTE_TIMEOUT_MS: '-1' }, 'VLLM_FIRST_BYTE_TIMEOUT_MS must be an'],
    ['VLLM_IDLE_TIMEOUT_MS', { VLLM_IDLE_TIMEOUT_MS: 'x' }, 'VLLM_IDLE_TIMEOUT_MS must be an integer'],
    ['MIGRATIONS_RUN', { MIGRATIONS_RUN: '2' }, 'MIGRATIONS_RUN must be true or false'],
  ])('rejects a bad %s', (_variable, override, expected) => {
    const problems = problemsOf({ ...STARTABLE, ...override });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  it('refuses upstream URLs with credentials without quoting them: /health and the logs show these URLs', () => {
    const problems = problemsOf({ ...STARTABLE, VLLM_BASE_URL: 'http://a:8000,https://gw:s3cret@b:8000' });
    expect(problems).toEqual(['VLLM_BASE_URL must not contain credentials; set VLLM_API_KEY instead']);
  });

  it('reports every problem at once, in one error whose message lists them', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'abc',
        VLLM_BASE_URL: 'not-a-url',
        ENABLE_AUTH: 'true',
        ADMIN_PASSWORD: 'admin-password-value',
        JWT_SECRET: 'short-secret-value',
        JWT_EXPIRES_IN: '0',
      });
    } catch (err) {
      error = err;
    }

    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toHaveLength(5);
    for (const variable of ['PORT', 'VLLM_BASE_URL', 'DATABASE_URL', 'JWT_SECRET', 'JWT_EXPIRES_IN']) {
      expect(problems.some((problem) => problem.startsWith(variable))).toBe(true);
      expect(message).toContain(`  - ${variable}`);
    }
    expect(message).not.toContain('admin-password-value');
    expect(message).not.toContain('short-secret-value');
  });
});
