import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { upstreamRequestId } from '../../src/vllm/vllm.service.js';
import { post, sseData, withoutCreated } from '../helpers/relay.js';

const PROMPT = 'the quick brown fox jumps over the lazy dog';
const messages: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'Repeat after me.' },
  { role: 'user', content: PROMPT },
];

describe('POST /v1/chat/completions (relay to vLLM)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  let viaGateway: OpenAI;
  let direct: OpenAI;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
    viaGateway = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
    direct = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => {
    sim.resetStats();
  });

  describe('with the official openai SDK', () => {
    it('returns what vLLM returns, non-streamed', async () => {
      const id = `req-${Date.now()}-ns`;
      const expected = await direct.chat.completions.create(
        { model: 'sim-model', messages },
        { headers: { 'X-Request-Id': `${id}-direct` } },
      );
      const { data: actual, response } = await viaGateway.chat.completions
        .create({ model: 'sim-model', messages }, { headers: { 'X-Request-Id': id } })
        .withResponse();

      expect(actual.choices[0]?.message.content).toBe(PROMPT);
      expect(actual.choices[0]?.message.content).toBe(expected.choices[0]?.message.content);
      expect(actual.choices[0]?.finish_reason).toBe(expected.choices[0]?.finish_reason);
      expect(actual.usage).toEqual(expected.usage);
      expect(actual.model).toBe('sim-model');
      // vLLM's completion id carries the client's request id (and the gateway process' suffix, unique across
      // processes): the client can join its id with vLLM's logs.
      expect(actual.id).toBe(`chatcmpl-${upstreamRequestId(id)}`);
      expect(actual.id).toMatch(new RegExp(`^chatcmpl-${id}-[0-9a-f]{8}$`));
      expect(response.headers.get('x-request-id')).toBe(id);
      expect(response.headers.get('server-timing')).toMatch(/^gateway;dur=\d+(\.\d+)?$/);
      expect(response.headers.get('x-gateway-overhead-ms')).toMatch(/^\d+(\.\d+)?$/);
      expect(response.headers.get('content-type')).toBe('application/json');
    });

    it('streams what vLLM streams, usage included when asked', async () => {
      const collect = async (client: OpenAI): Promise<{ text: string; finish: string[]; usage: unknown[] }> => {
        const stream = await client.chat.completions.create({
          model: 'sim-model',
          messages,
          stream: true,
          stream_options: { include_usage: true },
        });
        let text = '';
        const finish: string[] = [];
        const usage: unknown[] = [];
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
          if (chunk.choices[0]?.finish_reason) finish.push(chunk.choices[0].finish_reason);
          if (chunk.usage) usage.push(chunk.usage);
        }
        return { text, finish, usage };
      };
      const expected = await collect(direct);
      const actual = await collect(viaGateway);
      expect(actual.text).toBe(PROMPT);
      expect(actual).toEqual(expected);
      expect(actual.finish).toEqual(['stop']);
      expect(actual.usage).toHaveLength(1);
    });

    it('streams without a usage chunk when the client did not ask (nothing injected)', async () => {
      const stream = await viaGateway.chat.completions.create({
        model: 'sim-model',
        messages,
        stream: true,
      });
      let usageChunks = 0;
      for await (const chunk of stream) if (chunk.usage) usageChunks++;
      expect(usageChunks).toBe(0);
    });
  });

  describe('on the wire', () => {
    it('relays the SSE stream byte for byte, with streaming headers', async () => {
      const body = { messages, stream: true, stream_options: { include_usage: true } };
      const id = `wire-${Date.now()}`;
      const upstream = await post(sim.url, '/v1/chat/completions', body, { 'x-request-id': upstreamRequestId(id) });
      const relayed = await post(gateway.url, '/v1/chat/completions', body, { 'x-request-id': id });

      expect(relayed.status).toBe(200);
      expect(withoutCreated(relayed.body)).toBe(withoutCreated(upstream.body));
      expect(relayed.body.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(relayed.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(relayed.headers['cache-control']).toBe('no-cache');
      expect(relayed.headers['x-accel-buffering']).toBe('no');
      expect(relayed.headers['connection']).toBe('keep-alive');
      expect(relayed.headers['content-encoding']).toBeUndefined();
      expect(relayed.headers['x-request-id']).toBe(id);
      expect(relayed.headers['server-timing']).toMatch(/^gateway;dur=\d+(\.\d+)?$/);
    });

    it('relays the non-streamed JSON byte for byte', async () => {
      const body = { messages, max_tokens: 5 };
      const id = `wire-json-${Date.now()}`;
      const upstream = await post(sim.url, '/v1/chat/completions', body, { 'x-request-id': upstreamRequestId(id) });
      const relayed = await post(gateway.url, '/v1/chat/completions', body, { 'x-request-id': id });
      expect(relayed.status).toBe(200);
      expect(withoutCreated(relayed.body)).toBe(withoutCreated(upstream.body));
      // vLLM's null fields and extensions are kept.
      const json = JSON.parse(relayed.body) as { choices: Record<string, unknown>[] };
      expect(json.choices[0]).toHaveProperty('stop_reason');
      expect(json.choices[0]).toHaveProperty('token_ids');
    });

    it('sends vLLM a unique X-Request-Id per request and never the client’s Authorization', async () => {
      await post(gateway.url, '/v1/chat/completions', { messages }, { authorization: 'Bearer client-secret' });
      await post(gateway.url, '/v1/chat/completions', { messages }, { authorization: 'Bearer client-secret' });
      const received = sim.received();
      expect(received).toHaveLength(2);
      const ids = received.map((r) => r.headers['x-request-id']);
      expect(typeof ids[0]).toBe('string');
      expect(ids[0]).not.toBe(ids[1]);
      for (const r of received) expect(r.headers['authorization']).toBeUndefined();
    });
  });

  it('never gives two requests in flight the same vLLM request id, even when the client reuses one', async () => {
    sim.configure({ ttftMs: 100 });
    try {
      const results = await Promise.all(
        [1, 2].map(() => post(gateway.url, '/v1/chat/completions', { messages }, { 'x-request-id': 'reused-id' })),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      const ids = sim.received().map((r) => r.headers['x-request-id']);
      expect(new Set(ids).size).toBe(2);
      expect(ids).toContain(upstreamRequestId('reused-id'));
      expect(ids.find((id) => id !== upstreamRequestId('reused-id'))).toMatch(
        new RegExp(`^${upstreamRequestId('reused-id')}-[0-9a-f]{8}$`),
      );
    } finally {
      sim.configure({ ttftMs: 0 });
    }
  });

  describe('the body is passed through', () => {
    const extras = {
      top_k: 20,
      min_p: 0.05,
      repetition_penalty: 1.1,
      stop_token_ids: [128001, 128009],
      structured_outputs: { choice: ['yes', 'no'] },
      chat_template_kwargs: { enable_thinking: false },
      ignore_eos: false,
      priority: 0,
      cache_salt: 'salt-1',
      vllm_xargs: { custom: 'value', n: 3 },
      min_tokens: 1,
      kv_transfer_params: null,
      skip_special_tokens: true,
      add_generation_prompt: true,
      logit_bias: { '42': -100 },
      seed: 7,
      stop: ['\n\n'],
      response_format: { type: 'text' },
      user: 'someone',
      unknown_future_field: { nested: [1, { deep: true }] },
    };

    it('forwards every vLLM extra unchanged and injects nothing', async () => {
      const body = { model: 'sim-model', messages, max_tokens: 4, ...extras };
      const res = await post(gateway.url, '/v1/chat/completions', body);
      expect(res.status).toBe(200);
      const [received] = sim.received();
      expect(received?.path).toBe('/v1/chat/completions');
      expect(received?.body).toEqual(body);
      // Same keys, same order: nothing added, nothing reordered.
      expect(Object.keys(received?.body as object)).toEqual(Object.keys(body));
    });

    // Conversation/config resolution (next issue) will give these fields meaning; the relay never forwards them.
    it('removes only the gateway’s extension fields', async () => {
      const body = {
        messages,
        conversation_id: null,
        llm_config_id: null,
        prompt_variables: null,
        top_k: 5,
      };
      const res = await post(gateway.url, '/v1/chat/completions', body);
      expect(res.status).toBe(200);
      expect(sim.received()[0]?.body).toEqual({ messages, top_k: 5 });
    });

    it('accepts a request without a model, as vLLM does', async () => {
      const res = await post(gateway.url, '/v1/chat/completions', { messages });
      expect(res.status).toBe(200);
      expect(sim.received()[0]?.body).toEqual({ messages });
      expect((JSON.parse(res.body) as { model: string }).model).toBe('sim-model');
    });
  });

  describe('validation of the fields the gateway reads', () => {
    const cases: [string, unknown, string | null][] = [
      ['messages missing', { model: 'sim-model' }, 'messages'],
      ['messages empty', { messages: [] }, 'messages'],
      ['messages not an array', { messages: 'hi' }, 'messages'],
      ['a message that is not an object', { messages: [{ role: 'user', content: 'x' }, 'hi'] }, 'messages[1]'],
      ['a role that is not a string', { messages: [{ role: 1, content: 'x' }] }, 'messages[0].role'],
      ['stream not a boolean', { messages, stream: 'yes' }, 'stream'],
      ['model not a string', { messages, model: 42 }, 'model'],
      ['temperature not a number', { messages, temperature: 'hot' }, 'temperature'],
      ['a body that is an array', [{ messages }], null],
    ];

    it.each(cases)('rejects %s with a 400 naming the field, without calling vLLM', async (_name, body, param) => {
      const res = await post(gateway.url, '/v1/chat/completions', body);
      expect(res.status).toBe(400);
      const error = (JSON.parse(res.body) as { error: Record<string, unknown> }).error;
      expect(error).toEqual({
        message: expect.any(String),
        type: 'invalid_request_error',
        param,
        code: 'bad_request',
      });
      expect(sim.counters().received).toBe(0);
    });
  });

  describe('upstream errors keep vLLM’s status and message', () => {
    it('404 for an unknown model', async () => {
      const res = await post(gateway.url, '/v1/chat/completions', { model: 'nope', messages });
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body)).toEqual({
        error: { message: 'The model `nope` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
      });
    });

    it('400 for a prompt longer than the context, streamed or not', async () => {
      const long = [{ role: 'user', content: 'word '.repeat(5_000) }];
      for (const stream of [false, true]) {
        const res = await post(gateway.url, '/v1/chat/completions', { messages: long, stream });
        expect(res.status).toBe(400);
        const error = (JSON.parse(res.body) as { error: Record<string, unknown> }).error;
        expect(error['type']).toBe('BadRequestError');
        expect(error['param']).toBe('input_tokens');
        expect(error['code']).toBe(400);
        expect(error['message']).toMatch(/maximum context length is 4096 tokens/);
      }
    });

    it('the openai SDK sees a typed APIError', async () => {
      const err = await viaGateway.chat.completions.create({ model: 'nope', messages }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).toContain('does not exist');
    });
  });

  describe('streamed errors', () => {
    afterAll(() => sim.configure({ failure: null }));

    it('forwards vLLM’s in-stream error event and [DONE] as they are', async () => {
      sim.configure({ failure: { kind: 'error_mid_stream', afterTokens: 2 } });
      const body = { messages, stream: true };
      const id = `mid-${Date.now()}`;
      const upstream = await post(sim.url, '/v1/chat/completions', body, { 'x-request-id': upstreamRequestId(id) });
      const relayed = await post(gateway.url, '/v1/chat/completions', body, { 'x-request-id': id });
      expect(relayed.status).toBe(200);
      expect(withoutCreated(relayed.body)).toBe(withoutCreated(upstream.body));
      const data = sseData(relayed.body);
      expect(data.at(-1)).toBe('[DONE]');
      expect(JSON.parse(data.at(-2) ?? '')).toHaveProperty('error');
    });
  });
});

describe('DEFAULT_TEMPERATURE', () => {
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({ VLLM_BASE_URL: sim.url, DEFAULT_TEMPERATURE: '0.3' });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  it('is added only when the request has no temperature', async () => {
    const cases: [Record<string, unknown>, unknown][] = [
      [{ messages }, 0.3],
      [{ messages, temperature: null }, 0.3],
      [{ messages, temperature: 0 }, 0],
      [{ messages, temperature: 1.2 }, 1.2],
    ];
    for (const [body, expected] of cases) {
      sim.resetStats();
      expect((await post(gateway.url, '/v1/chat/completions', body)).status).toBe(200);
      expect(sim.received()[0]?.body).toEqual({ ...body, temperature: expected });
    }
  });
});
