import 'reflect-metadata';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createApp } from './bootstrap.js';
import { processLogger } from './common/logging/process-logger.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigError, loadConfig } from './config/load-config.js';

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
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `http://${shown}:${port}`;
  // For humans, on stderr: stdout carries only JSON log lines, so `node dist/src/main.js | jq .` works.
  process.stderr.write(
    [
      '',
      `  llm-gateway is listening on ${base}`,
      `    API:      ${base}/v1/chat/completions`,
      `    Swagger:  ${base}/docs`,
      `    Health:   ${base}/health`,
      `    Upstream: ${config.vllm.baseUrls.join(', ')}`,
      '',
    ].join('\n') + '\n',
  );
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
