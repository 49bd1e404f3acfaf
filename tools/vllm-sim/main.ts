// CLI entry: `npm run sim -- --port 8000 --ttft-ms 200 --itl-ms 50`. See README.md for every flag and env variable.

import { parseCli, USAGE } from './cli.js';
import { OptionsError } from './options.js';
import { startSimulator, type Simulator } from './simulator.js';

async function main(): Promise<void> {
  let sim: Simulator;
  try {
    const { options, help } = parseCli(process.argv.slice(2), process.env);
    if (help) {
      process.stdout.write(USAGE);
      return;
    }
    sim = await startSimulator(options);
  } catch (e) {
    if (!(e instanceof OptionsError)) throw e;
    process.stderr.write(`vllm-sim: ${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`vllm-sim listening on ${sim.url}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`vllm-sim: ${signal}, shutting down\n`);
    sim.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`vllm-sim: close failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
