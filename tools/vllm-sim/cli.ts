import { parseFlags } from '../common/cli-flags.js';
import { OptionsError, parseFailureSpec } from './options.js';
import type { SimulatorOptions } from './simulator.js';

export const CLI_DEFAULT_PORT = 8000;

export const USAGE = `Usage: npm run sim -- [flags]     (every flag also reads an env variable, shown in brackets)

  --port N                 listen port, 0 = ephemeral (default 8000)            [SIM_PORT]
  --host H                 listen address (default 127.0.0.1)                   [SIM_HOST]
  --served-model-name M    repeatable or comma-separated; first one is echoed   [SIM_SERVED_MODEL_NAMES]
  --max-model-len N        context window in tokens (default 4096)              [SIM_MAX_MODEL_LEN]
  --ttft-ms N              time to first token (default 0)                      [SIM_TTFT_MS]
  --itl-ms N               inter-token latency (default 0)                      [SIM_ITL_MS]
  --jitter F               0..0.3 random spread applied to ttft/itl (default 0) [SIM_JITTER]
  --output-mode M          echo | fixed | random (default echo)                 [SIM_OUTPUT_MODE]
  --output-tokens N        length for fixed, mean for random (default 16)       [SIM_OUTPUT_TOKENS]
  --seed N                 seed for random output (default 1)                   [SIM_SEED]
  --max-num-seqs N         concurrently running requests; the rest queue (256)  [SIM_MAX_NUM_SEQS]
  --failure SPEC           error_before_stream:<status>[:legacy] | error_mid_stream:<n> |
                           drop_connection:<n> | hang | none (default none)     [SIM_FAILURE]
  --embedding-dim N        embedding vector size (default 8)                    [SIM_EMBEDDING_DIM]
  --api-key K              require "Authorization: Bearer K" on /v1/*           [SIM_API_KEY, VLLM_API_KEY]
  -h, --help               show this help
`;

export interface CliResult {
  options: SimulatorOptions;
  help: boolean;
}

const NUMERIC: readonly [flag: string, env: string, key: keyof SimulatorOptions][] = [
  ['port', 'SIM_PORT', 'port'],
  ['max-model-len', 'SIM_MAX_MODEL_LEN', 'maxModelLen'],
  ['ttft-ms', 'SIM_TTFT_MS', 'ttftMs'],
  ['itl-ms', 'SIM_ITL_MS', 'itlMs'],
  ['jitter', 'SIM_JITTER', 'jitter'],
  ['output-tokens', 'SIM_OUTPUT_TOKENS', 'outputTokens'],
  ['seed', 'SIM_SEED', 'seed'],
  ['max-num-seqs', 'SIM_MAX_NUM_SEQS', 'maxNumSeqs'],
  ['embedding-dim', 'SIM_EMBEDDING_DIM', 'embeddingDim'],
];

function toNumber(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new OptionsError(`${name} must be a number, got "${text}"`);
  return n;
}

/** Flags win over env variables; value ranges are checked later by startSimulator. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliResult {
  const values = parse(argv);
  const pick = (flag: string, envName: string): string | undefined => {
    const v = values[flag as keyof typeof values];
    if (typeof v === 'string') return v;
    const fromEnv = env[envName];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const options: Record<string, unknown> = { port: CLI_DEFAULT_PORT };
  for (const [flag, envName, key] of NUMERIC) {
    const v = pick(flag, envName);
    if (v !== undefined) options[key] = toNumber(`--${flag}`, v);
  }
  const host = pick('host', 'SIM_HOST');
  if (host !== undefined) options.host = host;
  const names = values['served-model-name'] ?? (env.SIM_SERVED_MODEL_NAMES ? [env.SIM_SERVED_MODEL_NAMES] : []);
  const split = names.flatMap((n) => n.split(',')).map((n) => n.trim());
  if (split.length > 0) options.servedModelNames = split.filter((n) => n !== '');
  const mode = pick('output-mode', 'SIM_OUTPUT_MODE');
  if (mode !== undefined) options.outputMode = mode;
  const failure = pick('failure', 'SIM_FAILURE');
  if (failure !== undefined) options.failure = parseFailureSpec(failure);
  const apiKey = pick('api-key', 'SIM_API_KEY') ?? (env.VLLM_API_KEY || undefined);
  if (apiKey !== undefined) options.apiKey = apiKey;
  return { options, help: values.help === true };
}

function parse(argv: readonly string[]) {
  return parseFlags(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      'served-model-name': { type: 'string', multiple: true },
      'max-model-len': { type: 'string' },
      'ttft-ms': { type: 'string' },
      'itl-ms': { type: 'string' },
      jitter: { type: 'string' },
      'output-mode': { type: 'string' },
      'output-tokens': { type: 'string' },
      seed: { type: 'string' },
      'max-num-seqs': { type: 'string' },
      failure: { type: 'string' },
      'embedding-dim': { type: 'string' },
      'api-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    OptionsError,
  );
}
