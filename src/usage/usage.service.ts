import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import type { CompletionRecord } from '../common/completion.js';
import { isUuid } from '../common/uuid.js';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { UsageQueue } from './usage-queue.js';
import { UsageRecord } from './usage-record.entity.js';

/** Rows per INSERT: one statement, well under PostgreSQL's 65535 bind parameters (13 columns a row). */
export const USAGE_BATCH_SIZE = 500;
const FLUSH_INTERVAL_MS = 1_000;
const RETENTION_INTERVAL_MS = 3_600_000;
/** Rows one retention statement deletes, and statements per run: the delete never holds a long lock. */
const RETENTION_CHUNK = 10_000;
const RETENTION_MAX_CHUNKS = 20;

export type UsageRow = Omit<UsageRecord, 'id'>;

/**
 * Usage accounting off the request path: `record` puts a row in a bounded in-memory queue (a full queue drops it
 * and counts it, so requests never wait and memory never grows); a timer writes the queue in batches, one multi-row
 * INSERT each, one batch at a time. Shutdown writes what is left before the pool closes. Rows older than
 * USAGE_RETENTION_DAYS are deleted hourly, in bounded chunks.
 */
@Injectable()
export class UsageService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UsageService.name);
  private readonly queue: UsageQueue<UsageRow>;
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
    this.flushTimer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
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

  /** Queues one completion's row; never waits and never throws. */
  record(c: CompletionRecord): void {
    const principal = c.principal;
    this.queue.push({
      createdAt: new Date(),
      route: c.route,
      model: c.model ?? null,
      llmConfigId: uuidOrNull(c.llmConfigId),
      apiKeyId: principal.kind === 'api-key' ? uuidOrNull(principal.keyId ?? undefined) : null,
      owner: principal.kind === 'api-key' ? principal.owner : null,
      conversationId: uuidOrNull(c.conversationId),
      status: c.status,
      streamed: c.streamed,
      inputTokens: c.inputTokens,
      outputTokens: c.outputTokens,
      ttftMs: c.firstEventAt === undefined ? null : c.firstEventAt - c.receivedAt,
      durationMs: c.endedAt - c.receivedAt,
    });
    if (this.queue.size >= USAGE_BATCH_SIZE) void this.flush();
  }

  /** Writes the queue in batches until it is empty; concurrent calls share the one running write. */
  flush(): Promise<void> {
    this.writing ??= this.writeAll().finally(() => (this.writing = undefined));
    return this.writing;
  }

  /**
   * One multi-row INSERT whose rows travel as one JSON parameter: TypeORM's insert builder cost about a tenth of the
   * gateway's CPU at 4,000 completions/s (building and escaping a parameter per column per row), this one
   * JSON.stringify.
   */
  private async insertBatch(batch: readonly UsageRow[]): Promise<void> {
    await this.rows.query(
      `INSERT INTO usage_records (created_at, route, model, llm_config_id, api_key_id, owner, conversation_id, status,
                                  streamed, input_tokens, output_tokens, ttft_ms, duration_ms)
       SELECT created_at, route, model, llm_config_id, api_key_id, owner, conversation_id, status, streamed,
              input_tokens, output_tokens, ttft_ms, duration_ms
       FROM jsonb_to_recordset($1::jsonb) AS r(created_at timestamptz, route text, model text, llm_config_id uuid,
            api_key_id uuid, owner text, conversation_id uuid, status text, streamed boolean, input_tokens integer,
            output_tokens integer, ttft_ms real, duration_ms real)`,
      [
        JSON.stringify(
          batch.map((row) => ({
            created_at: row.createdAt,
            route: row.route,
            model: row.model,
            llm_config_id: row.llmConfigId,
            api_key_id: row.apiKeyId,
            owner: row.owner,
            conversation_id: row.conversationId,
            status: row.status,
            streamed: row.streamed,
            input_tokens: row.inputTokens,
            output_tokens: row.outputTokens,
            ttft_ms: row.ttftMs,
            duration_ms: row.durationMs,
          })),
        ),
      ],
    );
  }

  private async writeAll(): Promise<void> {
    for (let batch = this.queue.take(USAGE_BATCH_SIZE); batch.length > 0; batch = this.queue.take(USAGE_BATCH_SIZE)) {
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

function uuidOrNull(value: string | undefined): string | null {
  return value !== undefined && isUuid(value) ? value : null;
}

/** TypeORM's raw DELETE result on PostgreSQL is `[rows, affected]`. */
function deletedCount(result: unknown): number {
  return Array.isArray(result) && typeof result[1] === 'number' ? result[1] : 0;
}
