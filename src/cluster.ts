import cluster, { type Address, type Worker } from 'node:cluster';
import { attachLogOutputs, processLogger } from './common/logging/process-logger.js';
import type { AppConfig } from './config/app-config.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Cluster mode (`GATEWAY_WORKERS` > 1): this process only supervises; each worker runs the whole app, and Node's
 * cluster module shares the listening socket between them (on Linux the primary accepts connections and hands them
 * to the workers in turn). Every worker has its own upstream pool, caches and PostgreSQL pool, as separate gateway
 * processes behind a load balancer would.
 *
 * - The first worker starts alone: with MIGRATIONS_RUN it applies the migrations before any other worker connects.
 * - A worker that fails before it listens stops the whole gateway (exit 1): the others would fail the same way.
 *   One that dies later is replaced.
 * - SIGTERM / SIGINT are passed to the workers (each shuts down gracefully); the primary exits after the last one.
 */
export function superviseWorkers(config: AppConfig, onListening: (address: Address) => void): void {
  const outputs = attachLogOutputs(config.log);
  const log = processLogger().child({ component: 'cluster' });
  const live = new Set<Worker>();
  let stopping = false;
  let exitCode = 0;

  const stop = (signal: NodeJS.Signals): void => {
    stopping = true;
    for (const worker of live) worker.process.kill(signal);
    if (live.size === 0) void outputs.close().then(() => process.exit(exitCode));
  };

  const fork = (): void => {
    const worker = cluster.fork();
    live.add(worker);
    let listened = false;
    worker.once('listening', (address) => {
      listened = true;
      if (worker.id === 1) {
        onListening(address);
        for (let i = 1; i < config.workers; i++) fork();
      }
    });
    worker.once('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) void outputs.close().then(() => process.exit(exitCode));
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
      stop('SIGTERM');
    });
  };

  for (const signal of SIGNALS) process.on(signal, () => stop(signal));
  fork();
}
