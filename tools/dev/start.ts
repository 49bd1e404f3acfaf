/**
 * `npm start` / `npm run dev`: runs the gateway with whatever it lacks. Without DATABASE_URL it starts a persistent
 * PostgreSQL with its data in .data/pg and turns on MIGRATIONS_RUN; without VLLM_BASE_URL it starts the vLLM
 * simulator in this process. Client authentication is off unless ENABLE_AUTH is set (the product's default is on):
 * a local try-out should not need a key first. Then it runs the built gateway (`--watch`: `nest start --watch`) until it exits, and
 * stops what it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { findFreePort, PgCluster, serverCanEnter } from '../pg/cluster.js';
import { startSimulator } from '../vllm-sim/simulator.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PG_PORT = 54329;
const SIM_PORT = 8000;
const DATABASE = 'llm_gateway';
const GROUP_EXIT_TIMEOUT_MS = 10_000;

const log = (message: string): void => {
  process.stdout.write(`[dev] ${message}\n`);
};

let gateway: ChildProcess | undefined;
let stopSignal: NodeJS.Signals | undefined;

/**
 * The gateway runs in its own process group so a terminal Ctrl-C reaches it once, from here: Nest drops its signal
 * listeners after the first one, and a second copy (from the terminal, npm or tsx relaying it again) would cut its
 * graceful shutdown short. Repeats are therefore ignored.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (stopSignal !== undefined) return;
  stopSignal = signal;
  if (gateway?.pid !== undefined) signalGroup(gateway.pid, signal);
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function signalExitCode(signal: NodeJS.Signals | null): number {
  return signal === null ? 1 : 128 + constants.signals[signal];
}

/**
 * .data/pg in the checkout, unless the server (running as `postgres` because we are root) cannot reach the checkout,
 * as under /root: then a folder per checkout in postgres' own home, where Debian keeps its clusters.
 */
async function clusterDir(): Promise<string> {
  const local = join(ROOT, '.data', 'pg');
  const home = '/var/lib/postgresql';
  if ((await serverCanEnter(ROOT)) || !existsSync(home)) return local;
  return join(home, `llm-gateway-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);
}

async function startDatabase(env: NodeJS.ProcessEnv, cleanups: (() => Promise<void>)[]): Promise<void> {
  const cluster = await PgCluster.create({ dir: await clusterDir(), port: await findFreePort(PG_PORT) });
  await cluster.start();
  cleanups.push(async () => {
    log('stopping PostgreSQL');
    await cluster.stop();
  });
  await cluster.createDatabase(DATABASE);
  env.DATABASE_URL = cluster.url(DATABASE);
  env.MIGRATIONS_RUN = 'true';
  const where = cluster.dir.startsWith(`${ROOT}/`) ? relative(ROOT, cluster.dir) : cluster.dir;
  log(`PostgreSQL (${cluster.binaries.source}) on ${env.DATABASE_URL}, data in ${where}`);
}

async function startUpstream(env: NodeJS.ProcessEnv, cleanups: (() => Promise<void>)[]): Promise<void> {
  const sim = await startSimulator({ port: SIM_PORT, host: '127.0.0.1' }).catch(() =>
    startSimulator({ port: 0, host: '127.0.0.1' }),
  );
  cleanups.push(async () => {
    log('stopping the vLLM simulator');
    await sim.close();
  });
  env.VLLM_BASE_URL = sim.url;
  log(`vLLM simulator on ${sim.url}`);
}

/** Resolves with the gateway's exit code once it and everything it spawned (nest --watch's app) are gone. */
async function runGateway(env: NodeJS.ProcessEnv, watch: boolean): Promise<number> {
  const [command, args] = watch
    ? [join(ROOT, 'node_modules', '.bin', 'nest'), ['start', '--watch']]
    : [process.execPath, [join(ROOT, 'dist', 'src', 'main.js')]];
  const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit', detached: true });
  gateway = child;
  const code = await new Promise<number>((resolveCode) => {
    child.once('error', (err) => {
      log(`could not start the gateway: ${err.message}`);
      resolveCode(1);
    });
    child.once('exit', (exitCode, signal) => resolveCode(exitCode ?? signalExitCode(signal)));
  });
  // nest's watcher can exit before the app it started has finished closing its pool; wait for the whole group.
  const pid = child.pid;
  if (pid !== undefined) {
    const deadline = Date.now() + GROUP_EXIT_TIMEOUT_MS;
    while (signalGroup(pid, 0) && Date.now() < deadline) await delay(100);
  }
  return code;
}

async function main(): Promise<number> {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const envFile = join(ROOT, '.env');
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  const env: NodeJS.ProcessEnv = { ...process.env };
  const cleanups: (() => Promise<void>)[] = [];
  try {
    if (!env.DATABASE_URL) await startDatabase(env, cleanups);
    if (!env.VLLM_BASE_URL && stopSignal === undefined) await startUpstream(env, cleanups);
    if (stopSignal !== undefined) return signalExitCode(stopSignal);
    // A console for a person: readable, coloured lines (the file stays JSON); LOG_STDOUT=json gives them back as JSON.
    if (!env.LOG_STDOUT) {
      env.LOG_STDOUT = 'pretty';
      log(
        `console log lines are formatted for reading (LOG_STDOUT=pretty); ${env.LOG_DIR ?? 'logs'}/app.log stays JSON`,
      );
    }
    if (!env.ENABLE_AUTH) {
      env.ENABLE_AUTH = 'false';
      log('client authentication is OFF (ENABLE_AUTH=false): any client can call /v1 without a key');
    } else {
      log(`ENABLE_AUTH=${env.ENABLE_AUTH} as set`);
    }
    return await runGateway(env, process.argv.includes('--watch'));
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((err: unknown) =>
        log(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[dev] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
