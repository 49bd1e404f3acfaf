import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createApp } from './bootstrap.js';
import { ConfigError, loadConfig } from './config/load-config.js';

async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `http://${shown}:${config.port}`;
  process.stdout.write(
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

void main();
