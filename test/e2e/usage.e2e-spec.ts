import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { DataSource } from 'typeorm';
import { UsageRecord } from '../../src/usage/usage-record.entity.js';
import { adminApi, type ErrorBody, jsonApi, type JsonApi } from '../factories/api.js';
import { startGateway } from '../helpers/gateway.js';
import { openTestDataSource } from '../helpers/pg.js';
import { waitFor } from '../helpers/relay.js';
import { startStack, type Stack } from '../helpers/stack.js';

const ADMIN_PASSWORD = 'usage-e2e-admin-password';
const JWT_SECRET = 'usage-e2e-jwt-secret-0123456789-abcdefgh';
// A model of its own: other specs write usage rows into the same database at the same time.
const MODEL = `usage-model-${randomUUID().slice(0, 8)}`;
const messages = [{ role: 'user', content: 'how many tokens is this' }];

interface StatsRow {
  key: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  errors: number;
  aborted: number;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
}
interface Stats {
  from: string;
  to: string;
  group_by: string;
  groups: StatsRow[];
  totals: StatsRow;
}

/** A stream the test hangs up on once a few events have arrived. */
async function abortedStream(url: string, key: string): Promise<void> {
  let text = '';
  const req = request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  });
  req.on('error', () => undefined);
  req.on('response', (res) => {
    res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    res.on('error', () => undefined);
  });
  req.end(JSON.stringify({ model: MODEL, messages, stream: true }));
  await waitFor(() => text.split('\n\n').length > 5, 'a few events of the stream');
  req.destroy();
}

/**
 * Usage accounting end to end: a row per completion (plain, streamed, aborted, failed) written by the batch writer,
 * /admin/stats matching the traffic, and rows queued at shutdown written before the pool closes.
 */
describe('usage accounting and /admin/stats (e2e)', () => {
  let stack: Stack;
  let url: string;
  let admin: JsonApi;
  let client: JsonApi;
  let keyId: string;
  let key: string;
  let db: DataSource;
  const startedAt = new Date(Date.now() - 1_000).toISOString();

  beforeAll(async () => {
    stack = await startStack({
      simulator: { servedModelNames: [MODEL], outputMode: 'fixed', outputTokens: 6 },
      env: { ENABLE_AUTH: 'true', ADMIN_PASSWORD, JWT_SECRET },
    });
    url = stack.gateway.url;
    admin = await adminApi(url, ADMIN_PASSWORD);
    const created = await admin<{ id: string; key: string }>('POST', '/admin/api-keys', { name: 'usage-e2e' });
    expect(created.status).toBe(201);
    ({ id: keyId, key } = created.body);
    client = jsonApi(url, { authorization: `Bearer ${key}` });
    db = await openTestDataSource();
  });

  afterAll(async () => {
    await db?.destroy();
    await stack?.close();
  });

  const stats = (query: string) => admin<Stats>('GET', `/admin/stats?from=${encodeURIComponent(startedAt)}&${query}`);

  it('records every completion and /admin/stats reports the traffic sent, by model, key and day', async () => {
    expect((await client('POST', '/v1/chat/completions', { model: MODEL, messages })).status).toBe(200);
    const streamed = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, messages, stream: true, stream_options: { include_usage: true } }),
    });
    expect(await streamed.text()).toContain('[DONE]');
    stack.sim.configure({ failure: 'error_before_stream:500' } as never);
    for (let i = 0; i < 2; i++) {
      expect((await client('POST', '/v1/chat/completions', { model: MODEL, messages })).status).toBe(500);
    }
    stack.sim.configure({ failure: null, outputTokens: 2_000, itlMs: 10 });
    await abortedStream(url, key);

    // The writer flushes every second: poll the stats until the five rows are in.
    let byModel: Stats | undefined;
    const deadline = Date.now() + 10_000;
    while (byModel?.groups.find((g) => g.key === MODEL)?.requests !== 5 && Date.now() < deadline) {
      byModel = (await stats('group_by=model')).body;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    stack.sim.configure({ outputTokens: 6, itlMs: 0 });
    const row = byModel?.groups.find((g) => g.key === MODEL);
    expect(row).toMatchObject({ requests: 5, errors: 2, aborted: 1 });
    // 6 + 6 from vLLM's usage, plus the tokens the aborted stream relayed before the client left.
    expect(row?.output_tokens).toBeGreaterThan(12);
    expect(row?.input_tokens).toBeGreaterThan(0);
    expect(row?.ttft_p50_ms).toEqual(expect.any(Number));
    expect(row?.ttft_p95_ms).toBeGreaterThanOrEqual(row?.ttft_p50_ms ?? 0);

    const byKey = (await stats('group_by=key')).body;
    expect(byKey.groups.find((g) => g.key === keyId)).toMatchObject({ requests: 5, errors: 2, aborted: 1 });
    const byDay = (await stats('group_by=day')).body;
    const today = new Date().toISOString().slice(0, 10);
    expect(byDay.groups.find((g) => g.key === today)?.requests).toBeGreaterThanOrEqual(5);
    expect(byDay.totals.requests).toBeGreaterThanOrEqual(5);

    const rows = await db.getRepository(UsageRecord).findBy({ apiKeyId: keyId });
    // created_at is the wall clock at the completion's end, to the millisecond.
    for (const r of rows) {
      expect(r.createdAt.getTime()).toBeGreaterThanOrEqual(Date.parse(startedAt));
      expect(r.createdAt.getTime()).toBeLessThanOrEqual(Date.now());
    }
    const aborted = rows.find((r) => r.status === 'aborted');
    expect(aborted).toMatchObject({ streamed: true, model: MODEL, route: '/v1/chat/completions' });
    expect(aborted?.outputTokens).toBeGreaterThan(0);
    expect(rows.find((r) => r.status === 'error')).toMatchObject({ streamed: false, outputTokens: null });
  });

  it("files a conversation turn under its conversation and the config it applied (the conversation's own)", async () => {
    const config = await admin<{ id: string }>('POST', '/admin/llm-configs', { name: `usage-${randomUUID()}` });
    expect(config.status).toBe(201);
    const conversation = await client<{ id: string }>('POST', '/v1/conversations', { llm_config_id: config.body.id });
    expect(conversation.status).toBe(201);
    // The turn names only the conversation; the config comes from it.
    const turn = await client('POST', '/v1/chat/completions', {
      model: MODEL,
      conversation_id: conversation.body.id,
      messages,
    });
    expect(turn.status).toBe(200);
    const repo = db.getRepository(UsageRecord);
    const deadline = Date.now() + 5_000;
    while ((await repo.countBy({ conversationId: conversation.body.id })) === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await repo.findBy({ conversationId: conversation.body.id })).toEqual([
      expect.objectContaining({ llmConfigId: config.body.id, apiKeyId: keyId, status: 'complete', outputTokens: 6 }),
    ]);
  });

  it('is for the admin only, and names a bad parameter', async () => {
    expect((await client<ErrorBody>('GET', '/admin/stats')).status).toBe(401);
    expect((await jsonApi(url)('GET', '/admin/stats')).status).toBe(401);
    const bad = await admin<ErrorBody>('GET', '/admin/stats?group_by=user');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('group_by');
    const backwards = await admin<ErrorBody>('GET', '/admin/stats?from=2026-12-02&to=2026-12-01');
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.param).toBe('from');
  });

  it('writes the rows still queued when the app shuts down, before the pool closes', async () => {
    const before = await db.getRepository(UsageRecord).countBy({ apiKeyId: keyId });
    for (let i = 0; i < 3; i++) {
      expect((await client('POST', '/v1/chat/completions', { model: MODEL, messages })).status).toBe(200);
    }
    // At once: the writer's timer (every second) has not run for these.
    await stack.gateway.close();
    expect(await db.getRepository(UsageRecord).countBy({ apiKeyId: keyId })).toBe(before + 3);
  });

  it('deletes rows older than USAGE_RETENTION_DAYS at start-up, and keeps younger ones', async () => {
    const repo = db.getRepository(UsageRecord);
    const model = `retention-${randomUUID().slice(0, 8)}`;
    const row = (daysAgo: number) => ({
      createdAt: new Date(Date.now() - daysAgo * 86_400_000),
      route: '/v1/chat/completions',
      model,
      llmConfigId: null,
      apiKeyId: null,
      owner: null,
      conversationId: null,
      status: 'complete' as const,
      streamed: false,
      inputTokens: 1,
      outputTokens: 1,
      ttftMs: null,
      durationMs: 1,
    });
    await repo.insert([row(3), row(1)]);
    const gateway = await startGateway({ VLLM_BASE_URL: stack.sim.url, USAGE_RETENTION_DAYS: '2' });
    try {
      const deadline = Date.now() + 5_000;
      while ((await repo.countBy({ model })) === 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const left = await repo.findBy({ model });
      expect(left).toHaveLength(1);
      expect(left[0]?.createdAt.getTime()).toBeGreaterThan(Date.now() - 2 * 86_400_000);
    } finally {
      await gateway.close();
    }
  });
});
