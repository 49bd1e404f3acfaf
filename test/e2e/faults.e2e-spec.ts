import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import { DataSource } from 'typeorm';
import { ShutdownService } from '../../src/common/shutdown/shutdown.service.js';
import { VllmService } from '../../src/vllm/vllm.service.js';
import { mulberry32 } from '../../tools/vllm-sim/generation.js';
import { type Simulator, startSimulator } from '../../tools/vllm-sim/simulator.js';
import { jsonApi, postConversation } from '../factories/api.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { parseMetrics, valueOf } from '../helpers/prometheus.js';
import { contentOf, get, open, post, sseData, waitFor } from '../helpers/relay.js';

interface StoredMessage {
  role: string;
  status: string;
  content: string | null;
}

/** The conversation's rows, in order: what a later turn, or an admin, will find. */
function storedMessages(gateway: RunningGateway, conversationId: string): Promise<StoredMessage[]> {
  return gateway.app
    .get(DataSource)
    .query<StoredMessage[]>('SELECT role, status, content FROM chat_messages WHERE conversation_id = $1 ORDER BY seq', [
      conversationId,
    ]);
}

/** Polls an async condition (the database) every 20 ms; never a fixed sleep. */
async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Nothing of a request is left behind in the gateway: upstream slots, relays awaiting their commit, open responses. */
async function expectNothingInFlight(gateway: RunningGateway): Promise<void> {
  const vllm = gateway.app.get(VllmService);
  const shutdown = gateway.app.get(ShutdownService);
  await waitFor(
    () => vllm.pool.upstreams.every((u) => u.inFlight === 0),
    'the upstream pool to have nothing in flight',
    10_000,
  );
  await waitFor(
    () => shutdown.pending().relays === 0 && shutdown.pending().responses === 0,
    'every relay to settle',
    10_000,
  );
  const samples = parseMetrics((await get(gateway.url, '/metrics')).body);
  expect(valueOf(samples, 'gateway_upstream_in_flight_requests')).toBe(0);
  expect(valueOf(samples, 'gateway_streams_in_flight')).toBe(0);
}

const question = (conversationId: string, stream: boolean) => ({
  conversation_id: conversationId,
  messages: [{ role: 'user', content: 'What is the weather like?' }],
  stream,
});

/** A failure the client sees, and what it leaves stored, for both forms of the request. */
interface Fault {
  name: string;
  /** The gateway under test (one with a dead upstream for the refused connection). */
  gateway: () => RunningGateway;
  /** Puts the simulator in the fault's state. */
  arrange: () => void;
  /** What the client gets: an HTTP status, or a 200 stream that ends with an error event. */
  streamed: number | 'error-event';
  nonStreamed: number;
}

/**
 * Upstream faults, each asserted from the client's side (status or in-stream error, quickly) and from the database's
 * (the user message kept, the reply stored as `error`) and for leaks (nothing in flight in the gateway or vLLM).
 * Real app, PostgreSQL and the vLLM simulator.
 */
describe('upstream faults (e2e)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;
  /** Its only upstream is a closed port: every connection is refused. */
  let refusing: RunningGateway;

  beforeAll(async () => {
    sim = await startSimulator({ outputMode: 'fixed', outputTokens: 20 });
    gateway = await startGateway({ VLLM_BASE_URL: sim.url, VLLM_FIRST_BYTE_TIMEOUT_MS: '500' });
    refusing = await startGateway({ VLLM_BASE_URL: 'http://127.0.0.1:9' });
  });

  afterAll(async () => {
    await refusing?.close();
    await gateway?.close();
    await sim?.close();
  });

  beforeEach(() => {
    sim.configure({ failure: null, ttftMs: 0, itlMs: 0 });
    sim.resetStats();
  });

  const faults: Fault[] = [
    {
      name: 'vLLM refuses the connection',
      gateway: () => refusing,
      arrange: () => undefined,
      // No upstream could be reached: the gateway has nowhere to send it, as when every upstream is ejected.
      streamed: 503,
      nonStreamed: 503,
    },
    {
      name: 'vLLM hangs before the first byte',
      gateway: () => gateway,
      arrange: () => sim.configure({ failure: { kind: 'hang' } }),
      streamed: 504,
      nonStreamed: 504,
    },
    {
      name: 'vLLM drops the connection mid-generation',
      gateway: () => gateway,
      arrange: () => sim.configure({ failure: { kind: 'drop_connection', afterTokens: 3 } }),
      streamed: 'error-event',
      nonStreamed: 502,
    },
    {
      name: 'vLLM answers 500',
      gateway: () => gateway,
      arrange: () => sim.configure({ failure: { kind: 'error_before_stream', status: 500 } }),
      streamed: 500,
      nonStreamed: 500,
    },
    {
      name: 'vLLM answers 503',
      gateway: () => gateway,
      arrange: () => sim.configure({ failure: { kind: 'error_before_stream', status: 503 } }),
      streamed: 503,
      nonStreamed: 503,
    },
  ];

  describe.each(faults)('$name', (fault) => {
    it.each([true, false])(
      'stream: %s — the client hears it quickly, the turn is stored with an error reply',
      async (stream) => {
        const target = fault.gateway();
        fault.arrange();
        const conversation = await postConversation(jsonApi(target.url));
        const started = Date.now();
        const res = await post(target.url, '/v1/chat/completions', question(conversation.id, stream));
        // Generous for a loaded machine; the point is seconds, not the 10-minute first-byte default.
        expect(Date.now() - started).toBeLessThan(5_000);

        const expected = stream ? fault.streamed : fault.nonStreamed;
        if (expected === 'error-event') {
          expect(res.status).toBe(200);
          const events = sseData(res.body);
          expect(events.at(-1)).toBe('[DONE]');
          const last = JSON.parse(events.at(-2) ?? '{}') as { error?: { message?: string; type?: string } };
          expect(typeof last.error?.message).toBe('string');
        } else {
          expect(res.status).toBe(expected);
          const body = JSON.parse(res.body) as { error?: { message?: unknown; type?: unknown } };
          expect(typeof body.error?.message).toBe('string');
          expect(typeof body.error?.type).toBe('string');
        }

        // The reply is committed before the client's last bytes: no waiting needed.
        const rows = await storedMessages(target, conversation.id);
        expect(rows.map((r) => [r.role, r.status])).toEqual([
          ['user', 'complete'],
          ['assistant', 'error'],
        ]);
        expect(rows[0]?.content).toBe('What is the weather like?');

        await expectNothingInFlight(target);
        await waitFor(() => sim.counters().inFlight === 0, 'vLLM to have nothing in flight', 10_000);
        if (fault.name.includes('hangs')) {
          // The gateway's first-byte timeout closed the upstream request: vLLM frees the slot.
          await waitFor(() => sim.counters().aborted === 1, 'vLLM to count the abort', 10_000);
        }
      },
    );
  });

  it('keeps serving once vLLM recovers', async () => {
    const conversation = await postConversation(jsonApi(gateway.url));
    const res = await post(gateway.url, '/v1/chat/completions', question(conversation.id, true));
    expect(res.status).toBe(200);
    expect(contentOf(sseData(res.body)).length).toBeGreaterThan(0);
    const rows = await storedMessages(gateway, conversation.id);
    expect(rows.map((r) => r.status)).toEqual(['complete', 'complete']);
  });
});

const CLIENTS = 100;
const SEED = 12;

describe('100 clients disconnecting at random points of their streams (e2e)', () => {
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    // Streams of 20 s: every client hangs up long before its stream would end.
    sim = await startSimulator({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 10 });
    gateway = await startGateway({ VLLM_BASE_URL: sim.url });
  });

  afterAll(async () => {
    await gateway?.close();
    await sim?.close();
  });

  it('aborts every upstream request, stores each partial reply once, and leaks no counter or socket', async () => {
    // Seeded, so a failing run can be replayed exactly.
    const random = mulberry32(SEED);
    const call = jsonApi(gateway.url);
    const conversations = await Promise.all(Array.from({ length: CLIENTS }, () => postConversation(call)));
    // After the headers, 0 to 30 events in: before the first token, and at any point of the stream.
    const cutAfter = conversations.map(() => Math.floor(random() * 31));

    const seen = await Promise.all(
      conversations.map(async (conversation, i) => {
        const request = open(gateway.url, '/v1/chat/completions', question(conversation.id, true));
        const res = await request.response;
        expect(res.statusCode).toBe(200);
        const events = (): number => request.received().split('\n\n').length - 1;
        await waitFor(() => events() >= (cutAfter[i] ?? 0), `client ${i} to get its events`, 30_000);
        const text = contentOf(sseData(request.received()));
        request.req.destroy();
        return text;
      }),
    );

    await waitFor(() => sim.counters().aborted === CLIENTS, 'vLLM to count every abort', 30_000);
    expect(sim.counters().completed).toBe(0);
    await waitFor(() => sim.counters().inFlight === 0, 'vLLM to have nothing in flight', 10_000);
    await expectNothingInFlight(gateway);
    const server: Server = gateway.app.getHttpServer();
    const connections = (): Promise<number> =>
      new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    await eventually(async () => (await connections()) === 0, 'every client socket to close');

    for (const [i, conversation] of conversations.entries()) {
      let rows: StoredMessage[] = [];
      await eventually(async () => {
        rows = await storedMessages(gateway, conversation.id);
        return rows.length >= 2;
      }, `conversation ${i}'s reply to be stored`);
      // One assistant row per turn, never a duplicate from a second commit.
      expect(rows.map((r) => [r.role, r.status])).toEqual([
        ['user', 'complete'],
        ['assistant', 'aborted'],
      ]);
      // What was relayed is kept: at least what this client had read when it left.
      const client = seen[i] ?? '';
      expect((rows[1]?.content ?? '').slice(0, client.length)).toBe(client);
    }
  });
});
