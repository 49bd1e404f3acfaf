import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ChangeFeed } from '../../src/database/change-feed.js';
import { PgCluster } from '../../tools/pg/cluster.js';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { adminToken, type ConversationBody, type ErrorBody, jsonApi, type LlmConfigBody } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { migrate } from '../helpers/pg-global.js';

const STATIC_KEY = 'outage-static-key';
const ADMIN_PASSWORD = 'outage-admin-password';
/** "About 2 s": the pool's connect timeout is 2 s, and a stopped server refuses at once; the rest is CI noise. */
const OUTAGE_ANSWER_MS = 3_000;

interface Timed {
  status: number;
  retryAfter: string | null;
  body: unknown;
  ms: number;
}

/**
 * PostgreSQL stops while the gateway runs, then comes back on the same port: every route that needs the database
 * answers 503 with Retry-After quickly, plain chat keeps working, and everything recovers without a restart, the
 * change feed included (a full reload after it reconnects). The spec owns its cluster: it is the one it stops.
 */
describe('database outage (e2e)', () => {
  let sim: Simulator;
  let cluster: PgCluster;
  let gateway: RunningGateway;
  /** A second process's worth of caches on the same database, for the change feed after the restart. */
  let other: RunningGateway;
  let admin: string;
  let conversation: ConversationBody;
  let config: LlmConfigBody;
  let url: string;

  const key = { authorization: `Bearer ${STATIC_KEY}` };

  beforeAll(async () => {
    sim = await startSimulator();
    sim.configure({ outputMode: 'echo', itlMs: 0 });
    cluster = await PgCluster.startThrowaway();
    await cluster.createDatabase('outage');
    url = cluster.url('outage');
    await migrate(url);
    const env = {
      DATABASE_URL: url,
      VLLM_BASE_URL: sim.url,
      ENABLE_AUTH: 'true',
      API_KEY: STATIC_KEY,
      ADMIN_PASSWORD,
      JWT_SECRET: 'o'.repeat(32),
      DATABASE_STATEMENT_TIMEOUT_MS: '15000',
      DATABASE_IDLE_IN_TX_TIMEOUT_MS: '45000',
    };
    gateway = await startGateway(env);
    other = await startGateway(env);
    admin = await adminToken(gateway.url, ADMIN_PASSWORD);
    const call = jsonApi(gateway.url, key);
    conversation = (await call<ConversationBody>('POST', '/v1/conversations', { title: 'before the outage' })).body;
    config = (await call<LlmConfigBody>('POST', '/v1/llm-configs', { name: `cfg-${randomUUID()}`, temperature: 0.1 }))
      .body;
  });

  afterAll(async () => {
    await other?.close();
    await gateway?.close();
    await cluster?.destroy();
    await sim?.close();
  });

  async function timed(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = key,
  ): Promise<Timed> {
    const started = performance.now();
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // A stream's body stays text.
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: parsed, ms };
  }

  const turn = (extra: Record<string, unknown> = {}) => ({
    conversation_id: conversation.id,
    messages: [{ role: 'user', content: 'are you there?' }],
    max_tokens: 8,
    ...extra,
  });

  /** Every route that needs the database, with a key or the admin token as it requires. */
  const databaseRoutes = (): [string, string, unknown, Record<string, string>][] => {
    const asAdmin = { authorization: `Bearer ${admin}` };
    const unknownId = randomUUID();
    return [
      ['POST', '/v1/chat/completions', turn(), key],
      ['POST', '/v1/chat/completions', turn({ stream: true }), key],
      ['POST', '/v1/chat/completions', { llm_config_id: unknownId, messages: [{ role: 'user', content: 'x' }] }, key],
      ['POST', '/v1/conversations', { title: 'during the outage' }, key],
      ['GET', '/v1/conversations', undefined, key],
      ['GET', `/v1/conversations/${conversation.id}`, undefined, key],
      ['GET', `/v1/conversations/${conversation.id}/messages`, undefined, key],
      ['PATCH', `/v1/conversations/${conversation.id}`, { title: 'renamed' }, key],
      ['DELETE', `/v1/conversations/${unknownId}`, undefined, key],
      ['POST', '/v1/llm-configs', { name: `cfg-${randomUUID()}` }, key],
      ['GET', '/v1/llm-configs', undefined, key],
      ['GET', `/v1/llm-configs/${config.id}`, undefined, key],
      ['PATCH', `/v1/llm-configs/${config.id}`, { temperature: 0.5 }, key],
      ['DELETE', `/v1/llm-configs/${unknownId}`, undefined, key],
      ['GET', '/admin/conversations', undefined, asAdmin],
      ['GET', `/admin/conversations/${conversation.id}`, undefined, asAdmin],
      ['GET', '/admin/llm-configs', undefined, asAdmin],
      ['GET', '/admin/api-keys', undefined, asAdmin],
      ['POST', '/admin/api-keys', { name: 'during the outage' }, asAdmin],
      ['DELETE', `/admin/api-keys/${unknownId}`, undefined, asAdmin],
    ];
  };

  const plainChat = { messages: [{ role: 'user', content: 'no database needed' }], max_tokens: 8 };

  async function keyWorks(gatewayUrl: string, secret: string): Promise<number> {
    const res = await fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    await res.arrayBuffer();
    return res.status;
  }

  async function waitFor(what: string, check: () => Promise<boolean>, withinMs: number): Promise<number> {
    const started = performance.now();
    while (!(await check())) {
      if (performance.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return performance.now() - started;
  }

  it('sets the session limits on every pooled connection', async () => {
    const rows: Record<string, string>[] = await gateway.app
      .get(DataSource)
      .query(
        `SELECT current_setting('statement_timeout') AS s, current_setting('idle_in_transaction_session_timeout') AS i`,
      );
    expect(rows).toEqual([{ s: '15s', i: '45s' }]);
  });

  it('answers every database route 503 with Retry-After within about 2 s, keeps plain chat, and recovers', async () => {
    const asAdmin = { authorization: `Bearer ${admin}` };
    // Made before the outage: one is revoked through the API after it, one behind the change feed's back.
    const made = async (name: string) =>
      (await jsonApi(gateway.url, asAdmin)<{ id: string; key: string }>('POST', '/admin/api-keys', { name })).body;
    const revokedByApi = await made('revoked through the API after the outage');
    const revokedBySql = await made('revoked while no one listens');
    expect(await keyWorks(other.url, revokedByApi.key)).toBe(200);
    expect(await keyWorks(other.url, revokedBySql.key)).toBe(200);

    // A turn already past its user message when the database goes: its reply cannot be committed, and the client is
    // told so (503, retry later) instead of getting an answer the conversation does not hold.
    sim.configure({ ttftMs: 4_000 });
    const midTurn = timed('POST', '/v1/chat/completions', turn({ messages: [{ role: 'user', content: 'mid-turn' }] }));
    await waitFor('the turn reaches vLLM', () => Promise.resolve(sim.counters().inFlight > 0), 5_000);
    await cluster.stop();
    const cut = await midTurn;
    sim.configure({ ttftMs: 0 });
    expect({ status: cut.status, retryAfter: cut.retryAfter }).toEqual({ status: 503, retryAfter: '2' });
    expect((cut.body as ErrorBody).error.code).toBe('service_unavailable');

    for (const [method, path, body, headers] of databaseRoutes()) {
      const res = await timed(method, path, body, headers);
      const route = `${method} ${path}`;
      expect({ route, status: res.status, retryAfter: res.retryAfter }).toEqual({
        route,
        status: 503,
        retryAfter: '2',
      });
      expect((res.body as ErrorBody).error).toEqual({
        message: 'The database is temporarily unavailable; please retry.',
        type: 'server_error',
        param: null,
        code: 'service_unavailable',
      });
      expect({ route, fast: res.ms < OUTAGE_ANSWER_MS }).toEqual({ route, fast: true });
    }

    // Stateless traffic makes no query: it does not notice.
    expect((await timed('POST', '/v1/chat/completions', plainChat)).status).toBe(200);
    const stream = await timed('POST', '/v1/chat/completions', { ...plainChat, stream: true });
    expect(stream.status).toBe(200);
    expect(String(stream.body)).toContain('data: [DONE]');
    expect((await timed('GET', '/v1/models')).status).toBe(200);
    // Keys are checked in memory: a valid key is still a valid key.
    expect(await keyWorks(gateway.url, STATIC_KEY)).toBe(200);

    const health = await timed('GET', '/health', undefined, {});
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'error', checks: { database: { status: 'down' } } });
    expect(health.ms).toBeLessThan(OUTAGE_ANSWER_MS);

    await cluster.start();

    // The pool opens new connections on demand: the first request after the restart may still race it.
    await waitFor(
      'the database routes answer again',
      async () => (await timed('GET', '/v1/conversations')).status === 200,
      10_000,
    );
    for (const [method, path, body, headers] of databaseRoutes()) {
      const res = await timed(method, path, body, headers);
      expect({ route: `${method} ${path}`, status: res.status }).not.toMatchObject({ status: 503 });
      expect(res.status).toBeLessThan(500);
    }
    const stored = await timed('POST', '/v1/chat/completions', turn());
    expect(stored.status).toBe(200);
    // The cut turn kept its user message and no reply; the thread went on after it.
    const thread = (await timed('GET', `/v1/conversations/${conversation.id}/messages?limit=100`)).body as {
      data: { role: string; content: string }[];
    };
    const cutAt = thread.data.findIndex((m) => m.content === 'mid-turn');
    expect(cutAt).toBeGreaterThanOrEqual(0);
    expect(thread.data[cutAt + 1]?.role).toBe('user');
    // /health may serve its report from a short cache: the database's return shows once that expires.
    await waitFor(
      '/health reports the database up',
      async () => (await timed('GET', '/health', undefined, {})).status === 200,
      5_000,
    );

    // The change feed reconnected: a revocation through one gateway reaches the other within a second.
    const feed = other.app.get(ChangeFeed);
    await waitFor('the other gateway listens again', () => Promise.resolve(feed.listening), 10_000);
    const revoke = await jsonApi(gateway.url, asAdmin)('DELETE', `/admin/api-keys/${revokedByApi.id}`);
    expect(revoke.status).toBe(200);
    const seenIn = await waitFor(
      'the revocation reaches the other gateway',
      async () => (await keyWorks(other.url, revokedByApi.key)) === 401,
      1_000,
    );
    expect(seenIn).toBeLessThan(1_000);

    // Changes nobody announced (no trigger fires under session_replication_role = replica), then the listening
    // connection drops: the reconnect's full reload finds them (keys re-read, config cache dropped), without waiting
    // for the periodic re-read or the cache's expiry.
    const temperatureOnOther = async (): Promise<unknown> => {
      const before = sim.received().length;
      const res = await fetch(`${other.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...key, 'content-type': 'application/json' },
        body: JSON.stringify({ llm_config_id: config.id, messages: [{ role: 'user', content: 't?' }], max_tokens: 4 }),
      });
      await res.arrayBuffer();
      return (sim.received()[before]?.body as { temperature?: unknown } | undefined)?.temperature;
    };
    // What the other gateway now holds in its cache (the PATCH above set it).
    const cached = await temperatureOnOther();
    expect(cached).toBe(0.5);
    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    try {
      await sql.query('SET session_replication_role = replica');
      await sql.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [revokedBySql.id]);
      await sql.query('UPDATE llm_configs SET temperature = 0.7 WHERE id = $1', [config.id]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await keyWorks(other.url, revokedBySql.key)).toBe(200);
      expect(await temperatureOnOther()).toBe(cached);
      await sql.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'llm-gateway-listener'`,
      );
    } finally {
      await sql.end();
    }
    await waitFor(
      'the reload after the reconnect',
      async () => (await keyWorks(other.url, revokedBySql.key)) === 401,
      3_000,
    );
    expect(await temperatureOnOther()).toBe(0.7);
  });
});
