import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { ApiKeyService } from '../../src/auth/api-key.service.js';
import { adminApi, bearer, type ErrorBody, type JsonApi } from '../factories/api.js';
import { countQueries } from '../helpers/query-count.js';
import { endBody, type RawResponse, send, waitFor } from '../helpers/relay.js';
import { type Stack, startStack } from '../helpers/stack.js';

const STATIC_KEY = 'static-key-limits-3b9d';
const ADMIN_PASSWORD = 'admin-password-limits-e2e';
const CHAT = JSON.stringify({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
/**
 * 60 tokens at the simulator's 100 ms each: a 6 s stream holds its slot while the test looks, and outlasts `waitFor`'s
 * 5 s, so a slot freed by a stream's end is not mistaken for one freed by an abort.
 */
const SLOW_STREAM = JSON.stringify({
  model: 'sim-model',
  messages: [{ role: 'user', content: 'tell me a story' }],
  stream: true,
  max_tokens: 60,
});

interface HeldStream {
  req: ClientRequest;
  /** The response, once its headers arrived; its body keeps flowing until the stream ends. */
  response: Promise<IncomingMessage>;
  /** Resolves when the whole body has arrived (or the client hung up). */
  ended: Promise<void>;
  isOver(): boolean;
}

/** Starts a streamed chat request and hands it back live, through the fast lane or (`chunked`) Express. */
function hold(url: string, key: string, chunked: boolean): HeldStream {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...bearer(key) };
  if (!chunked) headers['content-length'] = String(Buffer.byteLength(SLOW_STREAM));
  const req = request(`${url}/v1/chat/completions`, { method: 'POST', headers });
  let over = false;
  let ended!: () => void;
  const endedPromise = new Promise<void>((resolve) => (ended = resolve)).then(() => {
    over = true;
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('error', (err) => {
      ended();
      // Our own hang-up surfaces as "socket hang up" on the request: expected.
      if (!req.destroyed) reject(err);
    });
    req.on('response', (res) => {
      res.on('error', () => undefined);
      res.on('close', ended);
      res.resume();
      resolve(res);
    });
  });
  response.catch(() => undefined);
  endBody(req, Buffer.from(SLOW_STREAM), chunked);
  return { req, response, ended: endedPromise, isOver: () => over };
}

function expectRateLimited(res: RawResponse, message: string): number {
  expect(res.status).toBe(429);
  expect(JSON.parse(res.body) as ErrorBody).toEqual({
    error: {
      message: expect.stringContaining(message),
      type: 'rate_limit_error',
      param: null,
      code: 'rate_limit_exceeded',
    },
  });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  return retryAfter;
}

describe('per-key limits (e2e)', () => {
  let stack: Stack;
  let url: string;
  let admin: JsonApi;

  const createKey = async (body: Record<string, unknown>): Promise<{ id: string; key: string }> => {
    const res = await admin<{ id: string; key: string }>('POST', '/admin/api-keys', body);
    if (res.status !== 201) throw new Error(`POST /admin/api-keys: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  /** Requests of `key` the gateway counts as in flight. */
  const active = (key: string): number => stack.gateway.app.get(ApiKeyService).lookup(key).gate?.active ?? -1;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        ENABLE_AUTH: 'true',
        API_KEY: STATIC_KEY,
        API_KEY_RATE_LIMIT_RPM: '2',
        ADMIN_PASSWORD,
        JWT_SECRET: 'e2e-jwt-secret-limits-0123456789abcdef',
        LOG_LEVEL: 'silent',
      },
    });
    url = stack.gateway.url;
    admin = await adminApi(url, ADMIN_PASSWORD);
  });

  afterAll(async () => {
    await stack?.close();
  });

  beforeEach(() => {
    stack.sim.configure({ itlMs: 0, outputMode: 'echo', outputTokens: 16, failure: null });
  });

  it('takes the limits in POST /admin/api-keys, lists them, and refuses bad ones', async () => {
    const made = await createKey({ name: 'limited', rate_limit_rpm: 600, max_concurrent: 4 });
    expect(made).toMatchObject({ rate_limit_rpm: 600, max_concurrent: 4 });
    const plain = await createKey({ name: 'unlimited' });
    expect(plain).toMatchObject({ rate_limit_rpm: null, max_concurrent: null });
    const list = await admin<{ data: { id: string; rate_limit_rpm: number | null; max_concurrent: number | null }[] }>(
      'GET',
      '/admin/api-keys',
    );
    expect(list.body.data.find((row) => row.id === made.id)).toMatchObject({ rate_limit_rpm: 600, max_concurrent: 4 });
    for (const bad of [
      { rate_limit_rpm: 0 },
      { max_concurrent: -1 },
      { max_concurrent: 1.5 },
      { rate_limit_rpm: 'x' },
    ]) {
      const res = await admin<ErrorBody>('POST', '/admin/api-keys', { name: 'bad', ...bad });
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
    }
  });

  it('refuses the third concurrent stream of a max_concurrent: 2 key with 429 + Retry-After, serves other keys, and frees the slots as streams end or abort', async () => {
    const limited = await createKey({ name: 'two at once', max_concurrent: 2 });
    const other = await createKey({ name: 'someone else' });
    stack.sim.configure({ itlMs: 100, outputMode: 'fixed', outputTokens: 60 });

    // One stream on each path: both must take a slot and give it back.
    const first = hold(url, limited.key, false);
    const second = hold(url, limited.key, true);
    expect((await first.response).statusCode).toBe(200);
    expect((await second.response).statusCode).toBe(200);
    expect(active(limited.key)).toBe(2);

    for (const chunked of [false, true]) {
      const third = await send(url, '/v1/chat/completions', SLOW_STREAM, { chunked, headers: bearer(limited.key) });
      expect(expectRateLimited(third, 'concurrent requests')).toBe(1);
    }
    const served = await send(url, '/v1/chat/completions', CHAT, { headers: bearer(other.key) });
    expect(served.status).toBe(200);

    // A client that hangs up mid-stream gives its slot back.
    first.req.destroy();
    await waitFor(() => active(limited.key) === 1, 'the aborted stream to release its slot');
    expect(second.isOver()).toBe(false);
    const again = hold(url, limited.key, false);
    expect((await again.response).statusCode).toBe(200);
    await Promise.all([second.ended, again.ended]);
    await waitFor(() => active(limited.key) === 0, 'the finished streams to release their slots');

    // A request that fails upstream gives its slot back too.
    stack.sim.configure({ itlMs: 0, failure: { kind: 'error_before_stream', status: 500 } });
    const failed = await send(url, '/v1/chat/completions', CHAT, { headers: bearer(limited.key) });
    expect(failed.status).toBe(500);
    await waitFor(() => active(limited.key) === 0, 'the failed request to release its slot');
    stack.sim.configure({ failure: null });

    // Nothing leaked: two at once are served again.
    const [a, b] = await Promise.all([
      send(url, '/v1/chat/completions', SLOW_STREAM, { headers: bearer(limited.key) }),
      send(url, '/v1/chat/completions', SLOW_STREAM, { chunked: true, headers: bearer(limited.key) }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await waitFor(() => active(limited.key) === 0, 'the last streams to release their slots');
  });

  it('refuses the 4th request in a minute of a rate_limit_rpm: 3 key with a Retry-After of about 20 s, on both paths', async () => {
    const limited = await createKey({ name: 'three a minute', rate_limit_rpm: 3 });
    const other = await createKey({ name: 'unaffected' });
    for (let i = 0; i < 3; i++) {
      expect((await send(url, '/v1/chat/completions', CHAT, { headers: bearer(limited.key) })).status).toBe(200);
    }
    for (const chunked of [false, true]) {
      const res = await send(url, '/v1/chat/completions', CHAT, { chunked, headers: bearer(limited.key) });
      const retryAfter = expectRateLimited(res, '3 requests per minute');
      // One request every 20 s refills the bucket; the test's own seconds have already run off it.
      expect(retryAfter).toBeGreaterThanOrEqual(15);
      expect(retryAfter).toBeLessThanOrEqual(20);
    }
    // Any /v1 route counts, not only chat.
    const models = await fetch(`${url}/v1/models`, { headers: bearer(limited.key) });
    expect(models.status).toBe(429);
    expect(Number(models.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await send(url, '/v1/chat/completions', CHAT, { headers: bearer(other.key) })).status).toBe(200);
  });

  it('applies API_KEY_RATE_LIMIT_RPM to a static key', async () => {
    for (let i = 0; i < 2; i++) {
      expect((await send(url, '/v1/chat/completions', CHAT, { headers: bearer(STATIC_KEY) })).status).toBe(200);
    }
    const res = await send(url, '/v1/chat/completions', CHAT, { headers: bearer(STATIC_KEY) });
    expect(expectRateLimited(res, '2 requests per minute')).toBeGreaterThanOrEqual(25);
  });

  it('admits and refuses without a database query', async () => {
    // The new row's NOTIFY comes back to this process too, which re-reads the keys: wait for that before counting.
    const reload = jest.spyOn(stack.gateway.app.get(ApiKeyService), 'reload');
    const limited = await createKey({ name: 'counted', rate_limit_rpm: 5, max_concurrent: 3 });
    await waitFor(() => reload.mock.calls.length > 0, 'the gateway to hear of its own new key');
    await reload.mock.results[0]?.value;
    reload.mockRestore();
    const { result, queries } = await countQueries(stack.gateway, async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const chunked = i % 2 === 1;
        statuses.push(
          (await send(url, '/v1/chat/completions', CHAT, { chunked, headers: bearer(limited.key) })).status,
        );
      }
      return statuses;
    });
    expect(result).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(queries).toBe(0);
  });
});
