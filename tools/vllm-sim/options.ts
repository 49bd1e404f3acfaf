import type { FailureSpec, SimulatorOptions } from './simulator.js';

export type OutputMode = 'echo' | 'fixed' | 'random';

export interface ResolvedOptions {
  port: number;
  host: string;
  servedModelNames: string[];
  maxModelLen: number;
  ttftMs: number;
  itlMs: number;
  jitter: number;
  outputMode: OutputMode;
  outputTokens: number;
  seed: number;
  maxNumSeqs: number;
  failure: FailureSpec | null;
  embeddingDim: number;
  /** null = no auth */
  apiKey: string | null;
}

export const DEFAULT_OPTIONS: Readonly<ResolvedOptions> = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  servedModelNames: ['sim-model'],
  maxModelLen: 4096,
  ttftMs: 0,
  itlMs: 0,
  jitter: 0,
  outputMode: 'echo',
  outputTokens: 16,
  seed: 1,
  maxNumSeqs: 256,
  failure: null,
  embeddingDim: 8,
  apiKey: null,
});

export const MAX_JITTER = 0.3;

export class OptionsError extends Error {
  override name = 'OptionsError';
}

const OPTION_KEYS: ReadonlySet<string> = new Set<keyof SimulatorOptions>([
  'port',
  'host',
  'servedModelNames',
  'maxModelLen',
  'ttftMs',
  'itlMs',
  'jitter',
  'outputMode',
  'outputTokens',
  'seed',
  'maxNumSeqs',
  'failure',
  'embeddingDim',
  'apiKey',
]);

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OptionsError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function num(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new OptionsError(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

const FAILURE_KINDS = ['error_before_stream', 'error_mid_stream', 'drop_connection', 'hang'] as const;

function isFailureKind(v: unknown): v is FailureSpec['kind'] {
  return typeof v === 'string' && (FAILURE_KINDS as readonly string[]).includes(v);
}

/**
 * Parses the compact fault syntax used by the CLI and the X-Sim-Fault header:
 * `error_before_stream:<status>[:legacy]`, `error_mid_stream:<n>`, `drop_connection:<n>`, `hang`, or `none` (null).
 */
export function parseFailureSpec(text: string): FailureSpec | null {
  const [kind = '', arg, extra] = text.trim().split(':');
  switch (kind) {
    case 'none':
    case '':
      return null;
    case 'hang':
      return { kind: 'hang' };
    case 'error_before_stream': {
      const status = arg === undefined || arg === '' ? 500 : Number(arg);
      if (extra !== undefined && extra !== 'legacy') throw new OptionsError(`unknown fault modifier "${extra}"`);
      return normalizeFailure({ kind, status, legacyShape: extra === 'legacy' });
    }
    case 'error_mid_stream':
    case 'drop_connection':
      return normalizeFailure({ kind, afterTokens: arg === undefined || arg === '' ? 0 : Number(arg) });
    default:
      throw new OptionsError(`unknown fault "${text}" (expected ${FAILURE_KINDS.join(', ')} or none)`);
  }
}

/** Accepts a FailureSpec object, the compact string form, or null, from untrusted JSON. */
export function normalizeFailure(v: unknown): FailureSpec | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return parseFailureSpec(v);
  if (typeof v !== 'object' || Array.isArray(v)) throw new OptionsError('failure must be an object, a string or null');
  const f = v as Record<string, unknown>;
  const kind = f.kind;
  if (!isFailureKind(kind)) throw new OptionsError(`failure.kind must be one of ${FAILURE_KINDS.join(', ')}`);
  switch (kind) {
    case 'hang':
      return { kind };
    case 'error_mid_stream':
    case 'drop_connection':
      return { kind, afterTokens: int('failure.afterTokens', f.afterTokens ?? 0, 0, Number.MAX_SAFE_INTEGER) };
    case 'error_before_stream': {
      const spec: FailureSpec = { kind, status: int('failure.status', f.status ?? 500, 400, 599) };
      if (f.message !== undefined) {
        if (typeof f.message !== 'string') throw new OptionsError('failure.message must be a string');
        spec.message = f.message;
      }
      if (f.type !== undefined) {
        if (typeof f.type !== 'string') throw new OptionsError('failure.type must be a string');
        spec.type = f.type;
      }
      if (f.legacyShape !== undefined) {
        if (typeof f.legacyShape !== 'boolean') throw new OptionsError('failure.legacyShape must be a boolean');
        spec.legacyShape = f.legacyShape;
      }
      return spec;
    }
  }
}

/**
 * Validates a patch (typed callers and untrusted JSON alike) and returns the merged options.
 * `runtime` rejects the keys that only make sense before the server listens.
 */
export function mergeOptions(base: Readonly<ResolvedOptions>, patch: unknown, runtime: boolean): ResolvedOptions {
  if (patch === undefined || patch === null) return { ...base };
  if (typeof patch !== 'object' || Array.isArray(patch)) throw new OptionsError('options must be an object');
  const p = patch as Record<string, unknown>;
  const out: ResolvedOptions = { ...base, servedModelNames: [...base.servedModelNames] };
  for (const key of Object.keys(p)) {
    if (!OPTION_KEYS.has(key)) throw new OptionsError(`unknown option "${key}"`);
    const v = p[key];
    // An explicit undefined (e.g. from object spread) means "leave as is".
    if (v === undefined) continue;
    if (runtime && (key === 'port' || key === 'host')) throw new OptionsError(`${key} cannot change at runtime`);
    switch (key as keyof SimulatorOptions) {
      case 'port':
        out.port = int('port', v, 0, 65535);
        break;
      case 'host':
        if (typeof v !== 'string' || v === '') throw new OptionsError('host must be a non-empty string');
        out.host = v;
        break;
      case 'servedModelNames':
        if (!Array.isArray(v) || v.length === 0 || !v.every((n) => typeof n === 'string' && n !== '')) {
          throw new OptionsError('servedModelNames must be a non-empty array of non-empty strings');
        }
        out.servedModelNames = [...(v as string[])];
        break;
      case 'maxModelLen':
        out.maxModelLen = int('maxModelLen', v, 1, 100_000_000);
        break;
      case 'ttftMs':
        out.ttftMs = num('ttftMs', v, 0, 86_400_000);
        break;
      case 'itlMs':
        out.itlMs = num('itlMs', v, 0, 86_400_000);
        break;
      case 'jitter':
        out.jitter = num('jitter', v, 0, MAX_JITTER);
        break;
      case 'outputMode':
        if (v !== 'echo' && v !== 'fixed' && v !== 'random') {
          throw new OptionsError('outputMode must be echo, fixed or random');
        }
        out.outputMode = v;
        break;
      case 'outputTokens':
        out.outputTokens = int('outputTokens', v, 1, 10_000_000);
        break;
      case 'seed':
        out.seed = int('seed', v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        break;
      case 'maxNumSeqs':
        out.maxNumSeqs = int('maxNumSeqs', v, 1, 10_000_000);
        break;
      case 'failure':
        out.failure = normalizeFailure(v);
        break;
      case 'embeddingDim':
        out.embeddingDim = int('embeddingDim', v, 1, 65_536);
        break;
      case 'apiKey':
        if (v !== null && typeof v !== 'string') throw new OptionsError('apiKey must be a string or null');
        out.apiKey = v === '' || v === null ? null : v;
        break;
    }
  }
  return out;
}
