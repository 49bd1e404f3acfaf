// Output modes, limits, cancellation accounting, fault injection, queueing and metrics, over real HTTP.

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startSimulator, type Simulator } from './simulator.js';
import { get, json, metricValue, pollUntil, post, send, sseEvents, type Exchange } from './test-client.js';

const CHAT = '/v1/chat/completions';

interface ChatBody {
  id: string;
  choices: { message: { content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}
interface Chunk {
  choices: { delta: { content?: string }; finish_reason: string | null }[];
}

function user(content: string): { messages: { role: string; content: string }[] } {
  return { messages: [{ role: 'user', content }] };
}

async function chat(
  sim: Simulator,
  body: Record<string, unknown>,
  headers?: Record<string, string>,
): Promise<ChatBody> {
  const ex = await post(sim.url, CHAT, body, headers);
  expect(ex.status).toBe(200);
  return json<ChatBody>(ex);
}

/** Content chunks (role chunk excluded) of a streamed chat body. */
function contentChunks(ex: Exchange): Chunk[] {
  return sseEvents(ex.body)
    .filter((e) => e !== '[DONE]')
    .map((e) => JSON.parse(e) as Chunk & { error?: unknown })
    .filter((c) => c.error === undefined && c.choices.length === 1 && c.choices[0]!.delta.content !== '');
}

describe('output modes and limits', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => {
    await sim.close();
  });
  afterEach(() => {
    sim.configure({ outputMode: 'echo', outputTokens: 16, seed: 1, maxModelLen: 4096 });
  });

  it('echo returns the last user message, token by token', async () => {
    const body = await chat(sim, {
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer' },
        { role: 'user', content: [{ type: 'text', text: 'Second question, please!' }] },
      ],
    });
    expect(body.choices[0]!.message.content).toBe('Second question, please!');
    expect(body.usage.completion_tokens).toBe(5);
    expect(body.choices[0]!.finish_reason).toBe('stop');
  });

  it('fixed returns the same outputTokens-long text every time', async () => {
    sim.configure({ outputMode: 'fixed', outputTokens: 5 });
    const a = await chat(sim, user('anything'));
    const b = await chat(sim, user('something else'));
    expect(a.choices[0]!.message.content).toBe('The quick brown fox jumps');
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(a.usage.completion_tokens).toBe(5);
  });

  it('random is deterministic for a seed and prompt, and changes with the seed', async () => {
    sim.configure({ outputMode: 'random', outputTokens: 20, seed: 7 });
    const a = await chat(sim, user('tell me a story'));
    const b = await chat(sim, user('tell me a story'));
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(a.usage.completion_tokens).toBeGreaterThanOrEqual(10);
    expect(a.usage.completion_tokens).toBeLessThanOrEqual(30);
    sim.configure({ seed: 8 });
    const c = await chat(sim, user('tell me a story'));
    expect(c.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
  });

  it.each(['max_tokens', 'max_completion_tokens'])('%s cuts the output with finish_reason length', async (field) => {
    const body = await chat(sim, { ...user('one two three four five six'), [field]: 3 });
    expect(body.choices[0]!.message.content).toBe('one two three');
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(3);
  });

  it('the remaining context limits output when max_tokens is absent', async () => {
    sim.configure({ outputMode: 'fixed', outputTokens: 100, maxModelLen: 20 });
    const body = await chat(sim, user('hi'));
    // 'hi' = 1 token + 5 template tokens + 3 for the generation prompt.
    expect(body.usage.prompt_tokens).toBe(9);
    expect(body.usage.completion_tokens).toBe(11);
    expect(body.choices[0]!.finish_reason).toBe('length');
  });

  it('streams finish_reason length on the last token when cut', async () => {
    const ex = await post(sim.url, CHAT, { ...user('a b c d e'), max_tokens: 2, stream: true });
    const chunks = contentChunks(ex);
    expect(chunks.map((c) => c.choices[0]!.finish_reason)).toEqual([null, 'length']);
  });

  it('/tokenize on messages counts exactly usage.prompt_tokens', async () => {
    const request = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is 2+2? Answer  with\n one word.' },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f' } }] },
        { role: 'tool', content: 'ok', tool_call_id: 't1' },
        { role: 'user', content: [{ type: 'text', text: 'Thanks — and 3+3?' }] },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
    };
    const tok = json<{ count: number }>(await post(sim.url, '/tokenize', request));
    const body = await chat(sim, request);
    expect(tok.count).toBe(body.usage.prompt_tokens);
    const completion = json<{ count: number }>(await post(sim.url, '/tokenize', { prompt: 'Hello there' }));
    const comp = json<ChatBody>(await post(sim.url, '/v1/completions', { prompt: 'Hello there' }));
    expect(completion.count).toBe(comp.usage.prompt_tokens);
  });
});

describe('cancellation accounting', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ outputMode: 'fixed', outputTokens: 1000 });
  });
  afterAll(async () => {
    await sim.close();
  });

  async function expectOneAbort(): Promise<void> {
    await pollUntil(() => sim.counters().aborted === 1 && sim.counters().inFlight === 0, 'abort to be counted');
    expect(sim.counters()).toMatchObject({ inFlight: 0, aborted: 1, completed: 0 });
    const metrics = (await get(sim.url, '/metrics')).body;
    expect(metricValue(metrics, 'vllm:request_success_total', 'finished_reason="abort"')).toBe(1);
    expect(metricValue(metrics, 'vllm:num_requests_running')).toBe(0);
  }

  it('counts a client that disconnects mid-stream', async () => {
    sim.resetStats();
    sim.configure({ ttftMs: 0, itlMs: 20 });
    const pending = send(sim.url, CHAT, { body: { ...user('go'), stream: true } });
    const first = await pending.firstChunk;
    expect(first).toContain('"role":"assistant"');
    pending.req.destroy();
    await expectOneAbort();
  });

  it('counts a client that disconnects before the first token', async () => {
    sim.resetStats();
    sim.configure({ ttftMs: 60_000, itlMs: 0 });
    const pending = send(sim.url, CHAT, { body: { ...user('go'), stream: true } });
    // Headers go out at once, like vLLM; the role chunk waits for the first token.
    expect(await pending.headers).toBe(200);
    expect(sim.counters().inFlight).toBe(1);
    pending.req.destroy();
    await expectOneAbort();
    expect((await pending.done).body).toBe('');
  });

  it('counts a client that disconnects from a non-streaming request', async () => {
    sim.resetStats();
    sim.configure({ ttftMs: 60_000, itlMs: 0 });
    const pending = send(sim.url, CHAT, { body: user('go') });
    await pollUntil(() => sim.counters().inFlight === 1, 'request to be in flight');
    pending.req.destroy();
    await expectOneAbort();
  });

  it('counts normal completions separately and exposes the counters on /sim/stats', async () => {
    sim.resetStats();
    sim.configure({ ttftMs: 0, itlMs: 0, outputTokens: 3 });
    await chat(sim, user('x'));
    await post(sim.url, CHAT, { ...user('x'), stream: true });
    const stats = json<Record<string, number>>(await get(sim.url, '/sim/stats'));
    expect(stats).toEqual({ inFlight: 0, completed: 2, aborted: 0, received: 2 });
    sim.configure({ outputTokens: 1000 });
  });
});

describe('fault injection', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ outputMode: 'fixed', outputTokens: 10 });
  });
  afterAll(async () => {
    await sim.close();
  });
  afterEach(() => {
    sim.configure({ failure: null, ttftMs: 0, itlMs: 0 });
  });

  it('error_mid_stream: N tokens, an error event, then [DONE], without a finish_reason', async () => {
    sim.configure({ failure: { kind: 'error_mid_stream', afterTokens: 3 } });
    const ex = await post(sim.url, CHAT, { ...user('x'), stream: true });
    expect(ex.status).toBe(200);
    const events = sseEvents(ex.body);
    expect(events.slice(-2)).toEqual([
      '{"error":{"message":"Internal server error","type":"InternalServerError","param":null,"code":500}}',
      '[DONE]',
    ]);
    const chunks = contentChunks(ex);
    expect(chunks).toHaveLength(3);
    expect(chunks.every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    expect(sim.counters().inFlight).toBe(0);
  });

  it('error_mid_stream on a non-streaming request is a 500 error body', async () => {
    sim.configure({ failure: { kind: 'error_mid_stream', afterTokens: 3 } });
    const ex = await post(sim.url, CHAT, user('x'));
    expect(ex.status).toBe(500);
    expect(json<unknown>(ex)).toEqual({
      error: { message: 'Internal server error', type: 'InternalServerError', param: null, code: 500 },
    });
  });

  it('drop_connection: the socket dies after N tokens, the body is incomplete', async () => {
    sim.configure({ failure: { kind: 'drop_connection', afterTokens: 2 } });
    const ex = await post(sim.url, CHAT, { ...user('x'), stream: true });
    expect(ex.status).toBe(200);
    expect(ex.complete).toBe(false);
    expect(ex.body).not.toContain('[DONE]');
    expect(contentChunks(ex)).toHaveLength(2);
    expect(sim.counters()).toMatchObject({ inFlight: 0, aborted: 0 });
  });

  it('drop_connection:0 closes the socket before any response', async () => {
    const ex = await post(sim.url, CHAT, user('x'), { 'x-sim-fault': 'drop_connection:0' });
    expect(ex.status).toBeNull();
    expect(ex.error).not.toBeNull();
  });

  it('hang: never answers; the client giving up counts as an abort', async () => {
    sim.resetStats();
    sim.configure({ failure: { kind: 'hang' } });
    const pending = send(sim.url, CHAT, { body: { ...user('x'), stream: true } });
    await pollUntil(() => sim.counters().inFlight === 1, 'request to hang');
    pending.req.destroy();
    await pollUntil(() => sim.counters().aborted === 1 && sim.counters().inFlight === 0, 'abort to be counted');
    expect((await pending.done).status).toBeNull();
  });

  it('error_before_stream: a JSON error with the status instead of a stream', async () => {
    sim.configure({ failure: { kind: 'error_before_stream', status: 503 } });
    const ex = await post(sim.url, CHAT, { ...user('x'), stream: true });
    expect(ex.status).toBe(503);
    expect(ex.headers['content-type']).toBe('application/json');
    expect(json<unknown>(ex)).toEqual({
      error: {
        message: 'The server is overloaded or not ready yet.',
        type: 'ServiceUnavailableError',
        param: null,
        code: 503,
      },
    });
  });

  it('X-Sim-Fault overrides the configured failure per request', async () => {
    sim.configure({ failure: { kind: 'error_before_stream', status: 500 } });
    const ok = await post(sim.url, CHAT, user('x'), { 'x-sim-fault': 'none' });
    expect(ok.status).toBe(200);
    const mid = await post(
      sim.url,
      '/v1/completions',
      { prompt: 'x', stream: true },
      { 'x-sim-fault': 'error_mid_stream:1' },
    );
    expect(sseEvents(mid.body).slice(-2)[0]).toContain('"InternalServerError"');
    const legacy = await post(sim.url, CHAT, user('x'), { 'x-sim-fault': 'error_before_stream:429:legacy' });
    expect(legacy.status).toBe(429);
    expect(json<Record<string, unknown>>(legacy)).toMatchObject({ object: 'error', code: 429, type: 'RateLimitError' });
  });

  it('POST /sim/config changes the failure at runtime and rejects bad values', async () => {
    const set = await post(sim.url, '/sim/config', { failure: 'error_before_stream:502' });
    expect(set.status).toBe(200);
    expect((await post(sim.url, CHAT, user('x'))).status).toBe(502);
    expect((await post(sim.url, '/sim/config', { failure: null })).status).toBe(200);
    expect((await post(sim.url, CHAT, user('x'))).status).toBe(200);
    const bad = await post(sim.url, '/sim/config', { jitter: 2 });
    expect(bad.status).toBe(400);
    expect(() => sim.configure({ port: 1 })).toThrow(/runtime/);
  });
});

describe('scheduling and metrics', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ maxNumSeqs: 1, outputMode: 'fixed', outputTokens: 40 });
  });
  afterAll(async () => {
    await sim.close();
  });

  async function gauge(name: string): Promise<number | undefined> {
    return metricValue((await get(sim.url, '/metrics')).body, name);
  }

  it('queues beyond maxNumSeqs: the second stream starts only after the first finishes', async () => {
    sim.configure({ ttftMs: 30, itlMs: 25 });
    const first = send(sim.url, CHAT, { body: { ...user('a'), stream: true } });
    await first.firstChunk;
    const second = send(sim.url, CHAT, { body: { ...user('b'), stream: true, max_tokens: 2 } });
    await pollUntil(async () => (await gauge('vllm:num_requests_waiting')) === 1, 'second request to queue');
    expect(await gauge('vllm:num_requests_running')).toBe(1);
    const [a, b] = await Promise.all([first.done, second.done]);
    const aDone = a.chunks.find((c) => c.data.includes('[DONE]'));
    expect(aDone).toBeDefined();
    expect(b.chunks[0]!.seq).toBeGreaterThan(aDone!.seq);
    expect(contentChunks(b)).toHaveLength(2);
  });

  it('a queued request starts when the running one is aborted', async () => {
    sim.configure({ ttftMs: 60_000, itlMs: 0 });
    const first = send(sim.url, CHAT, { body: { ...user('a'), stream: true } });
    await pollUntil(async () => (await gauge('vllm:num_requests_running')) === 1, 'first to run');
    sim.configure({ ttftMs: 0 });
    const second = send(sim.url, CHAT, { body: user('b') });
    await pollUntil(async () => (await gauge('vllm:num_requests_waiting')) === 1, 'second to queue');
    first.req.destroy();
    const b = await second.done;
    expect(b.status).toBe(200);
    expect(await gauge('vllm:num_requests_waiting')).toBe(0);
  });

  it('exposes vLLM metric names with model_name and engine labels, plus simulator counters', async () => {
    sim.configure({ ttftMs: 0, itlMs: 0 });
    await chat(sim, user('hello'));
    const ex = await get(sim.url, '/metrics');
    expect(ex.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const labels = '{model_name="sim-model",engine="0"';
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
    ]) {
      expect(ex.body).toContain(`\n${name}${labels}}`);
    }
    for (const reason of ['stop', 'length', 'abort', 'error']) {
      expect(ex.body).toContain(`vllm:request_success_total${labels},finished_reason="${reason}"}`);
    }
    for (const h of ['vllm:time_to_first_token_seconds', 'vllm:e2e_request_latency_seconds']) {
      expect(ex.body).toContain(`# TYPE ${h} histogram`);
      expect(ex.body).toContain(`${h}_bucket${labels},le="+Inf"}`);
      expect(ex.body).toContain(`${h}_count${labels}}`);
      expect(ex.body).toContain(`${h}_sum${labels}}`);
    }
    for (const name of [
      'vllm_sim:requests_in_flight',
      'vllm_sim:requests_completed_total',
      'vllm_sim:requests_aborted_total',
    ]) {
      expect(metricValue(ex.body, name)).toBeDefined();
    }
    expect(metricValue(ex.body, 'vllm:generation_tokens_total')).toBeGreaterThan(0);
  });
});

describe('received log', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('keeps the raw parsed body and headers of /v1/* and /tokenize requests, newest last', async () => {
    const body = { ...user('x'), top_k: 5, structured_outputs: { json: { type: 'object' } } };
    await post(sim.url, CHAT, body, { 'x-request-id': 'r1' });
    await post(sim.url, '/tokenize', { prompt: 'y' });
    await get(sim.url, '/health');
    const log = sim.received();
    expect(log.map((r) => [r.method, r.path])).toEqual([
      ['POST', CHAT],
      ['POST', '/tokenize'],
    ]);
    expect(log[0]!.body).toEqual(body);
    expect(log[0]!.headers['x-request-id']).toBe('r1');
    expect(sim.counters().received).toBe(2);
    sim.resetStats();
    expect(sim.received()).toEqual([]);
  });
});
