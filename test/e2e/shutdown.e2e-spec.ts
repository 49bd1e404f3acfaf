import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { type Simulator, startSimulator } from '../../tools/vllm-sim/simulator.js';
import { jsonApi, postConversation } from '../factories/api.js';
import { type GatewayChild, type GatewayExit, startGatewayChild } from '../helpers/gateway-process.js';
import { openTestDataSource } from '../helpers/pg.js';
import { contentOf, get, open, post, sseData, waitFor } from '../helpers/relay.js';

/**
 * A stream stalled upstream, SIGTERM, and once the drain has begun a second SIGTERM: how the gateway exited, and how
 * long after the second signal.
 */
async function sigtermTwice(gateway: GatewayChild): Promise<{ exit: GatewayExit; afterSecondMs: number }> {
  const request = open(gateway.url, '/v1/chat/completions', {
    messages: [{ role: 'user', content: 'stalls' }],
    stream: true,
  });
  await request.response;
  gateway.child.kill('SIGTERM');
  // In cluster mode a worker's line: the primary has told it, and it is draining.
  await gateway.logged('shutting down: draining in-flight requests');
  const secondAt = performance.now();
  gateway.child.kill('SIGTERM');
  const exit = await gateway.exit;
  return { exit, afterSecondMs: exit.at - secondAt };
}

interface StoredMessage {
  conversation_id: string;
  role: string;
  status: string;
  content: string | null;
}

const GRACE_MS = 4_000;
const STREAMS = 50;
const SHUTTING_DOWN = 'The gateway is shutting down; please retry.';

/**
 * SIGTERM with streams open: the built app in a child process, the vLLM simulator and PostgreSQL. Half the streams
 * end within the grace period; the other half are stalled (vLLM sends its first token, then nothing for a minute)
 * and must be cut at the end of the grace period, their partial replies kept.
 */
describe('graceful shutdown on SIGTERM (e2e, built)', () => {
  let sim: Simulator;
  let db: DataSource;
  let cwd: string;

  beforeAll(async () => {
    sim = await startSimulator({ outputMode: 'fixed', outputTokens: 1_000 });
    db = await openTestDataSource();
  });

  afterAll(async () => {
    await db?.destroy();
    await sim?.close();
  });

  beforeEach(() => {
    // Every request's first token comes after 1.5 s, the next one a minute later: a 1-token reply (max_tokens 1)
    // ends at 1.5 s, inside the grace period; a longer one stalls after its first token.
    sim.configure({ ttftMs: 1_500, itlMs: 60_000, failure: null });
    sim.resetStats();
    cwd = mkdtempSync(join(tmpdir(), 'gateway-shutdown-'));
  });

  afterEach(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  /** The built gateway for one test, on the simulator; whatever the test's outcome, no process is left behind. */
  async function withGateway(
    env: Record<string, string>,
    test: (gateway: GatewayChild) => Promise<void>,
  ): Promise<void> {
    const gateway = await startGatewayChild(cwd, { VLLM_BASE_URL: sim.url, ...env });
    try {
      await test(gateway);
    } finally {
      if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
    }
  }

  it('lets fast streams finish, ends stalled ones with an error event and [DONE], stores every turn, exits 0', () =>
    withGateway({ SHUTDOWN_GRACE_MS: String(GRACE_MS) }, async (gateway) => {
      const call = jsonApi(gateway.url);
      const conversations = await Promise.all(Array.from({ length: STREAMS }, () => postConversation(call)));
      const stalled = (i: number): boolean => i % 2 === 1;
      const streams = conversations.map((conversation, i) => {
        const request = open(gateway.url, '/v1/chat/completions', {
          conversation_id: conversation.id,
          messages: [{ role: 'user', content: `question ${i}` }],
          stream: true,
          max_tokens: stalled(i) ? 1_000 : 1,
        });
        const ended = request.response.then(
          (res) =>
            new Promise<{ status: number; body: string; at: number }>((resolve) => {
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, body: request.received(), at: performance.now() }),
              );
              // A stream cut without its end (a socket destroyed) shows as status -1.
              res.on('close', () => resolve({ status: -1, body: request.received(), at: performance.now() }));
            }),
        );
        const socketClosed = new Promise<number>((resolve) =>
          request.req.once('socket', (socket) => socket.once('close', () => resolve(performance.now()))),
        );
        return { conversation, request, ended, socketClosed };
      });
      await Promise.all(streams.map((s) => s.request.response));
      // Fast ones may be done already on a slow machine; they are then simply done before the signal.
      await waitFor(
        () => sim.counters().inFlight + sim.counters().completed === STREAMS,
        'vLLM to accept every stream',
        30_000,
      );

      const signalledAt = performance.now();
      gateway.child.kill('SIGTERM');
      await gateway.logged('shutting down: draining in-flight requests');

      // Stop accepting: a new request on either path gets a 503 in OpenAI's shape, and its connection closes.
      const chat = await post(gateway.url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'late' }] });
      const express = await get(gateway.url, '/v1/conversations');
      for (const refused of [chat, express]) {
        expect(refused.status).toBe(503);
        expect(refused.headers.connection).toBe('close');
        expect(JSON.parse(refused.body)).toEqual({
          error: { message: SHUTTING_DOWN, type: expect.any(String), param: null, code: expect.anything() },
        });
      }

      const results = await Promise.all(streams.map((s) => s.ended));
      const exit = await gateway.exit;
      expect(exit).toMatchObject({ code: 0, signal: null });
      // Within the grace period plus a few seconds (generous: the machine is shared).
      expect(exit.at - signalledAt).toBeLessThan(GRACE_MS + 8_000);

      const rows = await db.query<StoredMessage[]>(
        'SELECT conversation_id, role, status, content FROM chat_messages WHERE conversation_id = ANY($1) ORDER BY conversation_id, seq',
        [conversations.map((c) => c.id)],
      );
      for (const [i, { conversation }] of streams.entries()) {
        const result = results[i];
        const events = sseData(result?.body ?? '');
        expect(result?.status).toBe(200);
        expect(events.at(-1)).toBe('[DONE]');
        const turn = rows.filter((r) => r.conversation_id === conversation.id);
        expect(turn.map((r) => r.role)).toEqual(['user', 'assistant']);
        expect(turn[0]?.status).toBe('complete');
        if (stalled(i)) {
          // Cut at the end of the grace period, not before, with an error event the client can act on.
          expect((result?.at ?? 0) - signalledAt).toBeGreaterThan(GRACE_MS * 0.8);
          expect(JSON.parse(events.at(-2) ?? '{}')).toMatchObject({ error: { message: SHUTTING_DOWN } });
          expect(turn[1]?.status).toBe('aborted');
        } else {
          expect(events.some((e) => e.includes('"error"'))).toBe(false);
          expect(turn[1]?.status).toBe('complete');
          // Its keep-alive connection was closed once idle, long before the stalled streams let the process go.
          expect((await streams[i]?.socketClosed) ?? Infinity).toBeLessThan(signalledAt + GRACE_MS * 0.8);
        }
        // What the client read is what is stored.
        expect(turn[1]?.content ?? '').toBe(contentOf(events));
      }
      // vLLM was told: the stalled requests were aborted upstream, nothing is left running there.
      expect(sim.counters()).toMatchObject({ inFlight: 0, completed: STREAMS / 2, aborted: STREAMS / 2 });

      // The usage queue was flushed before the pool closed: one row per completion.
      const usage = await db.query<{ status: string; n: number }[]>(
        'SELECT status, count(*)::int AS n FROM usage_records WHERE conversation_id = ANY($1) GROUP BY status ORDER BY status',
        [conversations.map((c) => c.id)],
      );
      expect(usage).toEqual([
        { status: 'aborted', n: STREAMS / 2 },
        { status: 'complete', n: STREAMS / 2 },
      ]);
    }));

  it('answers a non-streamed request still waiting at the end of the grace period with a 503, its turn stored', () =>
    withGateway({ SHUTDOWN_GRACE_MS: '1000' }, async (gateway) => {
      sim.configure({ ttftMs: 60_000 });
      const conversation = await postConversation(jsonApi(gateway.url));
      const pending = post(gateway.url, '/v1/chat/completions', {
        conversation_id: conversation.id,
        messages: [{ role: 'user', content: 'slow' }],
      });
      await waitFor(() => sim.counters().inFlight === 1, 'vLLM to accept the request', 30_000);
      gateway.child.kill('SIGTERM');
      const res = await pending;
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ error: { message: SHUTTING_DOWN } });
      expect(await gateway.exit).toMatchObject({ code: 0 });
      const rows = await db.query<StoredMessage[]>(
        'SELECT role, status FROM chat_messages WHERE conversation_id = $1 ORDER BY seq',
        [conversation.id],
      );
      expect(rows.map((r) => [r.role, r.status])).toEqual([
        ['user', 'complete'],
        ['assistant', 'aborted'],
      ]);
      expect(sim.counters()).toMatchObject({ inFlight: 0, aborted: 1 });
    }));

  it('in cluster mode, drains every worker the same way and the primary exits 0', () =>
    withGateway({ SHUTDOWN_GRACE_MS: '1500', GATEWAY_WORKERS: '2' }, async (gateway) => {
      const request = open(gateway.url, '/v1/chat/completions', {
        messages: [{ role: 'user', content: 'stalls' }],
        stream: true,
        max_tokens: 1_000,
      });
      const res = await request.response;
      // 'close' too: a worker killed instead of drained cuts the stream without its end.
      const ended = new Promise<void>((resolve) => res.on('close', resolve));
      await waitFor(() => sim.counters().inFlight === 1, 'vLLM to accept the request', 30_000);
      gateway.child.kill('SIGTERM');
      await ended;
      // The worker drained (it was not killed): its stream got the shutdown's error event and [DONE].
      const events = sseData(request.received());
      expect(events.at(-1)).toBe('[DONE]');
      expect(JSON.parse(events.at(-2) ?? '{}')).toMatchObject({ error: { message: SHUTTING_DOWN } });
      expect(await gateway.exit).toMatchObject({ code: 0, signal: null });
      expect(sim.counters()).toMatchObject({ inFlight: 0, aborted: 1 });
    }));

  it('in cluster mode, a second SIGTERM to the primary stops the workers at once', () =>
    withGateway({ SHUTDOWN_GRACE_MS: '60000', GATEWAY_WORKERS: '2' }, async (gateway) => {
      const { exit, afterSecondMs } = await sigtermTwice(gateway);
      expect(exit.code).toBe(1);
      expect(afterSecondMs).toBeLessThan(5_000);
      await waitFor(() => sim.counters().inFlight === 0, 'the killed worker to release vLLM', 10_000);
    }));

  it('exits at once on a second SIGTERM', () =>
    withGateway({ SHUTDOWN_GRACE_MS: '60000' }, async (gateway) => {
      const { exit, afterSecondMs } = await sigtermTwice(gateway);
      expect(exit.code).toBe(1);
      expect(afterSecondMs).toBeLessThan(5_000);
      expect(gateway.stderr()).toContain('second SIGTERM');
    }));
});
