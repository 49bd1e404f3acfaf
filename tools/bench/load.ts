// Drives one round of load against one endpoint: Poisson arrivals at a fixed rate, or a fixed number of requests in
// flight, for a duration or a request count. Requests in flight when the duration ends are awaited and counted.

import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { mulberry32 } from '../vllm-sim/generation.js';
import { poissonGaps } from './arrivals.js';
import { type Outcome, send } from './client.js';
import { Samples } from './stats.js';

export type LoadShape =
  | { kind: 'rate'; ratePerS: number; maxConcurrency: number | undefined }
  | {
      kind: 'concurrency';
      concurrency: number;
      /** Start the workers evenly over this many seconds instead of all at once (default: all at t = 0). */
      rampUpS?: number;
    };

export interface RoundPlan {
  shape: LoadShape;
  /** Stop sending after this long (ms) … */
  durationMs: number | undefined;
  /** … or after this many requests. */
  requests: number | undefined;
  /** Seeds the arrival schedule; both sides of a comparison get the same seed for the same round. */
  seed: number;
  path: string;
  stream: boolean;
  timeoutMs: number;
  /** The body of the i-th request of the round. */
  body: (i: number) => Buffer;
}

export interface RoundResult {
  outcomes: Outcome[];
  itl: Samples;
  /** From the first send to the last response, as vLLM's benchmark duration. */
  durationMs: number;
  maxInFlight: number;
}

/** Live counters for the progress bar. */
export interface Progress {
  sent: number;
  completed: number;
  failed: number;
  inFlight: number;
}

export interface Target {
  url: URL;
  headers: Readonly<Record<string, string>>;
}

export async function runRound(target: Target, plan: RoundPlan, progress: Progress): Promise<RoundResult> {
  const { shape } = plan;
  const sockets = shape.kind === 'concurrency' ? shape.concurrency : (shape.maxConcurrency ?? Infinity);
  // A fresh keep-alive pool per round: connections do not sit idle through the other side's round (where a server's
  // keep-alive timeout could close one just as it is reused), and every round starts alike.
  const agent = new Agent({
    keepAlive: true,
    maxSockets: sockets,
    maxFreeSockets: Number.isFinite(sockets) ? sockets : 256,
  });
  const endpoint = { url: target.url, agent, headers: target.headers };
  const outcomes: Outcome[] = [];
  const itl = new Samples(plan.stream ? 65536 : 16);
  let sent = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const start = performance.now();
  const deadline = plan.durationMs === undefined ? Infinity : start + plan.durationMs;
  const more = (): boolean => (plan.requests === undefined || sent < plan.requests) && performance.now() < deadline;

  const one = async (): Promise<void> => {
    const i = sent++;
    progress.sent++;
    inFlight++;
    progress.inFlight++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    const outcome = await send(endpoint, plan.path, plan.body(i), plan.stream, itl, plan.timeoutMs);
    inFlight--;
    progress.inFlight--;
    if (outcome.ok) progress.completed++;
    else progress.failed++;
    outcomes.push(outcome);
  };

  try {
    if (shape.kind === 'concurrency') {
      const rampMs = (shape.rampUpS ?? 0) * 1000;
      const worker = async (_: unknown, k: number): Promise<void> => {
        if (rampMs > 0) await sleep((k * rampMs) / shape.concurrency);
        while (more()) await one();
      };
      await Promise.all(Array.from({ length: shape.concurrency }, worker));
    } else {
      const gap = poissonGaps(shape.ratePerS, mulberry32(plan.seed));
      const pending = new Set<Promise<void>>();
      let next = start;
      while ((plan.requests === undefined || sent < plan.requests) && next < deadline) {
        // Arrivals follow the schedule, not the previous send: a late timer is caught up by sending at once.
        const wait = next - performance.now();
        if (wait >= 1) await sleep(wait);
        if (shape.maxConcurrency !== undefined) {
          while (pending.size >= shape.maxConcurrency) await Promise.race(pending);
        }
        const p = one().finally(() => pending.delete(p));
        pending.add(p);
        next += gap();
      }
      await Promise.all(pending);
    }
  } finally {
    agent.destroy();
  }
  return { outcomes, itl, durationMs: performance.now() - start, maxInFlight };
}
