// The named load scenarios, one per target of issue 5 (BENCHMARKS.md), with the checks that decide "met?".

import type { LoadShape } from './load.js';

/** What the simulator is set to for a scenario (POST /sim/config). */
export interface SimSettings {
  ttftMs: number;
  itlMs: number;
  outputTokens: number;
}

export interface Scenario {
  name: string;
  description: string;
  shape: LoadShape;
  stream: boolean;
  sim: SimSettings;
  /** Per side, measured time (split over the rounds) … */
  durationS: number | undefined;
  /** … or requests per round. */
  requestsPerRound: number | undefined;
  /** Rounds per side; sides alternate A B B A A B … */
  rounds: number;
  /** Unmeasured requests per side before the first round. */
  warmup: number;
  /** `conversation`: both sides go through the gateway, stateless vs with `conversation_id`. */
  kind: 'relay' | 'conversation';
  checks: readonly CheckSpec[];
}

/** The figures a check reads, for one scenario run. */
export interface CheckInput {
  /** Present when two sides were measured. */
  added: Record<'ttft' | 'e2el' | 'itl', { p50: number; p99: number }> | undefined;
  throughputRatio: number | undefined;
  /** The gateway side (or the only side). */
  completed: number;
  failed: number;
  sent: number;
  gatewayPeakRssBytes: number | undefined;
}

export interface CheckSpec {
  target: string;
  /** The measured figure, as text, and whether it meets the target; undefined when not measurable in this run. */
  evaluate(input: CheckInput): { figure: string; met: boolean } | undefined;
}

const ms = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(v !== 0 && Math.abs(v) < 1 ? 3 : 2)} ms`;

function addedAtMost(metric: 'ttft' | 'e2el' | 'itl', pct: 'p50' | 'p99', limitMs: number, label: string): CheckSpec {
  return {
    target: `${label} ${pct} ≤ ${limitMs} ms`,
    evaluate: ({ added }) => {
      const v = added?.[metric][pct];
      return v === undefined || Number.isNaN(v) ? undefined : { figure: ms(v), met: v <= limitMs };
    },
  };
}

const ZERO_LATENCY: SimSettings = { ttftMs: 0, itlMs: 0, outputTokens: 16 };

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'nonstream-c32',
    description: 'non-streaming, 32 requests in flight (closed loop), simulator at zero latency, 16 output tokens',
    shape: { kind: 'concurrency', concurrency: 32 },
    stream: false,
    sim: ZERO_LATENCY,
    durationS: 20,
    requestsPerRound: undefined,
    rounds: 4,
    warmup: 200,
    kind: 'relay',
    checks: [
      {
        target: 'gateway throughput ≥ 0.25 × simulator direct',
        evaluate: ({ throughputRatio }) =>
          throughputRatio === undefined
            ? undefined
            : { figure: `${throughputRatio.toFixed(3)} ×`, met: throughputRatio >= 0.25 },
      },
    ],
  },
  {
    name: 'rate-200',
    description: 'non-streaming, Poisson arrivals at 200 req/s, simulator at zero latency, 16 output tokens',
    shape: { kind: 'rate', ratePerS: 200, maxConcurrency: undefined },
    stream: false,
    sim: ZERO_LATENCY,
    durationS: 20,
    requestsPerRound: undefined,
    rounds: 4,
    warmup: 200,
    kind: 'relay',
    checks: [addedAtMost('e2el', 'p50', 1, 'added latency'), addedAtMost('e2el', 'p99', 5, 'added latency')],
  },
  {
    name: 'stream',
    description: 'streaming, Poisson arrivals at 50 req/s, simulator at zero latency, 64 output tokens',
    shape: { kind: 'rate', ratePerS: 50, maxConcurrency: undefined },
    stream: true,
    sim: { ttftMs: 0, itlMs: 0, outputTokens: 64 },
    durationS: 20,
    requestsPerRound: undefined,
    rounds: 4,
    warmup: 100,
    kind: 'relay',
    checks: [addedAtMost('ttft', 'p50', 1, 'added TTFT'), addedAtMost('itl', 'p50', 0.1, 'added time between events')],
  },
  {
    // With a zero-latency simulator a whole stream arrives in one read, so `stream` can only show that the gateway
    // does not spread that burst out; here every event is its own upstream write, 5 ms apart, which is what a relay
    // that batched or delayed events would change.
    name: 'stream-spaced',
    description:
      'streaming, Poisson arrivals at 50 req/s, simulator TTFT 0 ms and 5 ms between tokens, 64 output tokens',
    shape: { kind: 'rate', ratePerS: 50, maxConcurrency: undefined },
    stream: true,
    sim: { ttftMs: 0, itlMs: 5, outputTokens: 64 },
    durationS: 20,
    requestsPerRound: undefined,
    rounds: 4,
    warmup: 100,
    kind: 'relay',
    checks: [addedAtMost('itl', 'p50', 0.1, 'added time between events')],
  },
  {
    name: 'streams-2000',
    description: '2,000 concurrent streams (one wave per round), simulator TTFT 200 ms, 50 ms/token, 64 output tokens',
    shape: { kind: 'concurrency', concurrency: 2000 },
    stream: true,
    sim: { ttftMs: 200, itlMs: 50, outputTokens: 64 },
    durationS: undefined,
    requestsPerRound: 2000,
    rounds: 2,
    warmup: 0,
    kind: 'relay',
    checks: [
      {
        target: 'all 2,000 streams complete',
        evaluate: ({ completed, failed, sent }) => ({
          figure: `${completed} / ${sent} complete, ${failed} failed`,
          met: failed === 0 && completed === sent && sent > 0,
        }),
      },
      {
        target: 'gateway RSS ≤ 512 MB',
        evaluate: ({ gatewayPeakRssBytes }) =>
          gatewayPeakRssBytes === undefined
            ? undefined
            : {
                figure: `peak ${(gatewayPeakRssBytes / 1024 / 1024).toFixed(0)} MB`,
                met: gatewayPeakRssBytes <= 512 * 1024 * 1024,
              },
      },
    ],
  },
  {
    name: 'conversation-turn',
    description:
      'streaming turns through the gateway at 20 req/s: with conversation_id (history read + messages stored) vs stateless',
    shape: { kind: 'rate', ratePerS: 20, maxConcurrency: undefined },
    stream: true,
    sim: ZERO_LATENCY,
    durationS: 20,
    requestsPerRound: undefined,
    rounds: 4,
    warmup: 50,
    kind: 'conversation',
    checks: [addedAtMost('e2el', 'p50', 3, 'conversation turn adds')],
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
