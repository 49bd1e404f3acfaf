import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { MessageStore } from '../../src/conversations/turn/message-store.js';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { jsonApi, postConversation } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { chatBodiesOf, contentOf, open, post, resetEchoSimulator, send, sseData } from '../helpers/relay.js';

type Json = Record<string, unknown>;
type Message = { role: string; content: string | null };

/**
 * What a conversation promises across turns: a reply is stored before the client sees the end of it (so an
 * immediate next turn, on any gateway process, sends it), history is cut by tokens with hysteresis and never dropped
 * for nothing, and failed turns leave a thread that still alternates. Real app, PostgreSQL and the vLLM simulator.
 */
describe('conversation integrity (e2e)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    sim = await startSimulator();
    gateway = await startGateway({ VLLM_BASE_URL: sim.url, ENABLE_AUTH: 'false' });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => resetEchoSimulator(sim));

  const chatBodies = (): Json[] => chatBodiesOf(sim);

  /** One turn, read to its end; returns what the client saw and what vLLM was sent. */
  async function turn(baseUrl: string, body: Json): Promise<{ status: number; text: string; sent: Message[] }> {
    const before = chatBodies().length;
    const res = await post(baseUrl, '/v1/chat/completions', body);
    const sent = (chatBodies()[before]?.['messages'] ?? []) as Message[];
    if (res.status !== 200) return { status: res.status, text: res.body, sent };
    if (body['stream'] !== true) {
      const answer = JSON.parse(res.body) as { choices: { message: { content: string } }[] };
      return { status: 200, text: answer.choices[0]?.message.content ?? '', sent };
    }
    return { status: 200, text: contentOf(sseData(res.body)), sent };
  }

  const say = (baseUrl: string, conversationId: string, content: string, extra: Json = {}) =>
    turn(baseUrl, { conversation_id: conversationId, messages: [{ role: 'user', content }], ...extra });

  /** Sends turns back to back, each as soon as the previous response has ended; checks what vLLM got each time. */
  async function backToBack(urls: readonly string[]): Promise<void> {
    // A slow commit (100 ms) on the in-process gateway: a reply stored after the response would then surely be missing
    // from the next turn, instead of only when the race is lost.
    const store = gateway.app.get(MessageStore);
    const insertReply = store.insertReply.bind(store);
    const slow = jest.spyOn(store, 'insertReply').mockImplementation(async (row) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await insertReply(row);
    });
    try {
      await sendTurns(urls);
    } finally {
      slow.mockRestore();
    }
  }

  async function sendTurns(urls: readonly string[]): Promise<void> {
    const conversation = await postConversation(jsonApi(gateway.url));
    const expected: Message[] = [];
    for (let t = 0; t < 6; t++) {
      const content = `turn ${t} says hello`;
      const url = urls[t % urls.length] ?? gateway.url;
      const result = await say(url, conversation.id, content, { stream: t % 2 === 1 });
      expect(result.status).toBe(200);
      expected.push({ role: 'user', content });
      expect(result.sent).toEqual(expected);
      expected.push({ role: 'assistant', content: result.text });
    }
  }

  it('sends the previous reply on a turn sent right after the response ends, streamed or not', async () => {
    await backToBack([gateway.url]);
  });

  it('sends the previous reply when the next turn goes to another gateway process at once', async () => {
    const other = await startGatewayProcess({ VLLM_BASE_URL: sim.url });
    try {
      await backToBack([gateway.url, other.url]);
    } finally {
      await other.stop();
    }
  });

  it('truncates six ~1,000-token turns in a 4,096-token window, always sending at least the previous turn', async () => {
    const conversation = await postConversation(jsonApi(gateway.url));
    const words = (tag: string): string => Array.from({ length: 495 }, (_, i) => `${tag}w${i}`).join(' ');
    const sentCounts: number[] = [];
    for (let t = 0; t < 6; t++) {
      const result = await say(gateway.url, conversation.id, words(`t${t}`), { max_tokens: 600 });
      expect(result.status).toBe(200);
      expect(result.text.length).toBeGreaterThan(0);
      // The newest message is last; before it, at least the previous turn (its user message and reply), whole.
      if (t > 0) {
        expect(result.sent.length).toBeGreaterThanOrEqual(3);
        expect(result.sent.at(-3)).toEqual({ role: 'user', content: words(`t${t - 1}`) });
        expect(result.sent.at(-2)?.role).toBe('assistant');
      }
      expect(result.sent[0]?.role).toBe('user');
      sentCounts.push(result.sent.length);
    }
    // Two turns of history fit beside a new one and the reply's room, so the first cut happens at turn 3 (index 2
    // fits exactly 2 earlier turns) and keeps about half the room: then the history grows again before the next cut.
    expect(sentCounts.slice(0, 3)).toEqual([1, 3, 5]);
    expect(Math.min(...sentCounts.slice(1))).toBeGreaterThanOrEqual(3);
  });

  it('keeps the thread alternating after a failed and an aborted turn, both stored as they happened', async () => {
    const conversation = await postConversation(jsonApi(gateway.url));
    expect((await say(gateway.url, conversation.id, 'first question')).status).toBe(200);

    sim.configure({ failure: { kind: 'error_before_stream', status: 500 } });
    expect((await say(gateway.url, conversation.id, 'this one fails', { stream: true })).status).toBe(500);
    sim.configure({ failure: null, outputMode: 'fixed', outputTokens: 2_000, itlMs: 50, ttftMs: 200 });
    const aborted = open(gateway.url, '/v1/chat/completions', {
      conversation_id: conversation.id,
      stream: true,
      messages: [{ role: 'user', content: 'this one is abandoned' }],
    });
    await aborted.response;
    aborted.req.destroy();
    const db = gateway.app.get(DataSource);
    const rows = async (): Promise<{ role: string; status: string; content: string }[]> =>
      db.query('SELECT role, status, content FROM chat_messages WHERE conversation_id = $1 ORDER BY seq', [
        conversation.id,
      ]);
    // The client left: the aborted reply is stored once the gateway sees the close.
    for (let attempt = 0; attempt < 400 && (await rows()).length < 6; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }

    sim.configure({ outputMode: 'echo', itlMs: 0, ttftMs: 0 });
    const good = await say(gateway.url, conversation.id, 'second question');
    expect(good.status).toBe(200);
    expect(good.sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(good.sent[2]?.content).toBe('second question');
    expect((await rows()).map((r) => [r.role, r.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
      ['user', 'complete'],
      ['assistant', 'error'],
      ['user', 'complete'],
      ['assistant', 'aborted'],
      ['user', 'complete'],
      ['assistant', 'complete'],
    ]);
  });

  it('gives five concurrent turns distinct, gap-free seqs, each seeing the turns committed before it', async () => {
    const conversation = await postConversation(jsonApi(gateway.url));
    expect((await say(gateway.url, conversation.id, 'before all')).status).toBe(200);
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        say(gateway.url, conversation.id, `concurrent ${i}`, { stream: i % 2 === 0 }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    for (const result of results) {
      // Every turn sends the committed first exchange; none sends two user messages in a row.
      expect(result.sent.slice(0, 2)).toEqual([
        { role: 'user', content: 'before all' },
        { role: 'assistant', content: 'before all' },
      ]);
      result.sent.forEach((m, i) => {
        if (i > 0 && m.role === 'user') expect(result.sent[i - 1]?.role).toBe('assistant');
      });
    }
    const db = gateway.app.get(DataSource);
    const stored: { seq: number; role: string; content: string }[] = await db.query(
      'SELECT seq, role, content FROM chat_messages WHERE conversation_id = $1 ORDER BY seq',
      [conversation.id],
    );
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (let i = 0; i < 12; i += 2) {
      expect(stored[i]?.role).toBe('user');
      expect(stored[i + 1]).toMatchObject({ role: 'assistant', content: stored[i]?.content });
    }
  });

  it('answers a request over MAX_MESSAGES with a 400 naming the limit at once, and stays healthy', async () => {
    const conversation = await postConversation(jsonApi(gateway.url));
    const messages = Array.from({ length: 20_000 }, (_, i) => ({
      role: i % 2 === 0 ? 'user' : 'assistant',
      content: 'x',
    }));
    messages.push({ role: 'user', content: 'last' });
    const started = performance.now();
    const res = await post(gateway.url, '/v1/chat/completions', { conversation_id: conversation.id, messages });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: { param: 'messages', type: 'invalid_request_error' } });
    expect(res.body).toContain('2048 (MAX_MESSAGES)');
    // Generous: the point is that it answers without counting 20,000 messages first.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(sim.received().filter((r) => r.path === '/tokenize')).toHaveLength(0);
    expect((await say(gateway.url, conversation.id, 'still here')).status).toBe(200);
  });

  it('counts a turn of many uncounted messages once each, and answers it', async () => {
    sim.configure({ maxModelLen: 100_000 });
    const conversation = await postConversation(jsonApi(gateway.url));
    expect((await say(gateway.url, conversation.id, 'warm up')).status).toBe(200);
    // The warm-up's counts are written after its response; wait for them, so that only the new messages are uncounted.
    const db = gateway.app.get(DataSource);
    const uncounted = async (): Promise<number> => {
      const [row] = await db.query<{ n: number }[]>(
        'SELECT count(*)::int AS n FROM chat_messages WHERE conversation_id = $1 AND token_count IS NULL',
        [conversation.id],
      );
      return row?.n ?? 0;
    };
    for (let attempt = 0; attempt < 400 && (await uncounted()) > 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Named user messages are not covered by the byte bound, so the budget must count each one exactly.
    const messages = Array.from({ length: 200 }, (_, i) => ({ role: 'user', name: `u${i}`, content: `m ${i}` }));
    sim.resetStats();
    const res = await post(gateway.url, '/v1/chat/completions', { conversation_id: conversation.id, messages });
    expect(res.status).toBe(200);
    const tokenizeCalls = sim.received().filter((r) => r.path === '/tokenize');
    expect(tokenizeCalls.length).toBeGreaterThanOrEqual(200);
    // Each new message once (before the call, its count then stored), the reply once after it.
    expect(tokenizeCalls.length).toBeLessThanOrEqual(201);
  });

  it("lets a key continue only its own conversations: another key's id is a 404 that stores and sends nothing", async () => {
    const keys = ['sk-owner-one-0123456789', 'sk-owner-two-0123456789'];
    const secured = await startGateway({ VLLM_BASE_URL: sim.url, ENABLE_AUTH: 'true', API_KEY: keys.join(',') });
    try {
      const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
      const created = await send(secured.url, '/v1/conversations', '{}', as(keys[0] ?? ''));
      expect(created.status).toBe(201);
      const { id } = JSON.parse(created.body) as { id: string };
      const body = (content: string): string =>
        JSON.stringify({ conversation_id: id, messages: [{ role: 'user', content }] });

      const before = chatBodies().length;
      const stranger = await send(secured.url, '/v1/chat/completions', body('not mine'), as(keys[1] ?? ''));
      expect(stranger.status).toBe(404);
      expect(JSON.parse(stranger.body)).toMatchObject({ error: { param: 'conversation_id', code: 'not_found' } });
      expect(chatBodies()).toHaveLength(before);

      const owner = await send(secured.url, '/v1/chat/completions', body('mine'), as(keys[0] ?? ''));
      expect(owner.status).toBe(200);
      const db = secured.app.get(DataSource);
      const stored = await db.query<{ content: string }[]>(
        'SELECT content FROM chat_messages WHERE conversation_id = $1 ORDER BY seq',
        [id],
      );
      expect(stored.map((m) => m.content)).toEqual(['mine', 'mine']);
    } finally {
      await secured.close();
    }
  });
});
