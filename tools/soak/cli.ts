import { parseFlags } from '../common/cli-flags.js';

export const USAGE = `npm run soak -- [flags]

Starts the vLLM simulator, a throwaway PostgreSQL and the built gateway (as npm run bench -- --spawn does), drives
mixed traffic through the gateway for a while (streamed and plain chat, conversation turns, clients hanging up
mid-stream), then writes a Markdown report and an SVG chart of requests, errors, the gateway's RSS and its event-loop
delay over time to soak-results/<time>/. Loopback only; it stops by itself.

  --duration D        how long to drive traffic: 90s, 10m, 1h or plain seconds (default 60s)
  --concurrency N     clients, each sending its next request when the last one ended (default 8)
  --row-every D       one table row per this much time (default: about 20 rows, at least 10s)
  --output-tokens N   tokens per reply (default 32)
  --sim-itl-ms N      the simulator's time between tokens (default 10)
  --seed N            the traffic mix's random seed (default 1)
  --out DIR           where the report goes (default soak-results)
  --skip-build        use the existing dist/ instead of running nest build
  --no-progress       no progress line on stderr
  -h, --help          this text
`;

export class CliError extends Error {}

export interface SoakOptions {
  durationS: number;
  concurrency: number;
  rowEveryS: number;
  outputTokens: number;
  simItlMs: number;
  seed: number;
  outDir: string;
  build: boolean;
  progress: boolean;
}

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** `90s`, `10m`, `1h`, `1500ms` or plain seconds, in seconds; undefined when it is none of these. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_RE.exec(text.trim());
  if (match?.[1] === undefined) return undefined;
  const seconds = Number(match[1]) * (UNIT_S[match[2] ?? 's'] ?? 1);
  return seconds > 0 && Number.isFinite(seconds) ? seconds : undefined;
}

/** About 20 rows whatever the duration, in whole tens of seconds, never below 10 s. */
export function defaultRowEvery(durationS: number): number {
  return Math.max(10, Math.round(durationS / 20 / 10) * 10);
}

/** The options, or undefined for --help. */
export function parseCli(argv: readonly string[]): SoakOptions | undefined {
  const values = parse(argv);
  if (values.help === true) return undefined;
  const duration = (flag: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const seconds = parseDuration(raw);
    if (seconds === undefined) throw new CliError(`${flag} must be a duration such as 90s, 10m or 1h (got "${raw}")`);
    return seconds;
  };
  const int = (flag: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new CliError(`${flag} must be a whole number from ${min} to ${max} (got "${raw}")`);
    }
    return value;
  };
  const durationS = duration('--duration', values.duration, 60);
  return {
    durationS,
    concurrency: int('--concurrency', values.concurrency, 8, 1, 1000),
    rowEveryS: duration('--row-every', values['row-every'], defaultRowEvery(durationS)),
    outputTokens: int('--output-tokens', values['output-tokens'], 32, 1, 4096),
    simItlMs: int('--sim-itl-ms', values['sim-itl-ms'], 10, 0, 10_000),
    seed: int('--seed', values.seed, 1, 0, 2 ** 31 - 1),
    outDir: values.out ?? 'soak-results',
    build: values['skip-build'] !== true,
    progress: values['no-progress'] !== true,
  };
}

function parse(argv: readonly string[]) {
  return parseFlags(
    argv,
    {
      duration: { type: 'string' },
      concurrency: { type: 'string' },
      'row-every': { type: 'string' },
      'output-tokens': { type: 'string' },
      'sim-itl-ms': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'skip-build': { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    CliError,
  );
}
