import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { upstreamRequestId } from '../../src/vllm/vllm.service.js';
import { get, open, post, sseData, waitFor, withoutCreated } from '../helpers/relay.js';

/** vLLM's other OpenAI routes go through the same relay: same passthrough, errors, cancellation. */
describe('POST /v1/completions, POST /v1/embeddings, GET /v1/models', () => {
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => {
    sim.configure({ outputMode: 'echo', itlMs: 0, outputTokens: 16 });
    sim.resetStats();
  });

  describe('/v1/completions', () => {
    it('relays JSON and SSE byte for byte', async () => {
      for (const stream of [false, true]) {
        const body = { model: 'sim-model', prompt: 'once upon a time', max_tokens: 8, stream, top_k: 3 };
        const id = `cmpl-test-${Date.now()}-${stream}`;
        const upstream = await post(sim.url, '/v1/completions', body, { 'x-request-id': upstreamRequestId(id) });
        const relayed = await post(gateway.url, '/v1/completions', body, { 'x-request-id': id });
        expect(relayed.status).toBe(200);
        expect(withoutCreated(relayed.body)).toBe(withoutCreated(upstream.body));
        expect(relayed.headers['content-type']).toBe(upstream.headers['content-type']);
        expect(sim.received().at(-1)?.body).toEqual(body);
      }
    });

    it('works with the openai SDK', async () => {
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'k', maxRetries: 0 });
      const completion = await client.completions.create({ model: 'sim-model', prompt: 'alpha beta', max_tokens: 4 });
      expect(completion.choices[0]?.text).toBe('alpha beta');
      let text = '';
      const stream = await client.completions.create({ model: 'sim-model', prompt: 'gamma delta', stream: true });
      for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
      expect(text).toBe('gamma delta');
    });

    it('keeps vLLM’s errors', async () => {
      const res = await post(gateway.url, '/v1/completions', { model: 'nope', prompt: 'x' });
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'NotFoundError', param: 'model', code: 404 } });
      const bad = await post(gateway.url, '/v1/completions', { prompt: 'x', stream: 'no' });
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body)).toMatchObject({ error: { param: 'stream', code: 'bad_request' } });
    });

    it('aborts the upstream when the client leaves mid-stream', async () => {
      sim.configure({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 20 });
      const call = open(gateway.url, '/v1/completions', { prompt: 'x', max_tokens: 2_000, stream: true });
      await call.response;
      await waitFor(() => sseData(call.received()).length > 2, 'a few events');
      call.req.destroy();
      await waitFor(() => sim.counters().aborted === 1 && sim.counters().inFlight === 0, 'vLLM to see the abort');
    });
  });

  describe('/v1/embeddings', () => {
    it('relays vLLM’s answer byte for byte', async () => {
      const body = { model: 'sim-model', input: ['first text', 'second text'], encoding_format: 'float' };
      const id = `embd-test-${Date.now()}`;
      const upstream = await post(sim.url, '/v1/embeddings', body, { 'x-request-id': upstreamRequestId(id) });
      const relayed = await post(gateway.url, '/v1/embeddings', body, { 'x-request-id': id });
      expect(relayed.status).toBe(200);
      expect(withoutCreated(relayed.body)).toBe(withoutCreated(upstream.body));
      expect(relayed.headers['x-gateway-overhead-ms']).toMatch(/^\d+(\.\d+)?$/);
    });

    it('works with the openai SDK, and keeps vLLM’s errors', async () => {
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'k', maxRetries: 0 });
      const result = await client.embeddings.create({ model: 'sim-model', input: 'hello' });
      expect(result.data[0]?.embedding).toHaveLength(8);
      const res = await post(gateway.url, '/v1/embeddings', { model: 'sim-model' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'Bad Request', code: 400 } });
    });
  });

  describe('/v1/models', () => {
    it('lists vLLM’s model cards', async () => {
      const res = await get(gateway.url, '/v1/models');
      expect(res.status).toBe(200);
      const direct = JSON.parse((await get(sim.url, '/v1/models')).body) as { data: Record<string, unknown>[] };
      const list = JSON.parse(res.body) as { object: string; data: Record<string, unknown>[] };
      expect(list.object).toBe('list');
      expect(list.data.map((m) => m['id'])).toEqual(['sim-model']);
      expect(Object.keys(list.data[0] ?? {})).toEqual(Object.keys(direct.data[0] ?? {}));
    });

    it('is served from a short cache: vLLM is not asked on every call', async () => {
      await get(gateway.url, '/v1/models');
      sim.resetStats();
      for (let i = 0; i < 5; i++) expect((await get(gateway.url, '/v1/models')).status).toBe(200);
      expect(sim.received().filter((r) => r.path === '/v1/models')).toHaveLength(0);
    });
  });
});
