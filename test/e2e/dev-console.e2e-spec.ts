import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../tools/vllm-sim/simulator.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'main.js');
const LISTENING = /listening on (http:\/\/\S+)/;

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * The developer console (`npm start` sets LOG_STDOUT=pretty): the built app's stdout shows readable lines, the start
 * banner after the start-up lines, and $LOG_DIR/app.log still gets JSON lines.
 */
describe('developer console: LOG_STDOUT=pretty (e2e, built)', () => {
  let sim: Simulator;
  let logDir: string;
  let run: Run;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "nest build" first (npm run test:e2e does)`);
    sim = await startSimulator();
    logDir = mkdtempSync(join(tmpdir(), 'dev-console-'));
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PORT: '0',
        HOST: '127.0.0.1',
        ENABLE_AUTH: 'false',
        GATEWAY_WORKERS: '1',
        LOG_LEVEL: 'info',
        LOG_DIR: logDir,
        LOG_STDOUT: 'pretty',
        VLLM_BASE_URL: sim.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    run = { stdout: '', stderr: '', code: null };
    child.stderr.on('data', (chunk: Buffer) => (run.stderr += chunk.toString('utf8')));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner on stdout: ${run.stdout}${run.stderr}`)), 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        run.stdout += chunk.toString('utf8');
        const match = LISTENING.exec(run.stdout);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1].replace('localhost', '127.0.0.1'));
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${run.stderr}`)));
    });
    expect((await fetch(`${url}/v1/models`)).status).toBe(200);
    const exited = new Promise<void>((resolve) => child.once('exit', (code) => ((run.code = code), resolve())));
    child.kill('SIGTERM');
    await exited;
  });

  afterAll(async () => {
    await sim?.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('shows readable lines, not JSON, and the start banner after the start-up lines', () => {
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n').filter((line) => line.trim() !== '');
    const banner = lines.findIndex((line) => LISTENING.test(line));
    const started = lines.findIndex((line) => line.includes('Nest application successfully started'));
    expect(started).toBeGreaterThanOrEqual(0);
    expect(banner).toBeGreaterThan(started);
    // Every log line, before the banner and after it (the banner's own lines are indented), is formatted; none is JSON.
    for (const line of lines.filter((text) => !text.startsWith('  '))) {
      expect(line).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] (INFO|WARNING|ERROR): /);
    }
    expect(run.stdout).toMatch(/INFO: request completed GET \/v1\/models 200 \d+ ms \(req [0-9a-f]{8}\)/);
    // Not a terminal here: readable, but without colour codes.
    expect(run.stdout).not.toContain('\u001b[');
    expect(run.stderr).not.toMatch(LISTENING);
  });

  it('keeps $LOG_DIR/app.log as JSON lines', () => {
    const entries = readFileSync(join(logDir, 'app.log'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'INFO', msg: 'request completed', path: '/v1/models', status_code: 200 }),
    );
    expect(entries).toContainEqual(expect.objectContaining({ msg: 'Nest application successfully started' }));
  });
});
