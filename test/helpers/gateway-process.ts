import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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
  const main = join(process.cwd(), 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "nest build" first (npm run test:e2e does)`);
  const child: ChildProcess = spawn(process.execPath, [main], {
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
