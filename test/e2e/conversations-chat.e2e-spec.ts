import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { MessageStore } from '../../src/conversations/turn/message-store.js';
import { TurnRecorder } from '../../src/conversations/turn/turn-recorder.js';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { type ErrorBody, jsonApi, type JsonApi, postConversation, postLlmConfig } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { countQueries } from '../helpers/query-count.js';
import { chatBodiesOf, contentOf, open, post, resetEchoSimulator, sseData, waitFor } from '../helpers/relay.js';
import { openTestDataSource } from '../helpers/pg.js';

type Json = Record<string, unknown>;

interface StoredMessage {
  seq: number;
  role: string;
  content: string;
  status: string;
  finish_reason: string | null;
  usage: { prompt_tokens: number | null; completion_tokens: number | null } | null;
  model: string | null;
  ttft_ms: number | null;
  duration_ms: number | null;
}

interface ClientTurn {
  status: number;
  /** The reply as the client read it. */
  text: string;
  /** The raw `data:` payloads of a streamed answer. */
  events: string[];
  /** The body vLLM received for this turn. */
  upstream: Json;
}

/** Conversation turns and configs through POST /v1/chat/completions: real app, PostgreSQL and vLLM simulator. */
describe('chat completions with conversation_id / llm_config_id (e2e)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  let call: JsonApi;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
    call = jsonApi(gateway.url);
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => resetEchoSimulator(sim));

  const chatBodies = (): Json[] => chatBodiesOf(sim);

  async function chat(body: Json): Promise<ClientTurn> {
    const before = chatBodies().length;
    const res = await post(gateway.url, '/v1/chat/completions', body);
    const upstream = chatBodies()[before] ?? {};
    if (res.status !== 200) return { status: res.status, text: res.body, events: [], upstream };
    if (body['stream'] !== true) {
      const answer = JSON.parse(res.body) as { choices: { message: { content: string } }[] };
      return { status: 200, text: answer.choices[0]?.message.content ?? '', events: [], upstream };
    }
    const events = sseData(res.body);
    return { status: 200, text: contentOf(events), events, upstream };
  }

  const say = (conversationId: string, content: string, extra: Json = {}): Promise<ClientTurn> =>
    chat({ conversation_id: conversationId, messages: [{ role: 'user', content }], ...extra });

  /** The reply is stored just after the response ends; poll the API until `count` messages are there. */
  async function storedMessages(conversationId: string, count?: number): Promise<StoredMessage[]> {
    for (let attempt = 0; ; attempt++) {
      const res = await call<{ data: StoredMessage[] }>(
        'GET',
        `/v1/conversations/${conversationId}/messages?limit=100`,
      );
      if (count === undefined || res.body.data.length >= count || attempt > 500) return res.body.data;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it('runs three turns, streamed and not: vLLM gets the whole history, the store holds what the client saw', async () => {
    const conversation = await postConversation(call);

    const first = await say(conversation.id, 'alpha one');
    await storedMessages(conversation.id, 2);
    const second = await say(conversation.id, 'beta two', { stream: true });
    await storedMessages(conversation.id, 4);
    const third = await say(conversation.id, 'gamma three', { stream: true, stream_options: { include_usage: true } });
    const stored = await storedMessages(conversation.id, 6);

    expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
    expect(first.upstream['messages']).toEqual([{ role: 'user', content: 'alpha one' }]);
    expect(third.upstream['messages']).toEqual([
      { role: 'user', content: 'alpha one' },
      { role: 'assistant', content: first.text },
      { role: 'user', content: 'beta two' },
      { role: 'assistant', content: second.text },
      { role: 'user', content: 'gamma three' },
    ]);
    expect(stored.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'alpha one', 'complete'],
      ['assistant', first.text, 'complete'],
      ['user', 'beta two', 'complete'],
      ['assistant', second.text, 'complete'],
      ['user', 'gamma three', 'complete'],
      ['assistant', third.text, 'complete'],
    ]);
    expect(second.text).toBe('beta two');
    // Usage was requested upstream for the stored reply, and shown only to the client that asked for it.
    expect(second.upstream['stream_options']).toEqual({ include_usage: true });
    expect(second.events.some((data) => data.includes('"usage"'))).toBe(false);
    expect(second.events.at(-1)).toBe('[DONE]');
    expect(third.events.some((data) => data.includes('"usage"'))).toBe(true);
    for (const reply of stored.filter((m) => m.role === 'assistant')) {
      expect(reply).toMatchObject({ finish_reason: 'stop', model: 'sim-model' });
      expect(reply.usage?.prompt_tokens).toBeGreaterThan(0);
      expect(reply.usage?.completion_tokens).toBeGreaterThan(0);
      expect(reply.duration_ms).toEqual(expect.any(Number));
    }
  });

  it('stores a reply cut short by a client disconnect as aborted, with the partial content', async () => {
    sim.configure({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 10 });
    const conversation = await postConversation(call);

    const request = open(gateway.url, '/v1/chat/completions', {
      conversation_id: conversation.id,
      stream: true,
      messages: [{ role: 'user', content: 'tell me a long story' }],
    });
    expect((await request.response).statusCode).toBe(200);
    await waitFor(() => contentOf(sseData(request.received())).length > 20, 'some content to arrive');
    request.req.destroy();
    await waitFor(() => sim.counters().aborted === 1, 'vLLM to see the abort');

    const stored = await storedMessages(conversation.id, 2);
    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'aborted'],
    ]);
    const seen = contentOf(sseData(request.received()));
    expect(stored[1]?.content.startsWith(seen)).toBe(true);
    expect(stored[1]?.content.length).toBeGreaterThan(0);
  });

  it('stores an upstream failure as error: before the stream and in the middle of it', async () => {
    const conversation = await postConversation(call);

    sim.configure({ failure: { kind: 'error_before_stream', status: 500 } });
    const refused = await say(conversation.id, 'first try', { stream: true });
    expect(refused.status).toBe(500);
    await storedMessages(conversation.id, 2);

    sim.configure({ failure: { kind: 'error_mid_stream', afterTokens: 2 } });
    const broken = await say(conversation.id, 'one two three four five six', { stream: true });
    expect(broken.status).toBe(200);
    const stored = await storedMessages(conversation.id, 4);

    expect(stored.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'error'],
      ['user', 'complete'],
      ['assistant', 'error'],
    ]);
    expect(stored[3]?.content).toBe(broken.text);
  });

  it('keeps concurrent turns on one conversation in order, each reply next to its message, nothing twice', async () => {
    const conversation = await postConversation(call);

    const turns = await Promise.all(
      Array.from({ length: 6 }, (_, i) => say(conversation.id, `parallel ${i}`, { stream: i % 2 === 0 })),
    );
    expect(turns.map((t) => t.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const stored = await storedMessages(conversation.id, 12);

    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (let i = 0; i < 12; i += 2) {
      expect(stored[i]?.role).toBe('user');
      expect(stored[i + 1]).toMatchObject({ role: 'assistant', content: stored[i]?.content });
    }
  });

  it('applies a config under the request’s own fields, its system prompt filled from prompt_variables', async () => {
    const config = await postLlmConfig(call, {
      model: 'sim-model',
      temperature: 0.1,
      max_tokens: 50,
      extra_params: { top_k: 7 },
      system_prompt: 'You help {{user}}.',
    });

    const oneOff = await chat({
      llm_config_id: config.id,
      temperature: 0.9,
      prompt_variables: { user: 'Ada' },
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(oneOff.status).toBe(200);
    expect(oneOff.upstream).toEqual({
      model: 'sim-model',
      temperature: 0.9,
      max_tokens: 50,
      top_k: 7,
      messages: [
        { role: 'system', content: 'You help Ada.' },
        { role: 'user', content: 'hello' },
      ],
    });

    const conversation = await postConversation(call, { llm_config_id: config.id });
    const missing = await chat({
      conversation_id: conversation.id,
      messages: [{ role: 'user', content: 'hi' }],
      prompt_variables: { someone: 'else' },
    });
    expect(missing.status).toBe(400);
    expect((JSON.parse(missing.text) as ErrorBody).error).toMatchObject({
      param: 'prompt_variables.user',
      type: 'invalid_request_error',
    });
    expect(await storedMessages(conversation.id)).toEqual([]);
  });

  it('answers unknown or malformed ids with 404 / 400 naming the field', async () => {
    const unknown = '00000000-0000-4000-8000-00000000dead';
    for (const [field, value, status] of [
      ['conversation_id', unknown, 404],
      ['llm_config_id', unknown, 404],
      ['conversation_id', 'nope', 400],
    ] as const) {
      const res = await chat({ [field]: value, messages: [{ role: 'user', content: 'x' }] });
      expect(res.status).toBe(status);
      expect((JSON.parse(res.text) as ErrorBody).error.param).toBe(field);
    }
    expect(chatBodies()).toEqual([]);
  });

  it('sends a short turn without a /tokenize call before it once the model is known, counting it after', async () => {
    const conversation = await postConversation(call);
    const db = gateway.app.get(DataSource);
    const tokenCounts = async (): Promise<(number | null)[]> => {
      const rows: { token_count: number | null }[] = await db.query(
        'SELECT token_count FROM chat_messages WHERE conversation_id = $1 ORDER BY seq',
        [conversation.id],
      );
      return rows.map((r) => r.token_count);
    };
    // The first turn measures the template and the window if no earlier test did. The reply row is committed before
    // the response ends; its counts (and the user message's) are filled in just after it.
    expect((await say(conversation.id, 'first short turn')).status).toBe(200);
    let first = await tokenCounts();
    for (let attempt = 0; attempt < 500 && (first.length < 2 || first.includes(null)); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      first = await tokenCounts();
    }
    expect(first).toHaveLength(2);
    expect(first).not.toContain(null);

    const start = sim.received().length;
    const second = await say(conversation.id, 'second short turn');
    expect(second.status).toBe(200);
    const paths = sim
      .received()
      .slice(start)
      .map((r) => r.path);
    expect(paths[0]).toBe('/v1/chat/completions');
    expect(second.upstream['messages']).toHaveLength(3);

    // Counted after the response: exactly what vLLM's tokenizer says for the message alone.
    const exact = await post(sim.url, '/tokenize', {
      messages: [{ role: 'user', content: 'second short turn' }],
      add_generation_prompt: false,
    });
    const expected = (JSON.parse(exact.body) as { count: number }).count;
    let counts = await tokenCounts();
    for (let attempt = 0; counts.length < 4 || counts.includes(null); attempt++) {
      if (attempt > 500) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
      counts = await tokenCounts();
    }
    expect(counts[2]).toBe(expected);
    expect(counts).not.toContain(null);
  });

  it('truncates a long conversation in chunks so consecutive requests share their prefix', async () => {
    sim.configure({ maxModelLen: 400 });
    const conversation = await postConversation(call);
    const words = (n: number, tag: string): string => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');

    const firstKept: string[] = [];
    for (let t = 0; t < 30; t++) {
      const content = words(10, `t${t}w`);
      const turn = await say(conversation.id, content, { max_tokens: 20, stream: t % 3 === 0 });
      expect(turn.status).toBe(200);
      expect(turn.text).toBe(content);
      firstKept.push((turn.upstream['messages'] as { content: string }[])[0]?.content ?? '');
      await storedMessages(conversation.id, 2 * (t + 1));
    }

    expect(firstKept.at(-1)).not.toBe(firstKept[0]);
    const changes = firstKept.filter((first, i) => i > 0 && first !== firstKept[i - 1]).length;
    expect(changes).toBeGreaterThan(0);
    expect(changes).toBeLessThanOrEqual(30 / 4);

    const oversized = await say(conversation.id, words(500, 'big'));
    expect(oversized.status).toBe(400);
    expect((JSON.parse(oversized.text) as ErrorBody).error).toMatchObject({
      param: 'messages',
      code: 'context_length_exceeded',
    });
    expect(await storedMessages(conversation.id)).toHaveLength(60);
  });

  it('answers a turn whose message PostgreSQL cannot store with a 400, storing and sending nothing', async () => {
    const conversation = await postConversation(call);
    const before = chatBodies().length;
    const turn = await say(conversation.id, 'null\u0000byte');
    expect(turn.status).toBe(400);
    expect((JSON.parse(turn.text) as ErrorBody).error.message).toMatch(/NUL/);
    expect(chatBodies()).toHaveLength(before);
    expect(await storedMessages(conversation.id)).toHaveLength(0);
  });

  it('makes no database query for a plain chat request', async () => {
    const { result: plain, queries } = await countQueries(gateway, () =>
      chat({ messages: [{ role: 'user', content: 'no memory' }], stream: true }),
    );
    expect(plain.status).toBe(200);
    expect(queries).toBe(0);
  });

  it('waits, on graceful shutdown, for token counts still being written before the pool closes', async () => {
    const own = await startGateway({ VLLM_BASE_URL: sim.url });
    const store = own.app.get(MessageStore);
    const recorder = own.app.get(TurnRecorder);
    const db = own.app.get(DataSource);
    // The counts' write is held until shutdown starts, so it is certainly in flight when the app closes.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let writing = false;
    const fillTokenCounts = store.fillTokenCounts.bind(store);
    jest.spyOn(store, 'fillTokenCounts').mockImplementation(async (id, counts) => {
      writing = true;
      await gate;
      await fillTokenCounts(id, counts);
      writing = false;
    });
    const shutdown = recorder.onApplicationShutdown.bind(recorder);
    jest.spyOn(recorder, 'onApplicationShutdown').mockImplementation(() => {
      release();
      return shutdown();
    });
    let writingWhenPoolClosed: boolean | undefined;
    const destroy = db.destroy.bind(db);
    jest.spyOn(db, 'destroy').mockImplementation(() => {
      writingWhenPoolClosed = writing;
      return destroy();
    });

    const conversation = await postConversation(jsonApi(own.url));
    const turn = await post(own.url, '/v1/chat/completions', {
      conversation_id: conversation.id,
      stream: true,
      messages: [{ role: 'user', content: 'last words' }],
    });
    expect(turn.status).toBe(200);
    await waitFor(() => writing, 'the counts write to start');
    await own.close();

    expect(writingWhenPoolClosed).toBe(false);
    expect(await rowsAfterClose(conversation.id, 'content')).toEqual([
      { role: 'user', content: 'last words' },
      { role: 'assistant', content: 'last words' },
    ]);
    expect(await rowsAfterClose(conversation.id, 'token_count')).not.toContainEqual(
      expect.objectContaining({ token_count: null }),
    );
  });

  it('stores the reply of a turn the client hangs up on while the app is closing', async () => {
    const own = await startGateway({ VLLM_BASE_URL: sim.url });
    sim.configure({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 10 });
    const conversation = await postConversation(jsonApi(own.url));
    const request = open(own.url, '/v1/chat/completions', {
      conversation_id: conversation.id,
      stream: true,
      messages: [{ role: 'user', content: 'cut short by a shutdown' }],
    });
    expect((await request.response).statusCode).toBe(200);
    await waitFor(() => contentOf(sseData(request.received())).length > 20, 'some content to arrive');
    // The server stops listening and waits for the stream; the hang-up ends it, and with it the server's last
    // connection: the reply's write starts only after the relay settles, which must still be before the pool closes.
    const closing = own.close();
    request.req.destroy();
    await closing;

    expect(await rowsAfterClose(conversation.id, 'status')).toEqual([
      { role: 'user', status: 'complete' },
      { role: 'assistant', status: 'aborted' },
    ]);
  });
});

/** A conversation's rows, read on a connection of its own once the gateway that wrote them is closed. */
async function rowsAfterClose(conversationId: string, column: 'content' | 'status' | 'token_count'): Promise<Json[]> {
  const check = await openTestDataSource();
  try {
    return await check.query<Json[]>(
      `SELECT role, ${column} FROM chat_messages WHERE conversation_id = $1 ORDER BY seq`,
      [conversationId],
    );
  } finally {
    await check.destroy();
  }
}
