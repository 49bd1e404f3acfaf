import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { VllmService } from '../../src/vllm/vllm.service.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { open, post, waitFor } from '../helpers/relay.js';

const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'tell me a long story' }];

/**
 * A client that goes away must stop vLLM's work (its KV cache and GPU time): the simulator's abort counter is the
 * proof, in the three windows where peers leak (LiteLLM #37140, production-stack #634).
 */
describe('client disconnect aborts the upstream request', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  let vllm: VllmService;

  beforeAll(async () => {
    // Long generations: the client always hangs up long before vLLM would finish.
    sim = await startSimulator({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 20 });
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
    vllm = gateway.app.get(VllmService);
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => {
    sim.configure({ ttftMs: 0, failure: null });
    sim.resetStats();
  });

  const gatewayInFlight = (): number => vllm.pool.upstreams.reduce((n, u) => n + u.inFlight, 0);

  async function expectAbortedAndStillServing(): Promise<void> {
    await waitFor(() => sim.counters().aborted === 1, 'the simulator to count the abort');
    await waitFor(() => sim.counters().inFlight === 0 && gatewayInFlight() === 0, 'all in-flight work to be released');
    expect(sim.counters().completed).toBe(0);
    // The gateway keeps serving after the disconnect.
    sim.configure({ outputMode: 'echo', ttftMs: 0, failure: null });
    try {
      const res = await post(gateway.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'ping' }] });
      expect(res.status).toBe(200);
      expect(
        (JSON.parse(res.body) as { choices: { message: { content: string } }[] }).choices[0]?.message.content,
      ).toBe('ping');
    } finally {
      sim.configure({ outputMode: 'fixed' });
    }
  }

  it('mid-stream', async () => {
    const call = open(gateway.url, '/v1/chat/completions', { messages, stream: true });
    const res = await call.response;
    expect(res.statusCode).toBe(200);
    await waitFor(() => call.received().split('\n\n').length > 3, 'a few events to arrive');
    call.req.destroy();
    await expectAbortedAndStillServing();
  });

  it('non-streamed, while vLLM is generating', async () => {
    const call = open(gateway.url, '/v1/chat/completions', { messages });
    await waitFor(() => sim.counters().inFlight === 1, 'vLLM to start generating');
    call.req.destroy();
    await expectAbortedAndStillServing();
  });

  it('streamed, before the first token', async () => {
    sim.configure({ ttftMs: 60_000 });
    const call = open(gateway.url, '/v1/chat/completions', { messages, stream: true });
    const res = await call.response;
    // The headers are out (vLLM accepted the request) but no event yet.
    expect(res.statusCode).toBe(200);
    expect(call.received()).toBe('');
    call.req.destroy();
    await expectAbortedAndStillServing();
  });

  it('non-streamed, before the first token', async () => {
    sim.configure({ ttftMs: 60_000 });
    const call = open(gateway.url, '/v1/chat/completions', { messages });
    await waitFor(() => sim.counters().inFlight === 1, 'vLLM to accept the request');
    call.req.destroy();
    await expectAbortedAndStillServing();
  });

  it('when the openai SDK aborts a stream', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'sim-model', messages, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    for await (const _chunk of stream) {
      if (++chunks === 3) controller.abort();
    }
    expect(chunks).toBe(3);
    await expectAbortedAndStillServing();
  });

  it('a hanging upstream is released when the client leaves', async () => {
    sim.configure({ failure: { kind: 'hang' } });
    const call = open(gateway.url, '/v1/chat/completions', { messages, stream: true });
    await waitFor(() => sim.counters().inFlight === 1, 'vLLM to accept the request');
    call.req.destroy();
    await waitFor(() => sim.counters().aborted === 1, 'the simulator to count the abort');
    await waitFor(() => gatewayInFlight() === 0, 'the gateway to release the upstream');
  });
});
