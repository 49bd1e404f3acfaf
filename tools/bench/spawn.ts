// `--spawn`: the system under test, each part in its own process so none of them shares the bench's event loop:
// the vLLM simulator (`node --import tsx tools/vllm-sim/main.ts`), a throwaway PostgreSQL cluster (tools/pg) and the
// built gateway (`node dist/src/main.js`) with request logging at LOG_LEVEL=info into a temporary LOG_DIR.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { findFreePort, PgCluster } from '../pg/cluster.js';
import { requestJson } from './client.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
/** The gateway's client key: auth is on, as in production, so the guard is part of what is measured. */
export const BENCH_API_KEY = 'bench-key-0123456789abcdef';

export interface SpawnOptions {
  build: boolean;
  /** Write a V8 CPU profile of the gateway (`node --cpu-prof`) into this folder. */
  cpuProfDir: string | undefined;
  /** PostgreSQL without fsync (tests' throwaway mode), to see what durable commits cost. */
  pgNoFsync: boolean;
  log: (line: string) => void;
  /** Node flags for the gateway before its script, e.g. the soak's `--import` of an event-loop probe. */
  gatewayNodeArgs?: readonly string[];
  /** Extra environment for the gateway, over the spawn's own. */
  gatewayEnv?: Readonly<Record<string, string>>;
}

export interface SystemUnderTest {
  simUrl: URL;
  simPid: number;
  gatewayUrl: URL;
  gatewayPid: number;
  /** PostgreSQL's postmaster; its backends are its children. */
  pgPid: number | undefined;
  logDir: string;
  pgSettings: string;
  stop(): Promise<void>;
}

export async function spawnSystem(options: SpawnOptions): Promise<SystemUnderTest> {
  const { log } = options;
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: unknown) =>
        log(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  };
  try {
    if (options.build) {
      log('building the gateway (nest build)…');
      await run(join(ROOT, 'node_modules', '.bin', 'nest'), ['build']);
    }
    const workDir = await mkdtemp(join(tmpdir(), 'llm-gateway-bench-'));
    const logDir = join(workDir, 'logs');

    const sim = await startSim(workDir);
    cleanups.push(() => stopChild(sim.child));
    log(`simulator on ${sim.url.href} (pid ${sim.child.pid ?? '?'})`);

    // A durable cluster (fsync on) like production unless asked otherwise, in a folder of its own (as root, the
    // server runs as `postgres`, which must be able to enter the folder's parent); the folder is removed at the end.
    const pgDir = await mkdtemp(join(tmpdir(), 'llm-gateway-bench-pg-'));
    const fast = options.pgNoFsync;
    const cluster = await PgCluster.create({ dir: pgDir, port: await findFreePort(), fast }).catch(
      async (err: unknown) => {
        await rm(pgDir, { recursive: true, force: true });
        throw err;
      },
    );
    await cluster.start();
    cleanups.push(() => cluster.destroy());
    await cluster.createDatabase('llm_gateway');
    log(`PostgreSQL (${cluster.binaries.source}) on port ${cluster.port}`);

    const port = await findFreePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      VLLM_BASE_URL: sim.url.origin,
      DATABASE_URL: cluster.url('llm_gateway'),
      MIGRATIONS_RUN: 'true',
      LOG_DIR: logDir,
      LOG_LEVEL: 'info',
      ENABLE_AUTH: 'true',
      API_KEY: BENCH_API_KEY,
      NODE_ENV: 'production',
      ...options.gatewayEnv,
    };
    const out = openSync(join(workDir, 'gateway.stdout.log'), 'a');
    const err = openSync(join(workDir, 'gateway.stderr.log'), 'a');
    const args = [
      ...(options.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`]),
      ...(options.gatewayNodeArgs ?? []),
      join(ROOT, 'dist', 'src', 'main.js'),
    ];
    // stdout (the JSON log lines) goes to a file, as a container runtime would collect it.
    const gateway = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', out, err] });
    closeSync(out);
    closeSync(err);
    cleanups.push(() => stopChild(gateway));
    const gatewayUrl = new URL(`http://127.0.0.1:${port}`);
    await waitReady(gatewayUrl, gateway, join(workDir, 'gateway.stderr.log'));
    log(`gateway on ${gatewayUrl.href} (pid ${gateway.pid ?? '?'}), logs in ${workDir}`);

    return {
      simUrl: sim.url,
      simPid: sim.child.pid ?? 0,
      gatewayUrl,
      gatewayPid: gateway.pid ?? 0,
      pgPid: postmasterPid(cluster.dataDir),
      logDir: workDir,
      pgSettings: fast
        ? `PostgreSQL (${cluster.binaries.source}) with fsync, synchronous_commit and full_page_writes off (--pg-no-fsync)`
        : `PostgreSQL (${cluster.binaries.source}) default settings, fsync on`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startSim(workDir: string): Promise<{ child: ChildProcess; url: URL }> {
  const args = [
    '--import',
    'tsx',
    join(ROOT, 'tools', 'vllm-sim', 'main.ts'),
    '--port',
    '0',
    '--output-mode',
    'fixed',
    // Far above any scenario's concurrency: the simulator's own queue must not be part of the figures.
    '--max-num-seqs',
    '100000',
  ];
  const errFd = openSync(join(workDir, 'sim.stderr.log'), 'a');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', errFd] });
  closeSync(errFd);
  const url = await new Promise<URL>((resolveUrl, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('the simulator did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the simulator exited with code ${code ?? '?'} during start-up`)));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      seen += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolveUrl(new URL(match[1]));
      }
    });
  });
  return { child, url };
}

async function waitReady(url: URL, child: ChildProcess, stderrFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = (await readFile(stderrFile, 'utf8').catch(() => '')).split('\n').slice(-30).join('\n');
      throw new Error(`the gateway exited during start-up:\n${tail}`);
    }
    const status = await requestJson(url, 'GET', '/health').then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await sleep(250);
  }
  throw new Error(`the gateway was not healthy within ${READY_TIMEOUT_MS / 1000} s`);
}

/** SIGTERM (graceful: the gateway flushes its logs, a CPU profile gets written), then SIGKILL after a while. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolveRun, reject) => {
    execFile(file, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed:\n${stdout}${stderr}`.trim()));
      else resolveRun();
    });
  });
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
