import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { createApp, type ModuleImport } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';

export interface RunningGateway {
  app: NestExpressApplication;
  /** Base URL on a real loopback socket, e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

/**
 * Boots the real application (same `createApp` as main.ts) on an ephemeral loopback port. `env` overrides the
 * process environment; DATABASE_URL comes from the Jest global setup. `modules` adds test-only modules (e.g. a
 * controller with a route that throws) to the app.
 */
export async function startGateway(
  env: Record<string, string | undefined> = {},
  modules: ModuleImport[] = [],
): Promise<RunningGateway> {
  // Authentication is on by default in the product; a spec about something else runs without it unless it says so.
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    ...process.env,
    ENABLE_AUTH: 'false',
    PORT: '0',
    HOST: '127.0.0.1',
    ...env,
  });
  const app = await createApp(config, modules);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
