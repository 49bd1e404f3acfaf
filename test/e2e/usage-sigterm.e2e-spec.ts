import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { type Simulator, startSimulator } from '../../tools/vllm-sim/simulator.js';
import { UsageRecord } from '../../src/usage/usage-record.entity.js';
import { startGatewayChild } from '../helpers/gateway-process.js';
import { openTestDataSource } from '../helpers/pg.js';
import { post } from '../helpers/relay.js';

const MODEL = `sigterm-${randomUUID().slice(0, 8)}`;

/**
 * Usage rows still in the queue when SIGTERM arrives are written before the process exits. The built app, so the
 * signal goes to the real process, not to app.close().
 */
describe('usage rows survive a SIGTERM (e2e, built)', () => {
  let sim: Simulator;
  let db: DataSource;
  let cwd: string;

  beforeAll(async () => {
    sim = await startSimulator({ servedModelNames: [MODEL], outputMode: 'fixed', outputTokens: 4 });
    db = await openTestDataSource();
    cwd = mkdtempSync(join(tmpdir(), 'usage-sigterm-'));
  });

  afterAll(async () => {
    await db?.destroy();
    await sim?.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('writes the queued rows, then exits 0', async () => {
    const gateway = await startGatewayChild(cwd, { VLLM_BASE_URL: sim.url, LOG_LEVEL: 'warn' });
    for (let i = 0; i < 3; i++) {
      const res = await post(gateway.url, '/v1/chat/completions', {
        model: MODEL,
        messages: [{ role: 'user', content: `row ${i}` }],
      });
      expect(res.status).toBe(200);
    }
    // At once: the writer's one-second timer has not run for these rows.
    gateway.child.kill('SIGTERM');
    expect((await gateway.exit).code).toBe(0);
    const rows = await db.getRepository(UsageRecord).findBy({ model: MODEL });
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.status === 'complete' && r.outputTokens === 4)).toBe(true);
  });
});
