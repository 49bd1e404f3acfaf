import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModuleImport } from '../../src/bootstrap.js';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../tools/vllm-sim/simulator.js';
import { type RunningGateway, startGateway } from './gateway.js';

export interface StackOptions {
  /** Environment for the gateway, over the stack's defaults (the simulator as upstream, info logs in `logDir`). */
  env?: Record<string, string | undefined>;
  simulator?: SimulatorOptions;
  /** VLLM_BASE_URL built from the simulator's URL, e.g. to put a dead upstream in front of it. */
  upstreams?: (simulatorUrl: string) => string;
  /** Test-only modules for the app (see `startGateway`). */
  modules?: ModuleImport[];
}

export interface Stack {
  sim: Simulator;
  /** Its `close()` may be called before the stack's, e.g. to read the log once the app has flushed it. */
  gateway: RunningGateway;
  /** A directory that did not exist before the gateway started: the gateway creates it. */
  logDir: string;
  /** `$logDir/app.log`, the JSON-line log. */
  logFile: string;
  /** Closes the gateway (unless closed already), then the simulator, and removes the log directory. */
  close(): Promise<void>;
}

/** The simulator, the real gateway in front of it, and a fresh log directory: what most e2e specs start with. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const root = mkdtempSync(join(tmpdir(), 'gateway-e2e-'));
  const logDir = join(root, 'logs');
  const sim = await startSimulator(options.simulator);
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(
      {
        VLLM_BASE_URL: options.upstreams?.(sim.url) ?? sim.url,
        LOG_LEVEL: 'info',
        LOG_DIR: logDir,
        ...options.env,
      },
      options.modules,
    );
  } catch (err) {
    await sim.close();
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  const closeGateway = (): Promise<void> => (closing ??= gateway.close());
  return {
    sim,
    gateway: { ...gateway, close: closeGateway },
    logDir,
    logFile: join(logDir, 'app.log'),
    close: async () => {
      try {
        await closeGateway();
      } finally {
        await sim.close();
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
