import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import type { ErrorBody } from '../factories/api.js';
import { VllmService } from '../../src/vllm/vllm.service.js';
import { get, post, sseData, waitFor } from '../helpers/relay.js';

const messages = [{ role: 'user', content: 'one two three four five six' }];

const errorOf = (body: string): ErrorBody['error'] => (JSON.parse(body) as ErrorBody).error;

/** The stream's last two frames: the error event the gateway (or vLLM) wrote, then [DONE]. */
function finalError(body: string): ErrorBody['error'] {
  const data = sseData(body);
  expect(data.at(-1)).toBe('[DONE]');
  return (JSON.parse(data.at(-2) ?? '') as ErrorBody).error;
}

describe('upstream failures and timeouts', () => {
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({
      VLLM_BASE_URL: sim.url,
      VLLM_FIRST_BYTE_TIMEOUT_MS: '300',
      VLLM_IDLE_TIMEOUT_MS: '300',
    });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => {
    sim.configure({ failure: null, ttftMs: 0, itlMs: 0, outputMode: 'echo' });
    sim.resetStats();
  });

  describe('before the headers: the status and message are vLLM’s', () => {
    it('500 from vLLM', async () => {
      sim.configure({ failure: { kind: 'error_before_stream', status: 500 } });
      for (const stream of [false, true]) {
        const res = await post(gateway.url, '/v1/chat/completions', { messages, stream });
        expect(res.status).toBe(500);
        expect(errorOf(res.body)).toEqual({
          message: 'Internal server error',
          type: 'InternalServerError',
          param: null,
          code: 500,
        });
      }
    });

    it('the legacy flat error shape', async () => {
      sim.configure({
        failure: { kind: 'error_before_stream', status: 400, message: 'legacy says no', legacyShape: true },
      });
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(400);
      expect(errorOf(res.body)).toEqual({ message: 'legacy says no', type: 'BadRequestError', param: null, code: 400 });
    });

    it('503 from vLLM keeps its status', async () => {
      sim.configure({ failure: { kind: 'error_before_stream', status: 503 } });
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(503);
      expect(errorOf(res.body).message).toBe('The server is overloaded or not ready yet.');
    });
  });

  describe('dropped connections', () => {
    it('502 when vLLM drops the connection before answering', async () => {
      sim.configure({ failure: { kind: 'drop_connection', afterTokens: 0 } });
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(502);
      expect(errorOf(res.body)).toMatchObject({ type: 'server_error', code: 'bad_gateway', param: null });
    });

    it('502 when vLLM drops a non-streamed request while generating', async () => {
      sim.configure({ failure: { kind: 'drop_connection', afterTokens: 3 }, itlMs: 5 });
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(502);
      expect(errorOf(res.body).code).toBe('bad_gateway');
    });

    it('a final error event then [DONE] when a stream breaks after the headers', async () => {
      sim.configure({ failure: { kind: 'drop_connection', afterTokens: 3 }, itlMs: 5 });
      const res = await post(gateway.url, '/v1/chat/completions', { messages, stream: true });
      expect(res.status).toBe(200);
      const data = sseData(res.body);
      // The role chunk and the three tokens vLLM sent before dropping all reached the client.
      expect(data.filter((d) => d.startsWith('{"id"'))).toHaveLength(4);
      expect(finalError(res.body)).toMatchObject({ type: 'server_error', code: 'bad_gateway' });
    });
  });

  describe('timeouts', () => {
    it('504 when vLLM accepts the request and never answers', async () => {
      sim.configure({ failure: { kind: 'hang' } });
      for (const stream of [false, true]) {
        const res = await post(gateway.url, '/v1/chat/completions', { messages, stream });
        expect(res.status).toBe(504);
        expect(errorOf(res.body)).toMatchObject({ type: 'server_error', code: 'gateway_timeout' });
      }
      // Giving up closes the upstream request: vLLM stops the work.
      await waitFor(() => sim.counters().aborted === 2 && sim.counters().inFlight === 0, 'vLLM to see both aborts');
    });

    it('504 when a non-streamed answer takes longer than the first-byte timeout', async () => {
      sim.configure({ ttftMs: 5_000 });
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(504);
      await waitFor(() => sim.counters().aborted === 1, 'vLLM to see the abort');
    });

    it('a final error event when the first token does not come in time after the headers', async () => {
      sim.configure({ ttftMs: 5_000 });
      const res = await post(gateway.url, '/v1/chat/completions', { messages, stream: true });
      expect(res.status).toBe(200);
      expect(sseData(res.body)).toHaveLength(2);
      expect(finalError(res.body)).toMatchObject({ type: 'server_error', code: 'gateway_timeout' });
      await waitFor(() => sim.counters().aborted === 1, 'vLLM to see the abort');
    });

    it('a final error event when the stream stalls between events', async () => {
      sim.configure({ itlMs: 5_000 });
      const res = await post(gateway.url, '/v1/chat/completions', { messages, stream: true });
      expect(res.status).toBe(200);
      const data = sseData(res.body);
      expect(data.filter((d) => d.startsWith('{"id"')).length).toBeGreaterThan(0);
      expect(finalError(res.body).message).toMatch(/sent nothing for 300 ms/);
      await waitFor(() => sim.counters().aborted === 1, 'vLLM to see the abort');
    });

    it('long streams live on: no total timeout, only the gaps count', async () => {
      // Every gap is well under the idle timeout, the whole stream well over it.
      sim.configure({ itlMs: 30, outputMode: 'fixed', outputTokens: 25 });
      const res = await post(gateway.url, '/v1/chat/completions', { messages, stream: true });
      const data = sseData(res.body);
      expect(data.at(-1)).toBe('[DONE]');
      expect(data.some((d) => d.includes('"error"'))).toBe(false);
      expect(sim.counters().completed).toBe(1);
    });
  });
});

describe('upstream authentication', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ apiKey: 'vllm-secret' });
  });

  afterAll(async () => {
    await sim?.close();
  });

  it('sends VLLM_API_KEY as a Bearer token, never the client’s', async () => {
    const gateway = await startGateway({ VLLM_BASE_URL: sim.url, VLLM_API_KEY: 'vllm-secret' });
    try {
      const res = await post(gateway.url, '/v1/chat/completions', { messages }, { authorization: 'Bearer mine' });
      expect(res.status).toBe(200);
      expect(sim.received().at(-1)?.headers['authorization']).toBe('Bearer vllm-secret');
      expect((await get(gateway.url, '/v1/models')).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it('answers 502 when vLLM refuses the gateway’s key (a client key is not at fault), and counts it', async () => {
    const gateway = await startGateway({ VLLM_BASE_URL: sim.url });
    try {
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(502);
      expect(errorOf(res.body)).toMatchObject({ type: 'server_error', code: 'bad_gateway' });
      expect(errorOf(res.body).message).toContain('VLLM_API_KEY');
      const vllm = gateway.app.get(VllmService);
      expect(vllm.pool.upstreams[0]?.consecutiveFailures).toBeGreaterThan(0);
    } finally {
      await gateway.close();
    }
  });
});

describe('every upstream down', () => {
  it('503, streamed or not, and for /v1/models', async () => {
    const sim = await startSimulator();
    const url = sim.url;
    await sim.close();
    const gateway = await startGateway({ VLLM_BASE_URL: url });
    try {
      for (const stream of [false, true]) {
        const res = await post(gateway.url, '/v1/chat/completions', { messages, stream });
        expect(res.status).toBe(503);
        expect(errorOf(res.body)).toEqual({
          message: 'No vLLM upstream could be reached (ECONNREFUSED)',
          type: 'server_error',
          param: null,
          code: 'service_unavailable',
        });
      }
      expect((await get(gateway.url, '/v1/models')).status).toBe(503);
    } finally {
      await gateway.close();
    }
  });
});
