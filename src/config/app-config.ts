import type { Level } from 'pino';

export const LOG_STDOUT_VALUES = ['auto', 'json', 'pretty'] as const;
export type LogStdout = (typeof LOG_STDOUT_VALUES)[number];

/**
 * The validated, typed configuration. It doubles as the DI token: inject `AppConfig` anywhere instead of reading
 * `process.env`, which is read exactly once, by `loadConfig`.
 */
export abstract class AppConfig {
  abstract readonly port: number;
  abstract readonly host: string;
  abstract readonly vllm: {
    readonly baseUrls: readonly string[];
    /** Secret: sent upstream as a Bearer token, never logged. */
    readonly apiKey: string | undefined;
    readonly connectTimeoutMs: number;
    readonly firstByteTimeoutMs: number;
    readonly idleTimeoutMs: number;
  };
  abstract readonly databaseUrl: string;
  abstract readonly database: {
    /** How long a request waits for a pooled connection (or a new one) before the database counts as down (503). */
    readonly connectTimeoutMs: number;
    /** PostgreSQL's statement_timeout for the app's sessions: a stuck query fails (503) instead of holding a request. */
    readonly statementTimeoutMs: number;
    /** PostgreSQL's idle_in_transaction_session_timeout: a transaction left open does not hold its locks for ever. */
    readonly idleInTransactionTimeoutMs: number;
  };
  abstract readonly migrationsRun: boolean;
  abstract readonly auth: {
    readonly enabled: boolean;
    /** Secrets: the static client keys. */
    readonly apiKeys: readonly string[];
    /** Limits each static key gets (API_KEY_RATE_LIMIT_RPM, API_KEY_MAX_CONCURRENT); null: unlimited. */
    readonly staticKeyLimits: { readonly rateLimitRpm: number | null; readonly maxConcurrent: number | null };
  };
  abstract readonly defaultTemperature: number | undefined;
  abstract readonly log: {
    readonly dir: string;
    readonly level: Level | 'silent';
    /** What stdout shows (the file is always JSON lines): `auto` is `pretty` on a terminal, else `json`. */
    readonly stdout: LogStdout;
  };
  abstract readonly admin: {
    /** Admin login is enabled when a password or a password hash is configured. */
    readonly enabled: boolean;
    readonly username: string;
    readonly password: string | undefined;
    readonly passwordHash: string | undefined;
    readonly jwtSecret: string | undefined;
    readonly jwtExpiresIn: string;
  };
  abstract readonly bodyLimit: string;
  /** `bodyLimit` in bytes (1 kb = 1024 bytes). */
  abstract readonly bodyLimitBytes: number;
  /** The most messages one chat request may carry (each may cost a `/tokenize` call in a conversation turn). */
  abstract readonly maxMessages: number;
  /** Processes serving HTTP: 1 runs the app in this process; more forks that many cluster workers behind it. */
  abstract readonly workers: number;
  /**
   * On SIGTERM, how long in-flight requests and streams may run before shutdown aborts them; under Kubernetes' default
   * 30 s termination grace period.
   */
  abstract readonly shutdownGraceMs: number;
  /** Secret: when set, `/metrics` requires `Authorization: Bearer <token>`; unset, it is public. */
  abstract readonly metricsToken: string | undefined;
  /** Bounds on what a client or an upstream controls (issue 12); each answers a clear 4xx or an in-stream error. */
  abstract readonly limits: {
    /** Deepest `{`/`[` nesting of a JSON body, checked on the bytes before parsing, on both body readers. */
    readonly jsonMaxDepth: number;
    /** node's `server.headersTimeout`: a client's whole header block must arrive within this. */
    readonly headersTimeoutMs: number;
    /** node's `server.requestTimeout`: the deadline for a whole request (headers and body) to arrive. */
    readonly requestTimeoutMs: number;
    /** node's `server.maxConnections`: sockets beyond this are closed at once. */
    readonly maxConnections: number;
    /** The largest single SSE event accepted from vLLM; a larger one ends the stream with `bad_gateway`. */
    readonly maxSseEventBytes: number;
    /** Bytes of an upstream error body read (the rest is discarded). */
    readonly upstreamErrorBodyBytes: number;
    /** Characters of an upstream error message relayed to the client. */
    readonly upstreamErrorMessageChars: number;
    /** The largest message content stored in a conversation, in UTF-8 bytes. */
    readonly maxStoredMessageBytes: number;
  };
  /** Origins allowed by CORS; empty: CORS closed (no Access-Control-* header is ever sent). */
  abstract readonly corsOrigins: readonly string[];
  abstract readonly usage: {
    /** Usage rows older than this many days are deleted. */
    readonly retentionDays: number;
    /** Rows waiting to be written; beyond this, new rows are dropped (and counted), never queued. */
    readonly queueSize: number;
  };
}
