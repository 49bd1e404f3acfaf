import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataSource } from 'typeorm';
import { type Simulator, startSimulator } from '../../tools/vllm-sim/simulator.js';
import { UsageRecord } from '../../src/usage/usage-record.entity.js';
import { openTestDataSource } from '../helpers/pg.js';
import { post } from '../helpers/relay.js';

/** The build, as `npm run test:e2e` leaves it: the signal goes to the real process, not to app.close(). */
const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));
const MODEL = `sigterm-${randomUUID().slice(0, 8)}`;

/** Usage rows still in the queue when SIGTERM arrives are written before the process exits. */
describe('usage rows survive a SIGTERM (e2e, built)', () => {
  let sim: Simulator;
  let db: DataSource;
  let cwd: string;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`nest build\` (npm run test:e2e does)`);
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
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: process.env.DATABASE_URL ?? '',
        VLLM_BASE_URL: sim.url,
        PORT: '0',
        HOST: '127.0.0.1',
        ENABLE_AUTH: 'false',
        LOG_DIR: join(cwd, 'logs'),
        LOG_LEVEL: 'warn',
        LOG_STDOUT: 'json',
      },
      timeout: 60_000,
    });
    child.stdin.end();
    child.stdout.resume();
    let stderr = '';
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
        if (found !== undefined) resolve(found);
      });
      void exit.then((code) => reject(new Error(`exited (${code}) before listening:\n${stderr}`)));
    });

    for (let i = 0; i < 3; i++) {
      const res = await post(url, '/v1/chat/completions', {
        model: MODEL,
        messages: [{ role: 'user', content: `row ${i}` }],
      });
      expect(res.status).toBe(200);
    }
    // At once: the writer's one-second timer has not run for these rows.
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    const rows = await db.getRepository(UsageRecord).findBy({ model: MODEL });
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.status === 'complete' && r.outputTokens === 4)).toBe(true);
  });
});
