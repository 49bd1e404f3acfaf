import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { CompletionRecord } from '../common/completion.js';
import { isUuid } from '../common/uuid.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { UsageQueue } from './usage-queue.js';
import { UsageRecord } from './usage-record.entity.js';

/** Rows per INSERT: one statement and one JSON parameter of about 60 KB. */
export const USAGE_BATCH_SIZE = 500;
const FLUSH_INTERVAL_MS = 1_000;
const RETENTION_INTERVAL_MS = 3_600_000;
/** Rows one retention statement deletes, and statements per run: the delete never holds a long lock. */
const RETENTION_CHUNK = 10_000;
const RETENTION_MAX_CHUNKS = 20;

/** A usage row as the batch INSERT reads it: one JSON array per row, in `USAGE_COLUMNS` order. */
type UsageTuple = readonly [
  createdAtEpochMs: number,
  route: string,
  model: string | null,
  llmConfigId: string | null,
  apiKeyId: string | null,
  owner: string | null,
  conversationId: string | null,
  status: UsageRecord['status'],
  streamed: boolean,
  inputTokens: number | null,
  outputTokens: number | null,
  ttftMs: number | null,
  durationMs: number,
];

/** The columns of a `UsageTuple`, in order (tests read the batches back with it). */
export const USAGE_COLUMNS = [
  'created_at',
  'route',
  'model',
  'llm_config_id',
  'api_key_id',
  'owner',
  'conversation_id',
  'status',
  'streamed',
  'input_tokens',
  'output_tokens',
  'ttft_ms',
  'duration_ms',
] as const;

/**
 * One multi-row INSERT whose rows travel as one JSON parameter, an array per row: TypeORM's insert builder cost about
 * a tenth of the gateway's CPU at 4,000 completions/s (building and escaping a parameter per column per row), and
 * arrays are shorter to build, send and parse than objects repeating thirteen keys.
 */
const INSERT_BATCH = `INSERT INTO "usage_records" (${USAGE_COLUMNS.join(', ')})
  SELECT to_timestamp((r->>0)::float8 / 1000), r->>1, r->>2, (r->>3)::uuid, (r->>4)::uuid, r->>5, (r->>6)::uuid,
         r->>7, (r->>8)::boolean, (r->>9)::integer, (r->>10)::integer, (r->>11)::real, (r->>12)::real
  FROM jsonb_array_elements($1::jsonb) AS r`;

/**
 * Usage accounting off the request path: `record` puts a row in a bounded in-memory queue (a full queue drops it
 * and counts it, so requests never wait and memory never grows); the queue is written in batches of up to
 * USAGE_BATCH_SIZE, one multi-row INSERT each, one at a time: every second, or as soon as a full batch is queued.
 * Shutdown writes what is left before the pool closes. Rows older than USAGE_RETENTION_DAYS are deleted hourly, in
 * bounded chunks.
 */
@Injectable()
export class UsageService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UsageService.name);
  private readonly queue: UsageQueue<CompletionRecord>;
  private flushTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private retention: Promise<void> | undefined;

  constructor(
    @InjectRepository(UsageRecord) private readonly rows: Repository<UsageRecord>,
    private readonly config: AppConfig,
    private readonly metrics: MetricsService,
  ) {
    this.queue = new UsageQueue(config.usage.queueSize, () => metrics.usageRowsDropped.inc({ reason: 'queue_full' }));
  }

  onApplicationBootstrap(): void {
    this.flushTimer = setInterval(() => void this.write(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
    this.retention = this.deleteExpired();
    this.retentionTimer = setInterval(() => {
      this.retention ??= this.deleteExpired();
    }, RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  /** Runs after the HTTP server stopped: writes every queued row, then the database pool may close. */
  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.retentionTimer);
    await this.retention;
    // Rows of responses that ended in the last turn of the event loop are accounted in the next one.
    await new Promise((resolve) => setImmediate(resolve));
    await this.flush();
  }

  /**
   * Queues one completion; never waits and never throws. The record itself is queued: its row is built by the writer,
   * a batch at a time, so a request allocates nothing here.
   */
  record(c: CompletionRecord): void {
    this.queue.push(c);
    if (this.queue.size >= USAGE_BATCH_SIZE) void this.write();
  }

  /** Writes every queued row, those queued while a write was running included (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.writing !== undefined || this.queue.size > 0) await this.write();
  }

  /**
   * Starts writing the rows queued now, unless a write is running. Rows queued meanwhile wait for a full batch or the
   * next tick: taking them as soon as a write ended made a busy gateway send a stream of tiny INSERTs back to back
   * (about 15 rows each at 4,000 completions/s), each with its own commit, which cost PostgreSQL about three times the
   * CPU per row of full batches.
   */
  private write(): Promise<void> {
    this.writing ??= this.writeQueued(this.queue.size).finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async insertBatch(batch: readonly CompletionRecord[]): Promise<void> {
    await this.rows.query(INSERT_BATCH, [JSON.stringify(batch.map(usageTuple))]);
  }

  private async writeQueued(rows: number): Promise<void> {
    for (let left = rows; left > 0;) {
      const batch = this.queue.take(Math.min(left, USAGE_BATCH_SIZE));
      if (batch.length === 0) return;
      left -= batch.length;
      try {
        await this.insertBatch(batch);
      } catch (err) {
        // Not retried: a database that refuses one batch would otherwise grow the queue behind it.
        this.metrics.usageRowsDropped.inc({ reason: 'write_failed' }, batch.length);
        this.logger.error({ err }, `${batch.length} usage rows not written`);
      }
    }
  }

  private async deleteExpired(): Promise<void> {
    try {
      for (let i = 0; i < RETENTION_MAX_CHUNKS; i++) {
        const result: unknown = await this.rows.query(
          `DELETE FROM "usage_records" WHERE "id" IN (
             SELECT "id" FROM "usage_records" WHERE "created_at" < now() - make_interval(days => $1) LIMIT $2)`,
          [this.config.usage.retentionDays, RETENTION_CHUNK],
        );
        if (deletedCount(result) < RETENTION_CHUNK) break;
      }
    } catch (err) {
      this.logger.error({ err }, 'expired usage rows not deleted');
    } finally {
      this.retention = undefined;
    }
  }
}

function usageTuple(c: CompletionRecord): UsageTuple {
  const key = c.principal.kind === 'api-key' ? c.principal : undefined;
  return [
    c.recordedAt,
    c.route,
    c.model ?? null,
    uuidOrNull(c.llmConfigId),
    uuidOrNull(key?.keyId ?? undefined),
    key?.owner ?? null,
    uuidOrNull(c.conversationId),
    c.status,
    c.streamed,
    c.inputTokens,
    c.outputTokens,
    c.firstEventAt === undefined ? null : c.firstEventAt - c.receivedAt,
    c.endedAt - c.receivedAt,
  ];
}

function uuidOrNull(value: string | undefined): string | null {
  return value !== undefined && isUuid(value) ? value : null;
}

/** TypeORM's raw DELETE result on PostgreSQL is `[rows, affected]`. */
function deletedCount(result: unknown): number {
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}
