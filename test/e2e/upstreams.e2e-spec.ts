import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';
import { Cancellation } from '../../src/common/cancellation.js';
import { AppError } from '../../src/common/errors/app-error.js';
import { loadConfig } from '../../src/config/load-config.js';
import { upstreamRequestId, VllmService } from '../../src/vllm/vllm.service.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { get, open, post, waitFor } from '../helpers/relay.js';

const messages = [{ role: 'user', content: 'hello there' }];

/** A request through the service itself, the way a conversation turn sends it (with a sticky key). */
async function viaService(
  vllm: VllmService,
  stickyKey: string | undefined,
  requestId: string,
): Promise<{ upstream: string; attemptId: string }> {
  const answer = await vllm.send('/v1/chat/completions', { messages }, new Cancellation(), {
    requestId,
    stickyKey,
  });
  if (answer.kind !== 'json') {
    answer.cancel();
    throw new Error(`expected a JSON answer, got ${answer.contentType}`);
  }
  return { upstream: answer.upstream, attemptId: answer.attemptId };
}

describe('several upstreams', () => {
  let a: Simulator;
  let b: Simulator;
  let gateway: RunningGateway;
  let vllm: VllmService;
  let bPort: number;

  beforeAll(async () => {
    a = await startSimulator();
    b = await startSimulator();
    bPort = b.port;
    gateway = await startGateway({ VLLM_BASE_URL: `${a.url},${b.url}` });
    vllm = gateway.app.get(VllmService);
  });

  afterAll(async () => {
    await gateway?.close();
    await a?.close();
    await b?.close();
  });

  beforeEach(() => {
    a.resetStats();
    b.resetStats();
  });

  it('sends each request to the upstream with the fewest in flight', async () => {
    // One long stream holds a slot on one upstream; short requests ask for two tokens of the same slow output.
    a.configure({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 5 });
    b.configure({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 5 });
    const held = open(gateway.url, '/v1/chat/completions', { messages, stream: true });
    try {
      expect((await held.response).statusCode).toBe(200);
      const [busy, idle] = a.counters().received === 1 ? [a, b] : [b, a];
      expect(idle.counters().received).toBe(0);
      // One after another, so each sees one request in flight on the busy upstream and none on the idle one. Round
      // robin would send every other one to the busy upstream.
      for (let i = 0; i < 6; i++) {
        const res = await post(gateway.url, '/v1/chat/completions', { messages, max_tokens: 2 });
        expect(res.status).toBe(200);
      }
      expect(busy.counters().received).toBe(1);
      expect(idle.counters().received).toBe(6);
      expect(busy.counters().inFlight).toBe(1);
    } finally {
      held.req.destroy();
      await waitFor(() => a.counters().inFlight + b.counters().inFlight === 0, 'the held stream to be aborted');
      a.configure({ outputMode: 'echo', outputTokens: 16, itlMs: 0 });
      b.configure({ outputMode: 'echo', outputTokens: 16, itlMs: 0 });
    }
  });

  it('spreads concurrent requests over both upstreams', async () => {
    a.configure({ ttftMs: 50 });
    b.configure({ ttftMs: 50 });
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => post(gateway.url, '/v1/chat/completions', { messages })),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      // 5/5 when all ten overlap; a slow machine may finish some before the last ones arrive.
      expect(a.counters().received).toBeGreaterThan(0);
      expect(b.counters().received).toBeGreaterThan(0);
      expect(a.counters().received + b.counters().received).toBe(10);
    } finally {
      a.configure({ ttftMs: 0 });
      b.configure({ ttftMs: 0 });
    }
  });

  it('keeps a conversation on one upstream, and spreads conversations', async () => {
    const seen = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const key = `conversation-${i}`;
          const { upstream } = await viaService(vllm, key, `sticky-${round}-${i}`);
          seen.set(key, (seen.get(key) ?? new Set()).add(upstream));
        }),
      );
    }
    for (const upstreams of seen.values()) expect(upstreams.size).toBe(1);
    const used = new Set([...seen.values()].flatMap((s) => [...s]));
    expect(used).toEqual(new Set([a.url, b.url]));
  });

  it('tokenizes on the conversation’s upstream, and keeps vLLM’s errors', async () => {
    const key = 'conversation-tokenize';
    const home = vllm.pool.pick(key)?.url;
    const result = await vllm.tokenize({ prompt: 'one two three' }, { requestId: 'tok-1', stickyKey: key });
    expect(result.count).toBe(result.tokens.length);
    expect(result.count).toBeGreaterThan(0);
    const served = [a, b].find((s) => s.url === home);
    expect(served?.received().at(-1)).toMatchObject({
      path: '/tokenize',
      headers: { 'x-request-id': upstreamRequestId('tok-1') },
    });
    await expect(vllm.tokenize({ model: 'nope', prompt: 'x' }, { requestId: 'tok-2' })).rejects.toMatchObject({
      code: 'upstream_error',
      upstreamStatus: 404,
    });
  });

  it('merges the upstreams’ model lists', async () => {
    const other = await startSimulator({ servedModelNames: ['other-model', 'sim-model'] });
    const g = await startGateway({ VLLM_BASE_URL: `${a.url},${other.url}` });
    try {
      const res = await get(g.url, '/v1/models');
      expect(res.status).toBe(200);
      const list = JSON.parse(res.body) as { object: string; data: { id: string; object: string; root: string }[] };
      expect(list.object).toBe('list');
      expect(list.data.map((m) => m.id).sort()).toEqual(['other-model', 'sim-model']);
      // vLLM's cards are kept as they are.
      expect(list.data[0]).toMatchObject({ object: 'model', owned_by: 'vllm' });
    } finally {
      await g.close();
      await other.close();
    }
  });

  it('ejects a stopped upstream, keeps serving on the other, and re-admits it when it is back', async () => {
    const stickyToB = Array.from({ length: 50 }, (_, i) => `k${i}`).find(
      (key) => vllm.pool.pick(key)?.url === b.url,
    ) as string;
    await b.close();

    // A request routed to the stopped upstream is retried on the other one, with a new attempt id (`-2`, or `-3`
    // when a pooled connection to the stopped upstream was tried first).
    const retried = await viaService(vllm, stickyToB, 'retry-me');
    expect(retried.upstream).toBe(a.url);
    expect([2, 3].map((n) => upstreamRequestId('retry-me', n))).toContain(retried.attemptId);
    expect(a.received().at(-1)?.headers['x-request-id']).toBe(retried.attemptId);

    // No client sees the failure while the pool learns.
    const results = await Promise.all(
      Array.from({ length: 6 }, () => post(gateway.url, '/v1/chat/completions', { messages })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const bState = vllm.pool.upstreams.find((u) => u.url === b.url);
    await waitFor(() => bState?.ejected === true, 'the stopped upstream to be ejected');

    // Ejected: traffic (sticky or not) goes to the other upstream without trying the stopped one.
    a.resetStats();
    for (let i = 0; i < 4; i++)
      expect((await post(gateway.url, '/v1/chat/completions', { messages })).status).toBe(200);
    expect((await viaService(vllm, stickyToB, 'while-ejected')).attemptId).toBe(upstreamRequestId('while-ejected'));
    expect(a.counters().received).toBe(5);

    // Back on the same address: the background probe re-admits it, and its conversations come home.
    b = await startSimulator({ port: bPort });
    await waitFor(() => bState?.ejected === false, 'the upstream to be re-admitted', 10_000);
    expect((await viaService(vllm, stickyToB, 'home-again')).upstream).toBe(b.url);
  });
});

describe('a consumer that stops reading a stream', () => {
  it('ends the stream after the idle timeout without counting it against the upstream', async () => {
    const sim = await startSimulator();
    sim.configure({ outputMode: 'fixed', outputTokens: 2_000, itlMs: 5 });
    const vllm = new VllmService(
      loadConfig({
        VLLM_BASE_URL: sim.url,
        DATABASE_URL: 'postgres://unused/db',
        VLLM_IDLE_TIMEOUT_MS: '100',
        ENABLE_AUTH: 'false',
      }),
    );
    try {
      const answer = await vllm.send('/v1/chat/completions', { messages, stream: true }, new Cancellation(), {
        requestId: 'slow-reader',
      });
      if (answer.kind !== 'stream') throw new Error(`expected a stream, got ${answer.contentType}`);
      const events = answer.batches[Symbol.asyncIterator]();
      expect((await events.next()).done).toBe(false);
      // The consumer asks for nothing (a relay waiting on a client that does not read) while vLLM keeps sending.
      await new Promise((resolve) => setTimeout(resolve, 400));
      let failure: unknown;
      try {
        while ((await events.next()).done !== true);
      } catch (err) {
        failure = err;
      }
      expect(failure).toBeInstanceOf(AppError);
      expect((failure as AppError).message).toMatch(/client read nothing/);
      await waitFor(() => sim.counters().aborted === 1, 'vLLM to see the abort');
      expect(vllm.pool.upstreams[0]?.consecutiveFailures).toBe(0);
    } finally {
      vllm.close();
      await sim.close();
    }
  });
});
