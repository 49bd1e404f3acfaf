import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The build, as `npm run test:e2e` leaves it (`nest build` runs first). */
const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunningMain {
  child: ChildProcessWithoutNullStreams;
  /** Resolves when the process has exited, with everything it wrote. */
  exit: Promise<Exit>;
  /** Resolves with the first match of `pattern` in stderr (rejects if the process exits first). */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
}

/**
 * A configuration that passes validation; nothing gets far enough to connect to these addresses. Authentication is on
 * by default, so it has a key.
 */
const VALID = {
  VLLM_BASE_URL: 'http://127.0.0.1:9',
  DATABASE_URL: 'postgres://gateway@127.0.0.1:9/gateway',
  API_KEY: 'client-key-config-e2e',
};

/** A gateway that starts for real (the test database), on a free port, logging at info level into `logDir`. */
const servingEnv = (logDir: string): Record<string, string> => ({
  ...VALID,
  DATABASE_URL: process.env.DATABASE_URL ?? '',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_DIR: logDir,
  LOG_LEVEL: 'info',
  ENABLE_AUTH: 'false',
});

const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

describe('main.js start-up (e2e, built)', () => {
  // An empty working directory: main.ts loads ./.env when there is one, and a developer's must not fill the gaps.
  let cwd: string;

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`nest build\` (npm run test:e2e does)`);
    cwd = mkdtempSync(join(tmpdir(), 'gateway-config-'));
  });

  afterAll(() => {
    rmSync(cwd, { recursive: true, force: true });
  });

  /** Only the given variables: the test process' own (DATABASE_URL from the global setup...) must not leak in. */
  function startMain(env: Record<string, string>): RunningMain {
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      // A bound, not an assertion: a process that starts instead of failing must not hang the suite.
      timeout: 30_000,
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exit = new Promise<Exit>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    const waitForStderr = (pattern: RegExp): Promise<RegExpMatchArray> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = stderr.match(pattern);
          if (match === null) return;
          child.stderr.off('data', check);
          resolve(match);
        };
        child.stderr.on('data', check);
        void exit.then((result) => reject(new Error(`exited (${result.code}) before ${pattern}:\n${result.stderr}`)));
        check();
      });
    return { child, exit, waitForStderr };
  }

  const runMain = (env: Record<string, string>): Promise<Exit> => startMain(env).exit;

  it('reports every bad variable at once on stderr and exits 1', async () => {
    const result = await runMain({
      PORT: 'abc',
      VLLM_BASE_URL: 'not-a-url',
      ENABLE_AUTH: 'true',
      ADMIN_PASSWORD: 'admin-password-value',
      JWT_SECRET: 'too-short',
    });

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(result.stderr).toMatch(/^Invalid configuration:\n/);
    for (const variable of ['PORT', 'VLLM_BASE_URL', 'DATABASE_URL', 'JWT_SECRET']) {
      expect(problems.filter((line) => line.includes(variable))).not.toEqual([]);
    }
    // Secrets are named, never echoed.
    expect(result.stderr).not.toContain('admin-password-value');
    expect(result.stderr).not.toContain('too-short');
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['VLLM_BASE_URL', { VLLM_BASE_URL: 'not-a-url' }],
    ['DATABASE_URL', { DATABASE_URL: '' }],
    ['ENABLE_AUTH', { ENABLE_AUTH: 'true', API_KEY: '' }],
    ['JWT_SECRET', { ADMIN_PASSWORD: 'admin-password-value', JWT_SECRET: 'too-short' }],
  ])('names %s alone when only it is wrong', async (variable, override) => {
    const result = await runMain({ ...VALID, ...override });

    expect(result.code).toBe(1);
    const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(variable);
  });

  it('starts with a valid configuration, logs JSON lines to stdout and app.log, and flushes them on SIGTERM', async () => {
    const logDir = join(cwd, 'logs');
    const main = startMain(servingEnv(logDir));
    const [, url] = await main.waitForStderr(LISTENING);
    const res = await fetch(`${url}/`, { headers: { 'X-Request-Id': 'main-boot-1' } });
    expect(res.headers.get('x-request-id')).toBe('main-boot-1');
    await res.arrayBuffer();

    main.child.kill('SIGTERM');
    const result = await main.exit;
    // main.ts drains, closes the app (which flushes the log) and exits 0: an orchestrator reads a clean stop.
    expect(result).toMatchObject({ code: 0, signal: null });

    const parse = (text: string): { request_id?: string; msg: string }[] =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as { request_id?: string; msg: string });
    const stdoutLines = parse(result.stdout);
    const fileLines = parse(readFileSync(join(logDir, 'app.log'), 'utf8'));
    for (const lines of [stdoutLines, fileLines]) {
      const mine = lines.filter((line) => line.request_id === 'main-boot-1').map((line) => line.msg);
      expect(mine).toEqual(['request started', 'request completed']);
    }
    expect(fileLines).toEqual(stdoutLines);
  });

  it('runs GATEWAY_WORKERS workers on one port, and stops them all on SIGTERM', async () => {
    const logDir = join(cwd, 'cluster-logs');
    const main = startMain({ ...servingEnv(logDir), GATEWAY_WORKERS: '2' });
    const [, url] = await main.waitForStderr(LISTENING);
    // A new connection per request: the primary hands connections to the workers in turn (once both listen).
    const pidsServing = (): Set<number> => {
      const file = join(logDir, 'app.log');
      const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
      const pids = lines
        .filter((line) => line.includes('"request_id":"cluster-'))
        .map((line) => (JSON.parse(line) as { pid: number }).pid);
      return new Set(pids);
    };
    for (let i = 0; i < 200 && pidsServing().size < 2; i++) {
      const status = await new Promise<number>((resolve, reject) => {
        get(`${url}/`, { agent: false, headers: { 'X-Request-Id': `cluster-${i}` } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      expect(status).toBeLessThan(500);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const workers = childPids(main.child.pid);
    expect(workers).toHaveLength(2);
    expect([...pidsServing()].sort()).toEqual([...workers].sort());

    main.child.kill('SIGTERM');
    const result = await main.exit;
    expect(result.code).toBe(0);
    for (const pid of workers) expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});

/** Live child processes of `pid` (Linux /proc). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone while listing.
    }
  }
  return children;
}
