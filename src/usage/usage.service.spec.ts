import { describe, it, expect, jest } from '@jest/globals';
import type { Repository } from 'typeorm';
import type { CompletionRecord } from '../common/completion.js';
import { ANONYMOUS } from '../common/principal.js';
import type { AppConfig } from '../config/app-config.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import { UsageQueue } from './usage-queue.js';
import type { UsageRecord } from './usage-record.entity.js';
import { USAGE_COLUMNS, UsageService } from './usage.service.js';

const completion: CompletionRecord = {
  route: '/v1/chat/completions',
  model: 'sim-model',
  status: 'complete',
  streamed: false,
  principal: ANONYMOUS,
  conversationId: 'not-a-uuid',
  llmConfigId: undefined,
  receivedAt: 100,
  firstEventAt: undefined,
  endedAt: 150,
  recordedAt: Date.UTC(2026, 11, 1, 12),
  overheadMs: 0.2,
  events: 0,
  relayMs: 0,
  inputTokens: 3,
  outputTokens: 5,
};

function setup(queueSize: number, insert: () => Promise<unknown>) {
  const inserted: Record<string, unknown>[][] = [];
  // The batch INSERT sends its rows as one JSON parameter, an array per row in USAGE_COLUMNS order.
  const rows = {
    query: jest.fn((_sql: string, params: unknown[]) => {
      const tuples = JSON.parse(String(params[0])) as unknown[][];
      inserted.push(tuples.map((tuple) => Object.fromEntries(USAGE_COLUMNS.map((column, i) => [column, tuple[i]]))));
      return insert();
    }),
  };
  const dropped = { inc: jest.fn<(labels: { reason: string }, n?: number) => void>() };
  const service = new UsageService(
    rows as unknown as Repository<UsageRecord>,
    { usage: { queueSize, retentionDays: 90 } } as AppConfig,
    { usageRowsDropped: dropped } as unknown as MetricsService,
  );
  return { service, rows, dropped, inserted };
}

describe('UsageQueue', () => {
  it('holds at most its capacity and reports each row it drops', () => {
    const onDrop = jest.fn();
    const queue = new UsageQueue<number>(2, onDrop);
    expect([1, 2, 3, 4].map((n) => queue.push(n))).toEqual([true, true, false, false]);
    expect(queue.size).toBe(2);
    expect(onDrop).toHaveBeenCalledTimes(2);
    expect(queue.take(10)).toEqual([1, 2]);
    expect(queue.push(5)).toBe(true);
  });
});

describe('UsageService', () => {
  it('drops and counts rows when the queue is full, without waiting on a database that does not answer', () => {
    // The database never answers: a write in flight must not hold anything up.
    const { service, dropped, rows } = setup(2, () => new Promise(() => undefined));
    const started = performance.now();
    for (let i = 0; i < 5; i++) service.record(completion);
    expect(performance.now() - started).toBeLessThan(50);
    expect(dropped.inc).toHaveBeenCalledTimes(3);
    expect(dropped.inc).toHaveBeenCalledWith({ reason: 'queue_full' });

    // The writer takes the two queued rows (its INSERT hangs); the queue has room again, still bounded at 2.
    void service.flush();
    expect(rows.query).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 3; i++) service.record(completion);
    expect(dropped.inc).toHaveBeenCalledTimes(4);
  });

  it('leaves rows queued during a write for a full batch or the next tick, not an INSERT right after', async () => {
    let answer: () => void = () => undefined;
    const { service, inserted } = setup(10_000, () => new Promise<void>((resolve) => (answer = resolve)));
    // A full batch starts a write at once.
    for (let i = 0; i < 500; i++) service.record(completion);
    expect(inserted.map((batch) => batch.length)).toEqual([500]);
    for (let i = 0; i < 10; i++) service.record(completion);
    answer();
    await new Promise((resolve) => setImmediate(resolve));
    // The ten wait: the first write does not go on to them.
    expect(inserted.map((batch) => batch.length)).toEqual([500]);
    const flushed = service.flush();
    answer();
    await flushed;
    expect(inserted.map((batch) => batch.length)).toEqual([500, 10]);
  });

  it('writes queued rows in batches of one INSERT each, and counts a failed batch as dropped', async () => {
    const { service, inserted, dropped } = setup(10_000, () => Promise.resolve());
    for (let i = 0; i < 1_001; i++) service.record(completion);
    await service.flush();
    expect(inserted.map((batch) => batch.length)).toEqual([500, 500, 1]);
    expect(inserted[0]?.[0]).toEqual({
      created_at: Date.UTC(2026, 11, 1, 12),
      route: '/v1/chat/completions',
      model: 'sim-model',
      llm_config_id: null,
      api_key_id: null,
      owner: null,
      streamed: false,
      ttft_ms: null,
      status: 'complete',
      input_tokens: 3,
      output_tokens: 5,
      duration_ms: 50,
      // An id that is not a UUID never reaches a uuid column.
      conversation_id: null,
    });

    const failing = setup(10, () => Promise.reject(new Error('db down')));
    failing.service.record(completion);
    failing.service.record(completion);
    await failing.service.flush();
    expect(failing.dropped.inc).toHaveBeenCalledWith({ reason: 'write_failed' }, 2);
    expect(dropped.inc).not.toHaveBeenCalled();
  });
});
