import 'reflect-metadata';
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SHUTDOWN_MESSAGE, superviseWorkers } from './cluster.js';
import type { ShutdownService } from './common/shutdown/shutdown.service.js';
import { processLogger, writeForHumans } from './common/logging/process-logger.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigError, loadConfig } from './config/load-config.js';

/**
 * The accept queue. Node's default (511) overflowed when 2,000 clients connected at once (BENCHMARKS.md,
 * streams-2000), and the SYN retries that follow cost their clients 1 s or more; the kernel caps it at
 * net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

/**
 * Past the grace period, shutdown still aborts the relays left, waits for their replies to be stored (at most 5 s),
 * then flushes the usage queue and the log and closes the pool; a hook that hangs (a database that stopped
 * answering) must not keep the process alive past this.
 */
const EXIT_MARGIN_MS = 10_000;

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // Every bad variable at once, on stderr, before anything starts.
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  if (config.workers > 1 && cluster.isPrimary) {
    superviseWorkers(config, ({ port }) => announce(config, port));
    return;
  }
  // Loaded here, not at the top: a cluster primary never runs the app, so it does not load Nest and TypeORM.
  const [{ createApp }, { ShutdownService }] = await Promise.all([
    import('./bootstrap.js'),
    import('./common/shutdown/shutdown.service.js'),
  ]);
  const app = await createApp(config);
  // Nest passes the extra argument on to `server.listen(port, host, backlog)`; its typings only name a callback.
  const listen = app.listen.bind(app) as unknown as (port: number, host: string, backlog: number) => Promise<unknown>;
  await listen(config.port, config.host, LISTEN_BACKLOG);
  stopOnSignals(app, app.get(ShutdownService), config.shutdownGraceMs);
  if (cluster.isPrimary) announce(config, (app.getHttpServer().address() as AddressInfo).port);
}

function announce(config: AppConfig, port: number): void {
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `http://${shown}:${port}`;
  // After the start-up lines; never among stdout's JSON lines.
  writeForHumans(
    [
      '',
      `  llm-gateway is listening on ${base}`,
      `    API:      ${base}/v1/chat/completions`,
      `    Swagger:  ${base}/docs`,
      `    Chat:     ${base}/playground`,
      `    Health:   ${base}/health`,
      `    Auth:     ${config.auth.enabled ? 'on: /v1 needs "Authorization: Bearer <key>"' : 'OFF: /v1 is open to any client'}`,
      `    Upstream: ${config.vllm.baseUrls.join(', ')}`,
      ...(config.workers > 1 ? [`    Workers:  ${config.workers} (cluster mode)`] : []),
      '',
    ].join('\n') + '\n',
  );
}

/**
 * SIGTERM / SIGINT (or the cluster primary's message): drain (new requests get 503, in-flight ones get the grace
 * period, then are aborted), close the app (usage queue, conversation writes, log, pool), exit 0. A second signal
 * exits at once, with 1. Nest's own shutdown hooks are not enabled: they re-raise the signal instead of exiting 0.
 */
function stopOnSignals(app: NestExpressApplication, shutdown: ShutdownService, graceMs: number): void {
  const log = processLogger().child({ component: 'shutdown' });
  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ reason, grace_ms: graceMs }, 'shutdown started');
    setTimeout(() => {
      log.error('shutdown took too long: exiting now');
      process.exit(1);
    }, graceMs + EXIT_MARGIN_MS).unref();
    void (async () => {
      await shutdown.drain(graceMs);
      log.info('drained: closing the app');
      await app.close();
    })().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`llm-gateway failed to shut down cleanly: ${describe(err)}\n`);
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (!stopping) return stop(signal);
      process.stderr.write(`llm-gateway: second ${signal}, exiting without draining\n`);
      process.exit(1);
    });
  }
  // A worker is told by its primary over IPC, not by a signal: Ctrl-C already signals the whole process group, and a
  // forwarded copy would count as the second signal.
  process.on('message', (message: unknown) => {
    if (message === SHUTDOWN_MESSAGE) stop('primary');
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

// A bug that escapes every handler still ends the process, but also as a CRITICAL line with its stack in the log
// (stderr alone would miss `jq 'select(.level=="ERROR" or .level=="CRITICAL")'`); the exit flushes the log files.
process.on('uncaughtException', (err) => {
  processLogger().fatal({ err }, 'uncaught exception');
  process.stderr.write(`llm-gateway crashed: ${describe(err)}\n`);
  process.exit(1);
});

main().catch((err: unknown) => {
  // A failed start (database unreachable, port in use, unwritable LOG_DIR): report it and exit non-zero instead of
  // leaving an unhandled rejection.
  process.stderr.write(`llm-gateway failed to start: ${describe(err)}\n`);
  process.exit(1);
});
