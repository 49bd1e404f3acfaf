import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { HealthReportDto, RootInfoDto } from '../../src/health/health.dto.js';
import { PgCluster } from '../../tools/pg/cluster.js';
import { startSimulator } from '../../tools/vllm-sim/simulator.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

type Simulator = Awaited<ReturnType<typeof startSimulator>>;

interface HealthResponse {
  status: number;
  body: HealthReportDto;
}

async function getHealth(gateway: RunningGateway): Promise<HealthResponse> {
  const res = await fetch(`${gateway.url}/health`);
  return { status: res.status, body: (await res.json()) as HealthReportDto };
}

/** Polls /health until `done` holds; recovery takes as long as a reconnect, which no test should guess. */
async function waitForHealth(
  gateway: RunningGateway,
  done: (res: HealthResponse) => boolean,
  timeoutMs = 20_000,
): Promise<HealthResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await getHealth(gateway);
    if (done(res) || Date.now() > deadline) return res;
    await delay(100);
  }
}

describe('health (e2e)', () => {
  // A database of its own: these tests stop it, which must not hurt suites sharing the global one.
  let pg: PgCluster;
  let sim: Simulator;
  let gateway: RunningGateway;

  beforeAll(async () => {
    pg = await PgCluster.startThrowaway();
    sim = await startSimulator({ host: '127.0.0.1', port: 0 });
    gateway = await startGateway({ DATABASE_URL: pg.url(), VLLM_BASE_URL: sim.url, MIGRATIONS_RUN: 'true' });
  });

  afterAll(async () => {
    // Each one even if another fails: a cluster left running outlives the test process.
    try {
      await gateway?.close();
    } finally {
      try {
        await sim?.close();
      } finally {
        await pg?.destroy();
      }
    }
  });

  it('GET / names the service, its version and its endpoints', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };

    const res = await fetch(`${gateway.url}/`);

    expect(res.status).toBe(200);
    expect((await res.json()) as RootInfoDto).toEqual({
      name: 'llm-gateway',
      version: pkg.version,
      links: {
        docs: '/docs',
        health: '/health',
        models: '/v1/models',
        chat_completions: '/v1/chat/completions',
        conversations: '/v1/conversations',
        llm_configs: '/v1/llm-configs',
      },
    });
  });

  it('links only to endpoints that exist', async () => {
    const { links } = (await (await fetch(`${gateway.url}/`)).json()) as RootInfoDto;
    for (const [name, path] of Object.entries(links) as [string, string][]) {
      // The chat route takes POST only; the others answer a plain GET.
      const res =
        name === 'chat_completions'
          ? await fetch(`${gateway.url}${path}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{}',
            })
          : await fetch(`${gateway.url}${path}`);
      await res.arrayBuffer();
      expect({ path, status: res.status }).toEqual({ path, status: name === 'chat_completions' ? 400 : 200 });
    }
  });

  it('GET /health is 200 ok with the database and upstream details', async () => {
    const { status, body } = await getHealth(gateway);

    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      checks: {
        database: { status: 'up', latency_ms: expect.any(Number) },
        upstreams: [{ url: sim.url, status: 'up', latency_ms: expect.any(Number) }],
      },
    });
  });

  it('turns 503 when the database stops and recovers when it starts again', async () => {
    await pg.stop();
    let down: HealthResponse;
    try {
      // A report is reused for up to HEALTH_CACHE_MS: the outage shows on the first probe after it.
      down = await waitForHealth(gateway, (res) => res.status === 503, 5_000);
    } finally {
      // Restarted even when the request fails, so one failure does not cascade into the next tests.
      await pg.start();
    }

    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.checks.database).toMatchObject({ status: 'down', error: expect.any(String) });
    expect(down.body.checks.upstreams[0]?.status).toBe('up');

    const recovered = await waitForHealth(gateway, (res) => res.status === 200);

    expect(recovered.status).toBe(200);
    expect(recovered.body.checks.database.status).toBe('up');
  });

  it('turns 503 when the only upstream stops and recovers when it is back on the same port', async () => {
    const { port, url } = sim;
    await sim.close();
    let down: HealthResponse;
    try {
      // A report is reused for up to HEALTH_CACHE_MS: the outage shows on the first probe after it.
      down = await waitForHealth(gateway, (res) => res.status === 503, 5_000);
    } finally {
      sim = await startSimulator({ host: '127.0.0.1', port });
    }

    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.checks.upstreams).toEqual([
      { url, status: 'down', latency_ms: expect.any(Number), error: expect.any(String) },
    ]);
    expect(down.body.checks.database.status).toBe('up');

    const recovered = await waitForHealth(gateway, (res) => res.status === 200);

    expect(recovered.status).toBe(200);
    expect(recovered.body.status).toBe('ok');
  });

  it('probes at most once per cache period (2 s), however often it is asked', async () => {
    const probes = (): number => sim.received().filter((r) => r.path === '/health').length;
    const before = probes();
    const reports = await Promise.all(Array.from({ length: 20 }, () => getHealth(gateway)));
    expect(reports.every((r) => r.status === 200)).toBe(true);
    // One probe when the cached report had expired, none when it was fresh.
    expect(probes() - before).toBeLessThanOrEqual(1);
  });

  it('is 200 degraded when one of two upstreams is down', async () => {
    const other = await startSimulator({ host: '127.0.0.1', port: 0 });
    await other.close();
    const twoUpstreams = await startGateway({
      DATABASE_URL: pg.url(),
      VLLM_BASE_URL: `${sim.url},${other.url}`,
    });
    try {
      const { status, body } = await getHealth(twoUpstreams);

      expect(status).toBe(200);
      expect(body.status).toBe('degraded');
      expect(body.checks.upstreams).toEqual([
        { url: sim.url, status: 'up', latency_ms: expect.any(Number) },
        { url: other.url, status: 'down', latency_ms: expect.any(Number), error: expect.any(String) },
      ]);
    } finally {
      await twoUpstreams.close();
    }
  });
});
