import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The build, as `npm run test:e2e` leaves it (`nest build` runs first). */
const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

function builtMain(): string {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "nest build" first (npm run test:e2e does)`);
  return MAIN;
}

export interface GatewayProcess {
  url: string;
  stop(): Promise<void>;
}

/**
 * A gateway in a process of its own (the built app, `dist/src/main.js`): no memory shared with the test or with an
 * in-process gateway, as with several hosts behind a load balancer. It inherits the test's environment (DATABASE_URL
 * from the Jest global setup); `env` overrides it. Without auth unless `env` turns it on.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child: ChildProcess = spawn(process.execPath, [builtMain()], {
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      ENABLE_AUTH: 'false',
      LOG_LEVEL: 'silent',
      GATEWAY_WORKERS: '1',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway process did not start: ${stderr}`)), 30_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1].replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway process exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface GatewayExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the process was gone. */
  at: number;
}

export interface GatewayChild {
  child: ChildProcessWithoutNullStreams;
  url: string;
  exit: Promise<GatewayExit>;
  /** Resolves once a JSON log line on stdout has this `msg`. */
  logged(msg: string): Promise<void>;
  stderr(): string;
}

/**
 * The built gateway as a child for a test that signals it and watches it go: only the environment given (nothing
 * inherited but PATH and DATABASE_URL), its files in `cwd`, JSON log lines on stdout, and its exit as it happened.
 */
export async function startGatewayChild(cwd: string, env: Record<string, string>): Promise<GatewayChild> {
  const child = spawn(process.execPath, [builtMain()], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: process.env.DATABASE_URL ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      ENABLE_AUTH: 'false',
      LOG_DIR: join(cwd, 'logs'),
      LOG_LEVEL: 'info',
      LOG_STDOUT: 'json',
      ...env,
    },
    // A bound, not an assertion: a process that never exits must not hang the suite.
    timeout: 90_000,
  });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const watch of watchers) watch();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    for (const watch of watchers) watch();
  });
  const exit = new Promise<GatewayExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
  });
  const until = <T>(find: () => T | undefined, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const watch = (): void => {
        const found = find();
        if (found === undefined) return;
        watchers.delete(watch);
        resolve(found);
      };
      watchers.add(watch);
      void exit.then((e) => reject(new Error(`exited (${e.code ?? e.signal}) before ${what}:\n${stderr}`)));
      watch();
    });
  const url = await until(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1], 'listening');
  return {
    child,
    url,
    exit,
    logged: (msg) =>
      until(() => (stdout.includes(`"msg":"${msg}"`) ? true : undefined), `the log line "${msg}"`).then(
        () => undefined,
      ),
    stderr: () => stderr,
  };
}
