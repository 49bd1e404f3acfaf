import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { startGateway } from '../helpers/gateway.js';
import { parseMetrics, type Sample, valueOf } from '../helpers/prometheus.js';
import { get, open, post, send, waitFor } from '../helpers/relay.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CHAT = '/v1/chat/completions';
const messages = [{ role: 'user', content: 'count the sheep' }];
const UUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/**
 * /metrics after real traffic, on both request paths: each series moves with the labels it should have, and no
 * label carries an id, a key or a raw path.
 */
describe('/metrics', () => {
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    stack = await startStack({ simulator: { outputMode: 'fixed', outputTokens: 8 } });
    url = stack.gateway.url;
  });

  afterAll(async () => {
    await stack?.close();
  });

  async function scrape(): Promise<Sample[]> {
    const res = await get(url, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseMetrics(res.body);
  }

  const count = (samples: Sample[], name: string, labels: Record<string, string>): number =>
    valueOf(samples, `${name}_count`, labels);

  it('moves every series with fixed labels after plain, streamed, aborted, failed and unrouted traffic', async () => {
    const before = await scrape();
    const okChat = { http_request_method: 'POST', http_route: CHAT, http_response_status_code: '200' };
    const ok = { gen_ai_request_model: 'sim-model', outcome: 'ok' };

    // Plain, on the fast lane and on Express (chunked); then streamed with usage.
    expect((await post(url, CHAT, { model: 'sim-model', messages })).status).toBe(200);
    expect((await send(url, CHAT, JSON.stringify({ model: 'sim-model', messages }), { chunked: true })).status).toBe(
      200,
    );
    const streamed = await post(url, CHAT, { model: 'sim-model', messages, stream: true });
    expect(streamed.body).toContain('data: [DONE]');
    // A model the upstreams do not serve is "other", never the client's string.
    await post(url, CHAT, { model: `client-${randomUUID()}`, messages });
    // 404s: one on a route template (its id stays out of the labels), one on no route at all.
    const missingId = randomUUID();
    expect((await get(url, `/v1/conversations/${missingId}`)).status).toBe(404);
    expect((await get(url, `/no/such/${missingId}`)).status).toBe(404);

    // An upstream error before the stream.
    stack.sim.configure({ failure: 'error_before_stream:500' } as never);
    expect((await post(url, CHAT, { model: 'sim-model', messages })).status).toBe(500);
    stack.sim.configure({ failure: null, outputTokens: 2_000, itlMs: 10 });

    // A stream the client leaves: in flight while open, aborted afterwards.
    const call = open(url, CHAT, { model: 'sim-model', messages, stream: true });
    await call.response;
    await waitFor(() => call.received().split('\n\n').length > 4, 'a few events');
    const during = await scrape();
    expect(valueOf(during, 'gateway_streams_in_flight')).toBe(1);
    expect(valueOf(during, 'gateway_upstream_in_flight_requests', { upstream: stack.sim.url })).toBe(1);
    call.req.destroy();

    let after: Sample[] = [];
    const deadline = Date.now() + 5_000;
    do {
      after = await scrape();
    } while (
      count(after, 'gen_ai_server_request_duration_seconds', { ...ok, outcome: 'aborted' }) === 0 &&
      Date.now() < deadline
    );
    stack.sim.configure({ outputTokens: 8, itlMs: 0 });
    const delta = (name: string, labels: Record<string, string>): number =>
      count(after, name, labels) - count(before, name, labels);

    expect(delta('http_server_request_duration_seconds', okChat)).toBe(4);
    expect(
      delta('http_server_request_duration_seconds', {
        http_request_method: 'GET',
        http_route: '/v1/conversations/:id',
        http_response_status_code: '404',
      }),
    ).toBe(1);
    expect(
      delta('http_server_request_duration_seconds', {
        http_request_method: 'GET',
        http_route: 'unmatched',
        http_response_status_code: '404',
      }),
    ).toBe(1);
    expect(delta('http_server_request_duration_seconds', { http_route: CHAT, http_response_status_code: '500' })).toBe(
      1,
    );

    expect(delta('gen_ai_server_request_duration_seconds', ok)).toBe(3);
    expect(delta('gen_ai_server_request_duration_seconds', { ...ok, outcome: 'error' })).toBe(1);
    expect(delta('gen_ai_server_request_duration_seconds', { ...ok, outcome: 'aborted' })).toBe(1);
    expect(delta('gen_ai_server_request_duration_seconds', { gen_ai_request_model: 'other' })).toBe(1);
    expect(delta('gen_ai_server_time_to_first_token_seconds', ok)).toBe(1);
    expect(delta('gen_ai_server_time_to_first_token_seconds', { ...ok, outcome: 'aborted' })).toBe(1);
    expect(delta('gen_ai_server_time_per_output_token_seconds', ok)).toBe(1);
    const tokens = (type: string): number =>
      valueOf(after, 'gen_ai_client_token_usage_sum', { gen_ai_request_model: 'sim-model', gen_ai_token_type: type }) -
      valueOf(before, 'gen_ai_client_token_usage_sum', { gen_ai_request_model: 'sim-model', gen_ai_token_type: type });
    // 8 per completed answer (three of them), plus the aborted stream's relayed tokens.
    expect(tokens('output')).toBeGreaterThan(3 * 8);
    expect(tokens('input')).toBeGreaterThan(0);
    expect(delta('gateway_overhead_seconds', { http_route: CHAT })).toBe(4);
    expect(delta('gateway_relay_time_per_event_seconds', { http_route: CHAT })).toBe(2);
    expect(valueOf(after, 'gateway_streams_in_flight')).toBe(0);
    expect(valueOf(after, 'gateway_upstream_healthy', { upstream: stack.sim.url })).toBe(1);
    expect(valueOf(after, 'gateway_upstream_in_flight_requests', { upstream: stack.sim.url })).toBe(0);
    expect(
      after.some((s) => s.name === 'gateway_usage_rows_dropped_total' && s.labels['reason'] === 'queue_full'),
    ).toBe(true);

    // No id, key or raw path in any label value.
    for (const sample of after) {
      for (const value of Object.values(sample.labels)) {
        expect(value).not.toMatch(UUID_RE);
        expect(value).not.toMatch(/^\/no\//);
        expect(value).not.toMatch(/^client-/);
      }
    }
  });

  it('is not request-logged', async () => {
    await scrape();
    await stack.gateway.close();
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(stack.logFile, 'utf8')).not.toContain('"path":"/metrics"');
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  it('requires the token as a Bearer credential, and nothing else', async () => {
    const stack = await startStack({
      env: { METRICS_TOKEN: 'scrape-secret-1234', ENABLE_AUTH: 'true', API_KEY: 'client-key-for-metrics' },
    });
    try {
      const url = stack.gateway.url;
      const none = await get(url, '/metrics');
      expect(none.status).toBe(401);
      expect(JSON.parse(none.body)).toMatchObject({ error: { type: expect.any(String), code: expect.anything() } });
      const wrong = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-secret-1235' } });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-secret-1234' } });
      expect(right.status).toBe(200);
      const body = await right.text();
      expect(body).toContain('http_server_request_duration_seconds');
      // The client key is no metrics token.
      const clientKey = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer client-key-for-metrics' } });
      expect(clientKey.status).toBe(401);

      // A chat request refused for want of a key: the fast lane and Express label it alike, with its route.
      const refused = { http_request_method: 'POST', http_route: CHAT, http_response_status_code: '401' };
      const scrape = async (): Promise<Sample[]> =>
        parseMetrics(
          await (await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer scrape-secret-1234' } })).text(),
        );
      const before = valueOf(await scrape(), 'http_server_request_duration_seconds_count', refused);
      expect((await post(url, CHAT, { messages })).status).toBe(401);
      const afterLane = valueOf(await scrape(), 'http_server_request_duration_seconds_count', refused);
      expect(afterLane - before).toBe(1);
      expect((await send(url, CHAT, JSON.stringify({ messages }), { chunked: true })).status).toBe(401);
      expect(valueOf(await scrape(), 'http_server_request_duration_seconds_count', refused) - afterLane).toBe(1);
    } finally {
      await stack.close();
    }
  });

  it('leaves /metrics public when unset', async () => {
    const gateway = await startGateway({ VLLM_BASE_URL: 'http://127.0.0.1:9' });
    try {
      expect((await fetch(`${gateway.url}/metrics`)).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});
