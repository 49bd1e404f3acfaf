import type { OutputMode } from './options.js';
import { fnv1a, splitTokens } from './tokenizer.js';

export type FinishReason = 'stop' | 'length';

export interface OutputPlan {
  /** Token strings; only the first `count` are generated. */
  tokens: readonly string[];
  count: number;
  finishReason: FinishReason;
}

export interface OutputParams {
  mode: OutputMode;
  /** Last user message (chat) or the prompt (completions): echoed, and the seed material for 'random'. */
  sourceText: string;
  outputTokens: number;
  seed: number;
  /** The request's own `seed` field, if any. */
  requestSeed: number | null;
  /** min(max_tokens, max_model_len - prompt_tokens) */
  limit: number;
}

const FIXED_WORDS = ['The', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog.'];
const RANDOM_WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'you were their one all we can her has there been if more when will would who so no model token request ' +
  'stream server latency cache batch queue prompt answer data system value time first next simple'
).split(' ');

/** Small, fast, seedable PRNG (mulberry32); quality is irrelevant here, determinism is not. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Fixed mode asks for the same tokens on every request; building them once keeps the hot path allocation-free.
let fixedCache: string[] = [];
function fixedTokens(n: number): string[] {
  if (fixedCache.length !== n) {
    fixedCache = Array.from(
      { length: n },
      (_, i) => (i === 0 ? '' : ' ') + (FIXED_WORDS[i % FIXED_WORDS.length] ?? ''),
    );
  }
  return fixedCache;
}

function randomTokens(p: OutputParams): string[] {
  const rng = mulberry32(p.seed ^ fnv1a(p.sourceText) ^ (p.requestSeed ?? 0));
  const lo = Math.max(1, Math.round(p.outputTokens * 0.5));
  const hi = Math.max(lo, Math.round(p.outputTokens * 1.5));
  const length = lo + Math.floor(rng() * (hi - lo + 1));
  // One more than the limit is enough to know the output was cut.
  const n = Math.min(length, p.limit + 1);
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const word = RANDOM_WORDS[Math.floor(rng() * RANDOM_WORDS.length)] ?? 'the';
    out[i] = i === 0 ? word : ' ' + word;
  }
  return out;
}

export function planOutput(p: OutputParams): OutputPlan {
  let tokens: readonly string[];
  switch (p.mode) {
    case 'echo': {
      const split = splitTokens(p.sourceText);
      // An empty echo still produces one (empty) token, like a model that emits EOS straight away.
      tokens = split.length > 0 ? split : [''];
      break;
    }
    case 'fixed':
      tokens = fixedTokens(p.outputTokens);
      break;
    case 'random':
      tokens = randomTokens(p);
      break;
  }
  const limit = Math.max(0, p.limit);
  if (tokens.length > limit) return { tokens, count: limit, finishReason: 'length' };
  return { tokens, count: tokens.length, finishReason: 'stop' };
}

/** A deterministic unit-length vector for `key` (like vLLM's normalized embeddings), float32 precision. */
export function embedVector(key: string, dim: number, seed: number): number[] {
  const rng = mulberry32(fnv1a(key) ^ seed);
  const v = new Array<number>(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const x = rng() * 2 - 1;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dim; i++) v[i] = Math.fround((v[i] ?? 0) / norm);
  return v;
}

export function embeddingToBase64(v: readonly number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString('base64');
}
