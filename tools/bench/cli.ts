import { parseFlags } from '../common/cli-flags.js';
import type { LoadShape } from './load.js';
import { findScenario, type Scenario, SCENARIOS } from './scenarios.js';
import { parseSlo, type Slo } from './stats.js';

export const USAGE = `Usage: npm run bench -- [flags]

Where the load goes (one of):
  --spawn                 start the simulator, a throwaway PostgreSQL and the built gateway (nest build first),
                          each in its own process, and measure the gateway
  --target URL            an OpenAI-compatible server to measure (the gateway, or the simulator itself)
  --direct URL            the simulator behind --target: needed by --compare without --spawn, and used to set the
                          simulator's latency for each scenario (POST /sim/config)
  --compare               measure the simulator directly and through the gateway, alternating in rounds, and report
                          the gateway's added latency and the throughput ratio

What load (named scenarios, or a custom run):
  --scenario NAMES        comma-separated: ${SCENARIOS.map((s) => s.name).join(', ')}, all
                          (default: all, unless --rate or --concurrency describes a custom run)
  --rate R                Poisson arrivals, R requests/s
  --max-concurrency N     with --rate: at most N requests in flight
  --concurrency N         N requests in flight (closed loop)
  --ramp-up S             with --concurrency: start the N workers evenly over S seconds (default: all at once)
  --stream | --no-stream  streaming (default) or not
  --duration S            measured seconds per side, split over the rounds (default 10 for a custom run)
  --requests N            requests per round instead of a duration
  --rounds N              rounds per side (default 4 with --compare, else 1)
  --warmup N              unmeasured requests per side first (default 20)
  --output-tokens N       max_completion_tokens, and the simulator's output length (default 16)
  --sim-ttft-ms MS        simulator time to first token for a custom run (default 0)
  --sim-itl-ms MS         simulator inter-token latency for a custom run (default 0)

Reporting:
  --goodput ttft:MS tpot:MS e2el:MS   SLOs for goodput (any subset)
  --out DIR               results folder (default bench-results)
  --no-progress           no progress bar on stderr

Other:
  --model NAME            model to request (default: the first of GET /v1/models)
  --api-key KEY           bearer key for --target (with --spawn the bench sets its own)
  --seed N                seed of the arrival schedule (default 1)
  --timeout S             per-request timeout (default 300)
  --gateway-pid PID       sample this process's RSS and CPU (the gateway, when not spawned)
  --skip-build            with --spawn: use the existing dist/ instead of running nest build
  --cpu-prof              with --spawn: write a V8 CPU profile of the gateway into the results folder
  --pg-no-fsync           with --spawn: PostgreSQL without fsync / synchronous_commit (default: durable, like production)
  -h, --help              this help
`;

export interface CliOptions {
  spawn: boolean;
  target: URL | undefined;
  direct: URL | undefined;
  compare: boolean;
  scenarios: Scenario[];
  slo: Slo | undefined;
  outDir: string;
  progress: boolean;
  model: string | undefined;
  apiKey: string | undefined;
  seed: number;
  timeoutMs: number;
  gatewayPid: number | undefined;
  build: boolean;
  cpuProf: boolean;
  pgNoFsync: boolean;
}

export class CliError extends Error {
  override name = 'CliError';
}

const SLO_PART = /^(ttft|tpot|e2el):/;

/** Parses argv; returns undefined for --help. Throws CliError with a message for the user. */
export function parseCli(argv: readonly string[]): CliOptions | undefined {
  // `--goodput` takes several values like vLLM's (`--goodput ttft:200 tpot:50`): gather them first.
  const args: string[] = [];
  const goodput: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--goodput' || arg.startsWith('--goodput=')) {
      if (arg.startsWith('--goodput=')) goodput.push(arg.slice('--goodput='.length));
      while (i + 1 < argv.length && SLO_PART.test(argv[i + 1] ?? '')) goodput.push(argv[++i] ?? '');
      if (goodput.length === 0) throw new CliError('--goodput needs NAME:MS values, e.g. --goodput ttft:200 tpot:50');
    } else {
      args.push(arg);
    }
  }
  const values = parse(args);
  if (values.help === true) return undefined;

  const spawn = values.spawn === true;
  const target = url('--target', values.target);
  const direct = url('--direct', values.direct);
  const compare = values.compare === true;
  if (spawn && (target !== undefined || direct !== undefined)) {
    throw new CliError('--spawn starts its own simulator and gateway: drop --target and --direct');
  }
  if (!spawn && target === undefined) throw new CliError('give --spawn or --target URL');
  if (compare && !spawn && direct === undefined) throw new CliError('--compare needs --direct URL (or --spawn)');
  if (values.stream === true && values['no-stream'] === true) throw new CliError('--stream and --no-stream conflict');
  if (values.duration !== undefined && values.requests !== undefined) {
    throw new CliError('give --duration or --requests, not both');
  }
  if (values.rate !== undefined && values.concurrency !== undefined) {
    throw new CliError('give --rate or --concurrency, not both');
  }

  let slo: Slo | undefined;
  try {
    slo = goodput.length === 0 ? undefined : parseSlo(goodput);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }

  const overrides = {
    rate: positive('--rate', values.rate),
    maxConcurrency: integer('--max-concurrency', values['max-concurrency']),
    concurrency: integer('--concurrency', values.concurrency),
    rampUpS: positive('--ramp-up', values['ramp-up']),
    stream: values.stream === true ? true : values['no-stream'] === true ? false : undefined,
    durationS: positive('--duration', values.duration),
    requests: integer('--requests', values.requests),
    rounds: integer('--rounds', values.rounds),
    warmup: integer('--warmup', values.warmup, 0),
    outputTokens: integer('--output-tokens', values['output-tokens']),
    simTtftMs: integer('--sim-ttft-ms', values['sim-ttft-ms'], 0),
    simItlMs: integer('--sim-itl-ms', values['sim-itl-ms'], 0),
  };
  const custom = overrides.rate !== undefined || overrides.concurrency !== undefined;
  const names = (values.scenario ?? (custom ? '' : 'all'))
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  const picked: Scenario[] = [];
  for (const name of names) {
    if (name === 'all') picked.push(...SCENARIOS);
    else {
      const found = findScenario(name);
      if (found === undefined) {
        throw new CliError(`unknown scenario "${name}" (known: ${SCENARIOS.map((s) => s.name).join(', ')}, all)`);
      }
      picked.push(found);
    }
  }
  const scenarios =
    picked.length > 0
      ? picked.map((s) => applyOverrides(s, overrides))
      : [applyOverrides(customScenario(compare), overrides)];

  return {
    spawn,
    target,
    direct,
    compare,
    scenarios,
    slo,
    outDir: values.out ?? 'bench-results',
    progress: values['no-progress'] !== true,
    model: values.model,
    apiKey: values['api-key'],
    seed: integer('--seed', values.seed, 0) ?? 1,
    timeoutMs: (positive('--timeout', values.timeout) ?? 300) * 1000,
    gatewayPid: integer('--gateway-pid', values['gateway-pid']),
    build: values['skip-build'] !== true,
    cpuProf: values['cpu-prof'] === true,
    pgNoFsync: values['pg-no-fsync'] === true,
  };
}

interface Overrides {
  rate: number | undefined;
  maxConcurrency: number | undefined;
  concurrency: number | undefined;
  rampUpS: number | undefined;
  stream: boolean | undefined;
  durationS: number | undefined;
  requests: number | undefined;
  rounds: number | undefined;
  warmup: number | undefined;
  outputTokens: number | undefined;
  simTtftMs: number | undefined;
  simItlMs: number | undefined;
}

function customScenario(compare: boolean): Scenario {
  return {
    name: 'custom',
    description: 'custom load from the command line',
    shape: { kind: 'concurrency', concurrency: 1 },
    stream: true,
    sim: { ttftMs: 0, itlMs: 0, outputTokens: 16 },
    durationS: 10,
    requestsPerRound: undefined,
    rounds: compare ? 4 : 1,
    warmup: 20,
    kind: 'relay',
    checks: [],
  };
}

/** Flags win over a scenario's own settings; the report shows what actually ran. */
function applyOverrides(base: Scenario, o: Overrides): Scenario {
  let shape: LoadShape = base.shape;
  if (o.rate !== undefined) shape = { kind: 'rate', ratePerS: o.rate, maxConcurrency: o.maxConcurrency };
  else if (o.concurrency !== undefined) shape = { kind: 'concurrency', concurrency: o.concurrency };
  if (o.maxConcurrency !== undefined && shape.kind === 'rate') shape = { ...shape, maxConcurrency: o.maxConcurrency };
  if (o.rampUpS !== undefined && shape.kind === 'concurrency') shape = { ...shape, rampUpS: o.rampUpS };
  const outputTokens = o.outputTokens ?? base.sim.outputTokens;
  return {
    ...base,
    shape,
    stream: o.stream ?? base.stream,
    sim: { ttftMs: o.simTtftMs ?? base.sim.ttftMs, itlMs: o.simItlMs ?? base.sim.itlMs, outputTokens },
    durationS: o.requests !== undefined ? undefined : (o.durationS ?? base.durationS),
    requestsPerRound: o.durationS !== undefined ? undefined : (o.requests ?? base.requestsPerRound),
    rounds: o.rounds ?? base.rounds,
    warmup: o.warmup ?? base.warmup,
  };
}

function url(flag: string, text: string | undefined): URL | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = new URL(text);
    if (parsed.protocol !== 'http:') throw new CliError(`${flag} must be an http:// URL`);
    return parsed;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`${flag} is not a URL: "${text}"`);
  }
}

function positive(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new CliError(`${flag} must be a positive number`);
  return n;
}

function integer(flag: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new CliError(`${flag} must be an integer ≥ ${min}`);
  return n;
}

function parse(args: readonly string[]) {
  return parseFlags(
    args,
    {
      spawn: { type: 'boolean' },
      target: { type: 'string' },
      direct: { type: 'string' },
      compare: { type: 'boolean' },
      scenario: { type: 'string' },
      rate: { type: 'string' },
      'max-concurrency': { type: 'string' },
      concurrency: { type: 'string' },
      'ramp-up': { type: 'string' },
      stream: { type: 'boolean' },
      'no-stream': { type: 'boolean' },
      duration: { type: 'string' },
      requests: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'output-tokens': { type: 'string' },
      'sim-ttft-ms': { type: 'string' },
      'sim-itl-ms': { type: 'string' },
      out: { type: 'string' },
      'no-progress': { type: 'boolean' },
      model: { type: 'string' },
      'api-key': { type: 'string' },
      seed: { type: 'string' },
      timeout: { type: 'string' },
      'gateway-pid': { type: 'string' },
      'skip-build': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'pg-no-fsync': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    CliError,
  );
}
