import cluster, { type Address, type Worker } from 'node:cluster';
import { attachLogOutputs, processLogger } from './common/logging/process-logger.js';
import type { AppConfig } from './config/app-config.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** What the primary sends a worker to make it shut down gracefully (main.ts listens for it). */
export const SHUTDOWN_MESSAGE = 'llm-gateway:shutdown';

/** The workers' own shutdown is bounded by SHUTDOWN_GRACE_MS plus their margin; the primary waits a little longer. */
const PRIMARY_MARGIN_MS = 15_000;

/**
 * Cluster mode (`GATEWAY_WORKERS` > 1): this process only supervises; each worker runs the whole app, and Node's
 * cluster module shares the listening socket between them (on Linux the primary accepts connections and hands them
 * to the workers in turn). Every worker has its own upstream pool, caches and PostgreSQL pool, as separate gateway
 * processes behind a load balancer would.
 *
 * - The first worker starts alone: with MIGRATIONS_RUN it applies the migrations before any other worker connects.
 * - A worker that fails before it listens stops the whole gateway (exit 1): the others would fail the same way.
 *   One that dies later is replaced.
 * - SIGTERM / SIGINT make every worker shut down gracefully (told over IPC: Ctrl-C already signals the whole process
 *   group); the primary exits after the last one, or kills the workers left after SHUTDOWN_GRACE_MS plus a margin.
 *   A second signal kills them at once.
 */
export function superviseWorkers(config: AppConfig, onListening: (address: Address) => void): void {
  const outputs = attachLogOutputs(config.log);
  const log = processLogger().child({ component: 'cluster' });
  const live = new Set<Worker>();
  /** Workers that listen, and so handle SHUTDOWN_MESSAGE. */
  const serving = new WeakSet<Worker>();
  let stopping = false;
  let exitCode = 0;

  const exit = (): void => void outputs.close().then(() => process.exit(exitCode));

  const stop = (): void => {
    if (stopping) {
      log.warn({ workers: live.size }, 'second signal: killing the workers');
      exitCode = 1;
      for (const worker of live) worker.process.kill('SIGKILL');
      return;
    }
    stopping = true;
    for (const worker of live) {
      // A worker still starting has no handler yet; a signal stops it as Node would.
      if (serving.has(worker) && worker.isConnected()) worker.send(SHUTDOWN_MESSAGE);
      else worker.process.kill('SIGTERM');
    }
    if (live.size === 0) {
      exit();
      return;
    }
    setTimeout(() => {
      log.error({ workers: live.size }, 'workers still running after the shutdown deadline: killing them');
      exitCode = 1;
      for (const worker of live) worker.process.kill('SIGKILL');
    }, config.shutdownGraceMs + PRIMARY_MARGIN_MS).unref();
  };

  const fork = (): void => {
    const worker = cluster.fork();
    live.add(worker);
    let listened = false;
    worker.once('listening', (address) => {
      listened = true;
      serving.add(worker);
      if (worker.id === 1) {
        onListening(address);
        for (let i = 1; i < config.workers; i++) fork();
      }
    });
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) exit();
        return;
      }
      const fields = { worker_pid: worker.process.pid, code, signal };
      if (listened) {
        log.error(fields, 'worker died; starting a new one');
        fork();
        return;
      }
      log.fatal(fields, 'worker failed to start; stopping the gateway');
      exitCode = 1;
      stop();
    });
  };

  for (const signal of SIGNALS) process.on(signal, stop);
  fork();
}
