// Statistics over the per-request records, with vLLM's `vllm bench serve` definitions
// (`vllm/benchmarks/serve.py::calculate_metrics` in vllm-project/vllm; tools/vllm-sim/CONTRACT.md §8).

/** One finished request, as the client measured it. Times in ms from the moment the request was sent. */
export interface RequestRecord {
  ok: boolean;
  /** First data event with a non-empty `choices` array; undefined for non-streaming requests and failures. */
  ttftMs: number | undefined;
  /** Last data event (streams, usage chunk included) or the end of the body (non-streaming). */
  e2elMs: number;
  /** `usage.completion_tokens` (or, when a stream has no usage chunk, the number of content events). */
  outputTokens: number;
}

/** A growable array of doubles: ITLs run to hundreds of thousands per run and are only appended, then sorted. */
export class Samples {
  private data: Float64Array;
  private n = 0;

  constructor(capacity = 1024) {
    this.data = new Float64Array(Math.max(16, capacity));
  }

  get length(): number {
    return this.n;
  }

  push(value: number): void {
    if (this.n === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.n++] = value;
  }

  append(other: Samples): void {
    for (let i = 0; i < other.n; i++) this.push(other.data[i] ?? 0);
  }

  /** A sorted copy (numeric order). */
  sorted(): Float64Array {
    return this.data.slice(0, this.n).sort();
  }
}

/**
 * The p-th percentile (0–100) of ascending `sorted`, with linear interpolation between the two closest ranks:
 * numpy's default (`method='linear'`, the one vLLM's `np.percentile` uses). With n values, rank h = (n−1)·p/100;
 * the result is x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). NaN for an empty sample.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const h = ((n - 1) * p) / 100;
  const lo = Math.floor(h);
  const a = sorted[lo] ?? Number.NaN;
  if (lo + 1 >= n) return a;
  const b = sorted[lo + 1] ?? Number.NaN;
  return a + (h - lo) * (b - a);
}

export interface Distribution {
  count: number;
  mean: number;
  /** Population standard deviation (numpy's default ddof=0, as vLLM reports it). */
  std: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function distribution(sorted: ArrayLike<number>): Distribution {
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] ?? 0;
  const mean = n === 0 ? Number.NaN : sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += ((sorted[i] ?? 0) - mean) ** 2;
  return {
    count: n,
    mean,
    std: n === 0 ? Number.NaN : Math.sqrt(sq / n),
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n === 0 ? Number.NaN : (sorted[n - 1] ?? Number.NaN),
  };
}

/** Time per output token after the first: (E2EL − TTFT) / (output_len − 1); undefined when output_len ≤ 1. */
export function tpot(e2elMs: number, ttftMs: number, outputTokens: number): number | undefined {
  return outputTokens > 1 ? (e2elMs - ttftMs) / (outputTokens - 1) : undefined;
}

/** `--goodput ttft:MS tpot:MS e2el:MS`: every given bound must hold. */
export interface Slo {
  ttftMs?: number;
  tpotMs?: number;
  e2elMs?: number;
}

/**
 * DistServe's goodput criterion, as vLLM applies it: a completed request counts when each selected metric is ≤ its
 * SLO; a request with output_len ≤ 1 has TPOT 0. A non-streaming response brings its first token with the whole body,
 * so its TTFT is its E2EL.
 */
export function meetsSlo(record: RequestRecord, slo: Slo): boolean {
  if (!record.ok) return false;
  const ttft = record.ttftMs ?? record.e2elMs;
  if (slo.ttftMs !== undefined && ttft > slo.ttftMs) return false;
  if (slo.e2elMs !== undefined && record.e2elMs > slo.e2elMs) return false;
  if (slo.tpotMs !== undefined) {
    const t = record.ttftMs === undefined ? 0 : (tpot(record.e2elMs, record.ttftMs, record.outputTokens) ?? 0);
    if (t > slo.tpotMs) return false;
  }
  return true;
}

export function countGood(records: readonly RequestRecord[], slo: Slo): number {
  let good = 0;
  for (const r of records) if (meetsSlo(r, slo)) good++;
  return good;
}

/** Parses `ttft:200 tpot:50 e2el:1000` (one or several arguments, blanks or commas between pairs). */
export function parseSlo(args: readonly string[]): Slo {
  const slo: Slo = {};
  for (const pair of args.flatMap((a) => a.split(/[\s,]+/)).filter((p) => p !== '')) {
    const [name, value, extra] = pair.split(':');
    const ms = Number(value);
    if (extra !== undefined || value === undefined || value.trim() === '' || !Number.isFinite(ms) || ms <= 0) {
      throw new Error(`--goodput expects NAME:MS with a positive number of ms, got "${pair}"`);
    }
    switch (name ?? '') {
      case 'ttft':
        slo.ttftMs = ms;
        break;
      case 'tpot':
        slo.tpotMs = ms;
        break;
      case 'e2el':
        slo.e2elMs = ms;
        break;
      default:
        throw new Error(`--goodput metric must be ttft, tpot or e2el, got "${name}"`);
    }
  }
  if (Object.keys(slo).length === 0) throw new Error('--goodput needs at least one NAME:MS pair');
  return slo;
}
