// Wire conformance against vLLM's contract (CONTRACT.md §1, §3, §4, §5, §6): raw bytes over real HTTP.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSimulator, type Simulator } from './simulator.js';
import { get, json, post, send, sseEvents, type Exchange } from './test-client.js';

interface StreamUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
interface ChunkChoice {
  index: number;
  delta?: { role?: string; content?: string; reasoning_content?: null };
  text?: string;
  logprobs: null;
  finish_reason: string | null;
  stop_reason?: null;
}
interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: StreamUsage;
}
interface ErrorJson {
  error: { message: string; type: string; param: string | null; code: number };
}

const CHAT = '/v1/chat/completions';
const USER_TEXT = 'Hello there, how are you?';
const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: USER_TEXT },
];

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ servedModelNames: ['sim-model', 'sim-alias'], maxModelLen: 64 });
});

afterAll(async () => {
  await sim.close();
});

function chunksOf(ex: Exchange): { chunks: Chunk[]; last: string } {
  const events = sseEvents(ex.body);
  const last = events[events.length - 1] ?? '';
  return { chunks: events.slice(0, -1).map((e) => JSON.parse(e) as Chunk), last };
}

function keys(o: object): string[] {
  return Object.keys(o).sort();
}

async function streamChat(extra: Record<string, unknown>, headers?: Record<string, string>): Promise<Exchange> {
  const ex = await post(sim.url, CHAT, { messages, stream: true, ...extra }, headers);
  expect(ex.status).toBe(200);
  return ex;
}

describe('streamed chat completion (§4)', () => {
  it('frames every event as `data: <json>\\n\\n`, role chunk first, finish on the last token, [DONE] last', async () => {
    const ex = await streamChat({ model: 'sim-alias' }, { 'X-Request-Id': 'req-42' });
    expect(ex.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const { chunks, last } = chunksOf(ex);
    expect(last).toBe('[DONE]');
    expect(ex.body.endsWith('data: [DONE]\n\n')).toBe(true);

    const [role, ...content] = chunks;
    expect(role).toBeDefined();
    expect(keys(role!)).toEqual(['choices', 'created', 'id', 'model', 'object', 'prompt_token_ids']);
    expect(role!.choices).toEqual([
      {
        index: 0,
        delta: { role: 'assistant', content: '', reasoning_content: null },
        logprobs: null,
        finish_reason: null,
      },
    ]);

    expect(content.length).toBeGreaterThan(1);
    content.forEach((c, i) => {
      const isLast = i === content.length - 1;
      expect(keys(c)).toEqual(['choices', 'created', 'id', 'model', 'object']);
      expect(c.choices).toHaveLength(1);
      const choice = c.choices[0]!;
      expect(keys(choice)).toEqual(
        isLast
          ? ['delta', 'finish_reason', 'index', 'logprobs', 'stop_reason', 'token_ids']
          : ['delta', 'finish_reason', 'index', 'logprobs', 'token_ids'],
      );
      expect(keys(choice.delta!)).toEqual(['content', 'reasoning_content']);
      if (isLast) {
        expect(choice.finish_reason).toBe('stop');
        expect(choice.stop_reason).toBeNull();
      } else {
        expect(choice.finish_reason).toBeNull();
      }
    });
    expect(content.map((c) => c.choices[0]!.delta!.content).join('')).toBe(USER_TEXT);

    for (const c of chunks) {
      expect(c.id).toBe('chatcmpl-req-42');
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.created).toBe(role!.created);
      // The served name, even though the client asked for the alias.
      expect(c.model).toBe('sim-model');
      expect(c.usage).toBeUndefined();
    }
  });

  it('makes a random 16-hex id without X-Request-Id', async () => {
    const { chunks } = chunksOf(await streamChat({ model: 'sim-alias' }));
    expect(chunks[0]!.id).toMatch(/^chatcmpl-[0-9a-f]{16}$/);
    expect(chunks[0]!.model).toBe('sim-model');
  });

  it.each([
    ['include_usage true', { include_usage: true }],
    ['{} (include_usage defaults to true in vLLM)', {}],
  ])('sends one final usage chunk for stream_options %s', async (_name, streamOptions) => {
    const { chunks, last } = chunksOf(await streamChat({ stream_options: streamOptions }));
    expect(last).toBe('[DONE]');
    const usageChunk = chunks[chunks.length - 1]!;
    expect(usageChunk.choices).toEqual([]);
    expect(keys(usageChunk)).toEqual(['choices', 'created', 'id', 'model', 'object', 'usage']);
    const contentCount = chunks.length - 2;
    expect(usageChunk.usage).toEqual({
      prompt_tokens: expect.any(Number),
      completion_tokens: contentCount,
      total_tokens: usageChunk.usage!.prompt_tokens + contentCount,
    });
    expect(keys(usageChunk.usage!)).toEqual(['completion_tokens', 'prompt_tokens', 'total_tokens']);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeUndefined();
  });

  it('sends no usage chunk for include_usage false', async () => {
    const { chunks } = chunksOf(await streamChat({ stream_options: { include_usage: false } }));
    // A role chunk and at least one token: `every` below must not hold vacuously.
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.choices.length === 1 && c.usage === undefined)).toBe(true);
  });

  it('adds cumulative usage to every chunk with continuous_usage_stats', async () => {
    const { chunks } = chunksOf(
      await streamChat({ stream_options: { include_usage: true, continuous_usage_stats: true } }),
    );
    const prompt = chunks[0]!.usage!.prompt_tokens;
    expect(prompt).toBeGreaterThan(0);
    chunks.forEach((c, i) => {
      // Role chunk: 0 generated; content chunk i: i generated; the final usage chunk repeats the total.
      const completion = Math.min(i, chunks.length - 2);
      expect(c.usage).toEqual({
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
      });
    });
    expect(chunks[chunks.length - 1]!.choices).toEqual([]);
  });
});

describe('non-streaming chat completion (§3)', () => {
  it('has every field of the full model dump, nulls included', async () => {
    const ex = await post(
      sim.url,
      CHAT,
      { messages, model: 'sim-alias', unknown_field: { x: 1 } },
      { 'x-request-id': 'n1' },
    );
    expect(ex.status).toBe(200);
    expect(ex.headers['content-type']).toBe('application/json');
    const body = json<Record<string, unknown>>(ex);
    expect(keys(body)).toEqual([
      'choices',
      'created',
      'id',
      'kv_transfer_params',
      'model',
      'object',
      'prompt_logprobs',
      'prompt_token_ids',
      'service_tier',
      'system_fingerprint',
      'usage',
    ]);
    expect(body).toMatchObject({
      id: 'chatcmpl-n1',
      object: 'chat.completion',
      model: 'sim-model',
      service_tier: null,
      system_fingerprint: null,
      prompt_logprobs: null,
      prompt_token_ids: null,
      kv_transfer_params: null,
    });
    expect(body.choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: USER_TEXT,
          refusal: null,
          annotations: null,
          audio: null,
          function_call: null,
          tool_calls: [],
          reasoning: null,
          reasoning_content: null,
        },
        logprobs: null,
        finish_reason: 'stop',
        stop_reason: null,
        token_ids: null,
      },
    ]);
    const usage = body.usage as Record<string, unknown>;
    expect(keys(usage)).toEqual(['completion_tokens', 'prompt_tokens', 'prompt_tokens_details', 'total_tokens']);
    expect(usage.prompt_tokens_details).toBeNull();
    expect(usage.total_tokens).toBe((usage.prompt_tokens as number) + (usage.completion_tokens as number));
  });
});

describe('text completions (§4, /v1/completions)', () => {
  const prompt =
    'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen';

  it('streams text_completion chunks with choices[].text, no role chunk, a cmpl- id and 16 tokens by default', async () => {
    const ex = await post(
      sim.url,
      '/v1/completions',
      { prompt, stream: true, stream_options: { include_usage: true } },
      { 'x-request-id': 'c1' },
    );
    expect(ex.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const { chunks, last } = chunksOf(ex);
    expect(last).toBe('[DONE]');
    const content = chunks.slice(0, -1);
    expect(content).toHaveLength(16);
    content.forEach((c, i) => {
      expect(c.id).toBe('cmpl-c1');
      expect(c.object).toBe('text_completion');
      expect(keys(c.choices[0]!)).toEqual([
        'finish_reason',
        'index',
        'logprobs',
        'prompt_token_ids',
        'stop_reason',
        'text',
        'token_ids',
      ]);
      expect(c.choices[0]!.finish_reason).toBe(i === 15 ? 'length' : null);
    });
    expect(content.map((c) => c.choices[0]!.text).join('')).toBe(prompt.split(' ').slice(0, 16).join(' '));
    expect(chunks[chunks.length - 1]).toMatchObject({
      object: 'text_completion',
      choices: [],
      usage: { completion_tokens: 16 },
    });
  });

  it('answers a full text_completion body', async () => {
    const ex = await post(sim.url, '/v1/completions', { prompt: 'Say hi', max_tokens: 5 });
    const body = json<Record<string, unknown>>(ex);
    expect(body.id).toMatch(/^cmpl-[0-9a-f]{16}$/);
    expect(body).toMatchObject({
      object: 'text_completion',
      model: 'sim-model',
      service_tier: null,
      kv_transfer_params: null,
    });
    expect(body.choices).toEqual([
      {
        index: 0,
        text: 'Say hi',
        logprobs: null,
        finish_reason: 'stop',
        stop_reason: null,
        token_ids: null,
        prompt_logprobs: null,
        prompt_token_ids: null,
      },
    ]);
    // The prompt's 2 tokens plus BOS, like /tokenize with add_special_tokens (the default).
    expect(body.usage).toEqual({
      prompt_tokens: 3,
      total_tokens: 5,
      completion_tokens: 2,
      prompt_tokens_details: null,
    });
  });
});

describe('embeddings', () => {
  it('returns an OpenAI embeddings list with deterministic unit vectors of embeddingDim floats', async () => {
    const a = json<Record<string, unknown>>(await post(sim.url, '/v1/embeddings', { input: ['alpha', 'beta gamma'] }));
    const b = json<Record<string, unknown>>(await post(sim.url, '/v1/embeddings', { input: 'alpha' }));
    expect(a.id).toMatch(/^embd-/);
    expect(a).toMatchObject({ object: 'list', model: 'sim-model' });
    const data = a.data as { index: number; object: string; embedding: number[] }[];
    expect(data.map((d) => [d.index, d.object, d.embedding.length])).toEqual([
      [0, 'embedding', 8],
      [1, 'embedding', 8],
    ]);
    const norm = Math.sqrt(data[0]!.embedding.reduce((s, x) => s + x * x, 0));
    expect(norm).toBeCloseTo(1, 5);
    expect((b.data as { embedding: number[] }[])[0]!.embedding).toEqual(data[0]!.embedding);
    expect(a.usage).toEqual({ prompt_tokens: 5, total_tokens: 5, completion_tokens: 0, prompt_tokens_details: null });
  });

  it('supports encoding_format base64 (float32 little-endian)', async () => {
    const plain = json<{ data: { embedding: number[] }[] }>(await post(sim.url, '/v1/embeddings', { input: 'x' }));
    const b64 = json<{ data: { embedding: string }[] }>(
      await post(sim.url, '/v1/embeddings', { input: 'x', encoding_format: 'base64' }),
    );
    const buf = Buffer.from(b64.data[0]!.embedding, 'base64');
    const floats = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
    expect(floats).toEqual(plain.data[0]!.embedding);
  });
});

describe('models, health, version, tokenize (§1, §6)', () => {
  it('lists one card per served name with max_model_len, root, parent and permission', async () => {
    const ex = await get(sim.url, '/v1/models');
    const body = json<{ object: string; data: Record<string, unknown>[] }>(ex);
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual(['sim-model', 'sim-alias']);
    const card = body.data[0]!;
    expect(card).toMatchObject({
      object: 'model',
      owned_by: 'vllm',
      root: 'sim-model',
      parent: null,
      max_model_len: 64,
    });
    expect(Math.abs((card.created as number) - Date.now() / 1000)).toBeLessThan(60);
    const perm = (card.permission as Record<string, unknown>[])[0]!;
    expect(perm).toMatchObject({
      object: 'model_permission',
      allow_create_engine: false,
      allow_sampling: true,
      organization: '*',
      group: null,
      is_blocking: false,
    });
    expect(perm.id).toMatch(/^modelperm-/);
  });

  it('answers /health and /ping with an empty 200, /version with a version', async () => {
    for (const path of ['/health', '/ping']) {
      const ex = await get(sim.url, path);
      expect([ex.status, ex.body]).toEqual([200, '']);
    }
    expect(json<{ version: string }>(await get(sim.url, '/version')).version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('tokenizes prompts and chat messages, and detokenizes back', async () => {
    const tok = json<{ count: number; max_model_len: number; tokens: number[]; token_strs: string[] | null }>(
      await post(sim.url, '/tokenize', { prompt: 'Hello, world', return_token_strs: true }),
    );
    expect(tok).toMatchObject({ count: 4, max_model_len: 64 });
    expect(tok.tokens).toHaveLength(4);
    expect(tok.token_strs).toEqual(['<|begin_of_text|>', 'Hello', ',', ' world']);
    const plain = json<{ token_strs: null }>(await post(sim.url, '/tokenize', { prompt: 'Hello' }));
    expect(plain.token_strs).toBeNull();
    const back = json<{ prompt: string }>(await post(sim.url, '/detokenize', { tokens: tok.tokens.slice(1) }));
    expect(back.prompt).toBe('Hello, world');
    const chat = json<{ count: number }>(await post(sim.url, '/tokenize', { messages }));
    expect(chat.count).toBeGreaterThan(0);
  });
});

describe('error responses (§5)', () => {
  it('404s an unknown model with the exact vLLM body', async () => {
    const ex = await post(sim.url, CHAT, { model: 'gpt-9', messages });
    expect(ex.status).toBe(404);
    expect(json<ErrorJson>(ex)).toEqual({
      error: { message: 'The model `gpt-9` does not exist.', type: 'NotFoundError', param: 'model', code: 404 },
    });
  });

  it('400s a prompt that fills the context, with vLLM message, type and param', async () => {
    const long = Array.from({ length: 80 }, (_, i) => `w${i}`).join(' ');
    const ex = await post(sim.url, CHAT, { messages: [{ role: 'user', content: long }] });
    expect(ex.status).toBe(400);
    const { error } = json<ErrorJson>(ex);
    expect(error.message).toMatch(
      /^This model's maximum context length is 64 tokens\. However, your request has \d+ input tokens\. Please reduce the length of the input messages\./,
    );
    expect([error.type, error.param, error.code]).toEqual(['BadRequestError', 'input_tokens', 400]);
  });

  it('400s max_tokens beyond the remaining context', async () => {
    const ex = await post(sim.url, CHAT, { messages, max_tokens: 1000 });
    expect(ex.status).toBe(400);
    const { error } = json<ErrorJson>(ex);
    expect(error.message).toMatch(
      /^'max_tokens' or 'max_completion_tokens' is too large: 1000\. This model's maximum context length is 64 tokens and your request has (\d+) input tokens \(1000 > 64 - \1\)\./,
    );
    expect([error.type, error.param]).toEqual(['BadRequestError', 'max_tokens']);
  });

  it('400s stream_options without stream, as a request validation error', async () => {
    const ex = await post(sim.url, CHAT, { messages, stream_options: { include_usage: true } });
    expect(ex.status).toBe(400);
    const { error } = json<ErrorJson>(ex);
    expect(error.message).toContain('Stream options can only be defined when `stream=True`.');
    expect([error.type, error.param, error.code]).toEqual(['Bad Request', 'stream_options', 400]);
  });

  it.each([
    ['malformed JSON', '{"messages": [', 'application/json'],
    ['missing messages', '{"model": "sim-model"}', 'application/json'],
    ['a non-JSON content type', '{"messages": []}', 'text/plain'],
  ])('400s %s with type "Bad Request"', async (_name, raw, contentType) => {
    const ex = await send(sim.url, CHAT, { body: raw, headers: { 'content-type': contentType } }).done;
    expect(ex.status).toBe(400);
    expect(json<ErrorJson>(ex).error).toMatchObject({ type: 'Bad Request', code: 400 });
  });

  it('404s an unknown route in the error shape', async () => {
    const ex = await get(sim.url, '/v1/nope');
    expect(ex.status).toBe(404);
    expect(json<ErrorJson>(ex).error).toMatchObject({ type: 'Not Found', code: 404 });
  });

  it('uses the legacy flat shape when asked', async () => {
    sim.configure({ failure: { kind: 'error_before_stream', status: 400, message: 'bad', legacyShape: true } });
    try {
      const ex = await post(sim.url, CHAT, { messages, stream: true });
      expect(ex.status).toBe(400);
      expect(ex.headers['content-type']).toBe('application/json');
      expect(json<unknown>(ex)).toEqual({
        object: 'error',
        message: 'bad',
        type: 'BadRequestError',
        param: null,
        code: 400,
      });
    } finally {
      sim.configure({ failure: null });
    }
  });

  it('requires the bearer key on /v1/* only when apiKey is set', async () => {
    sim.configure({ apiKey: 'k-1' });
    try {
      const denied = await post(sim.url, CHAT, { messages });
      expect([denied.status, denied.body]).toEqual([401, '{"error":"Unauthorized"}']);
      expect((await get(sim.url, '/v1/models', { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await post(sim.url, CHAT, { messages }, { authorization: 'Bearer k-1' })).status).toBe(200);
      expect((await get(sim.url, '/health')).status).toBe(200);
      expect((await post(sim.url, '/tokenize', { prompt: 'x' })).status).toBe(200);
    } finally {
      sim.configure({ apiKey: '' });
    }
    expect((await post(sim.url, CHAT, { messages })).status).toBe(200);
  });
});
