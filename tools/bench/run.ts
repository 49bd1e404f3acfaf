// Runs one scenario: warm-up, then rounds alternating between its sides (A B B A A B …, so neither side always goes
// first), then the per-side figures, the comparison and the target checks.

import { requestJson } from './client.js';
import { type RoundPlan, type RoundResult, runRound, type Target } from './load.js';
import type { ScenarioProgress } from './progress.js';
import { cpuMs, machineCpu, processTreeCpuMs, processTreePids, RssSampler, tcpListenCounters } from './proc.js';
import type { CheckInput, Scenario } from './scenarios.js';
import { countGood, distribution, type Distribution, type RequestRecord, Samples, type Slo, tpot } from './stats.js';

/** The processes whose cost is reported (pids known when spawned, or the gateway's from --gateway-pid). */
export interface Processes {
  gatewayPid: number | undefined;
  simPid: number | undefined;
  pgPid: number | undefined;
  /** The simulator's control API: its request counter tells how many upstream calls each request cost. */
  simUrl: URL | undefined;
}

export interface Side {
  label: string;
  target: Target;
  /** True when the requests go through the gateway (its RSS and CPU are then this side's). */
  viaGateway: boolean;
  body: (i: number) => Buffer;
  /** Called before each round (not timed) with the number of requests the round may send. */
  prepare?: (plannedRequests: number) => Promise<void>;
  /** Called after the last round: a reason why this side's figures are not what they claim to be, if any. */
  verify?: () => Promise<string | undefined>;
}

export interface RunContext {
  scenario: Scenario;
  sides: Side[];
  slo: Slo | undefined;
  seed: number;
  timeoutMs: number;
  processes: Processes;
  progress: ScenarioProgress;
}

/** CPU time per completed request, in ms, per process (undefined when not measured). */
export interface CpuPerRequest {
  client: number;
  gateway: number | undefined;
  simulator: number | undefined;
  postgres: number | undefined;
}

export interface SideResult {
  label: string;
  url: string;
  sent: number;
  completed: number;
  failed: number;
  durationS: number;
  requestThroughput: number;
  outputThroughput: number;
  totalOutputTokens: number;
  good: number | undefined;
  goodput: number | undefined;
  maxInFlight: number;
  ttft: Distribution | undefined;
  tpot: Distribution | undefined;
  itl: Distribution | undefined;
  e2el: Distribution;
  errors: Record<string, number>;
  rounds: { durationS: number; completed: number; failed: number; requestThroughput: number; e2elP50: number }[];
  cpuMsPerRequest: CpuPerRequest;
  /** Busy share of all cores during this side's rounds (everything on the machine, other work included). */
  machineBusyPct: number | undefined;
  /** Requests the simulator received per request sent (1 for a plain relay; more when the gateway calls it again). */
  simRequestsPerRequest: number | undefined;
  /** TCP listen-queue overflows and SYN retransmissions on the machine during this side's rounds. */
  tcp: { listenOverflows: number; synRetrans: number } | undefined;
  gatewayRss: { peakBytes: number; meanBytes: number } | undefined;
  /** Sorted samples for the chart; not written to JSON. */
  samples: { ttft: Float64Array; e2el: Float64Array; itl: Float64Array };
}

export interface Comparison {
  baseline: string;
  measured: string;
  added: Record<'ttft' | 'e2el' | 'itl', { p50: number; p99: number }>;
  throughputRatio: number;
}

export interface CheckResult {
  target: string;
  figure: string;
  met: boolean | undefined;
}

export interface ScenarioResult {
  scenario: Scenario;
  notAvailable: string | undefined;
  /** Problems found after the run (e.g. conversation turns that were not stored); they void the checks. */
  invalid: string[];
  sides: SideResult[];
  comparison: Comparison | undefined;
  checks: CheckResult[];
}

interface Accumulator {
  side: Side;
  outcomes: RequestRecord[];
  errors: Map<string, number>;
  itl: Samples;
  durationMs: number;
  maxInFlight: number;
  rounds: SideResult['rounds'];
  cpu: { client: number; gateway: number; simulator: number; postgres: number };
  machine: { busyMs: number; totalMs: number };
  tcp: { listenOverflows: number; synRetrans: number } | undefined;
  simReceived: number | undefined;
  rssPeak: number;
  rssMeanSum: number;
  rssRounds: number;
}

export async function runScenario(ctx: RunContext): Promise<ScenarioResult> {
  const { scenario, sides, progress } = ctx;
  const accs: Accumulator[] = sides.map((side) => ({
    side,
    outcomes: [],
    errors: new Map(),
    itl: new Samples(),
    durationMs: 0,
    maxInFlight: 0,
    rounds: [],
    cpu: { client: 0, gateway: 0, simulator: 0, postgres: 0 },
    machine: { busyMs: 0, totalMs: 0 },
    tcp: undefined,
    simReceived: undefined,
    rssPeak: 0,
    rssMeanSum: 0,
    rssRounds: 0,
  }));
  const roundMs = scenario.durationS === undefined ? undefined : (scenario.durationS * 1000) / scenario.rounds;
  const totalRounds = scenario.rounds * sides.length;

  if (scenario.warmup > 0) {
    for (const side of sides) {
      progress.phase = `warm-up ${side.label}`;
      const concurrency =
        scenario.shape.kind === 'concurrency'
          ? Math.min(scenario.shape.concurrency, scenario.warmup)
          : Math.min(8, scenario.warmup);
      await side.prepare?.(scenario.warmup);
      await runRound(
        side.target,
        plan(ctx, side, { kind: 'concurrency', concurrency }, undefined, scenario.warmup, 0),
        {
          sent: 0,
          completed: 0,
          failed: 0,
          inFlight: 0,
        },
      );
    }
  }

  progress.totalRounds = totalRounds;
  for (let r = 0; r < scenario.rounds; r++) {
    // A B, then B A: each side goes first equally often.
    const order = r % 2 === 0 ? accs : [...accs].reverse();
    for (const acc of order) {
      progress.phase = `${acc.side.label} round ${r + 1}/${scenario.rounds}`;
      await acc.side.prepare?.(plannedRequests(scenario, roundMs));
      progress.round = {
        startedAt: performance.now(),
        sentBefore: progress.sent,
        durationMs: roundMs,
        requests: scenario.requestsPerRound,
      };
      const result = await measuredRound(
        ctx,
        acc,
        plan(ctx, acc.side, scenario.shape, roundMs, scenario.requestsPerRound, r),
      );
      record(acc, result);
      progress.roundsDone++;
    }
  }

  const results = accs.map((acc) => summarize(acc, ctx.slo, ctx.processes));
  const [a, b] = results;
  const comparison = a !== undefined && b !== undefined ? compare(a, b) : undefined;
  const gatewaySide = results[results.length - 1];
  const input: CheckInput = {
    added: comparison?.added,
    throughputRatio: comparison?.throughputRatio,
    completed: gatewaySide?.completed ?? 0,
    failed: gatewaySide?.failed ?? 0,
    sent: gatewaySide?.sent ?? 0,
    gatewayPeakRssBytes: gatewaySide?.gatewayRss?.peakBytes,
  };
  const invalid: string[] = [];
  for (const side of sides) {
    const problem = await side.verify?.();
    if (problem !== undefined) invalid.push(`${side.label}: ${problem}`);
  }
  const checks = scenario.checks.map((check): CheckResult => {
    const verdict = check.evaluate(input);
    if (verdict === undefined) {
      return { target: check.target, figure: 'not measured (needs --compare / a known gateway pid)', met: undefined };
    }
    if (invalid.length > 0)
      return { target: check.target, figure: `${verdict.figure} (void: ${invalid.join('; ')})`, met: undefined };
    return { target: check.target, ...verdict };
  });
  return { scenario, notAvailable: undefined, invalid, sides: results, comparison, checks };
}

function plannedRequests(scenario: Scenario, roundMs: number | undefined): number {
  if (scenario.requestsPerRound !== undefined) return scenario.requestsPerRound;
  const seconds = (roundMs ?? 10_000) / 1000;
  return scenario.shape.kind === 'rate'
    ? Math.ceil(scenario.shape.ratePerS * seconds * 1.2) + 10
    : scenario.shape.concurrency * 4;
}

function plan(
  ctx: RunContext,
  side: Side,
  shape: Scenario['shape'],
  durationMs: number | undefined,
  requests: number | undefined,
  round: number,
): RoundPlan {
  return {
    shape,
    durationMs,
    requests,
    seed: ctx.seed + round,
    path: '/v1/chat/completions',
    stream: ctx.scenario.stream,
    timeoutMs: ctx.timeoutMs,
    body: side.body,
  };
}

async function measuredRound(ctx: RunContext, acc: Accumulator, roundPlan: RoundPlan): Promise<RoundResult> {
  const { gatewayPid, simPid, pgPid, simUrl } = ctx.processes;
  const receivedBefore = await simReceived(simUrl);
  const before = {
    client: process.cpuUsage(),
    // The tree: in cluster mode (GATEWAY_WORKERS > 1) the workers are the primary's children.
    gateway: gatewayPid === undefined ? undefined : processTreeCpuMs(gatewayPid),
    simulator: simPid === undefined ? undefined : cpuMs(simPid),
    postgres: pgPid === undefined ? undefined : processTreeCpuMs(pgPid),
    machine: machineCpu(),
    tcp: tcpListenCounters(),
  };
  const rss = acc.side.viaGateway && gatewayPid !== undefined ? new RssSampler(processTreePids(gatewayPid)) : undefined;
  const result = await runRound(acc.side.target, roundPlan, ctx.progress);
  const rssStats = rss?.stop();
  const clientUsage = process.cpuUsage(before.client);
  acc.cpu.client += (clientUsage.user + clientUsage.system) / 1000;
  const delta = (start: number | undefined, now: number | undefined): number =>
    start === undefined || now === undefined ? 0 : now - start;
  acc.cpu.gateway += delta(before.gateway, gatewayPid === undefined ? undefined : processTreeCpuMs(gatewayPid));
  acc.cpu.simulator += delta(before.simulator, simPid === undefined ? undefined : cpuMs(simPid));
  acc.cpu.postgres += delta(before.postgres, pgPid === undefined ? undefined : processTreeCpuMs(pgPid));
  const machineAfter = machineCpu();
  if (before.machine !== undefined && machineAfter !== undefined) {
    acc.machine.busyMs += machineAfter.busyMs - before.machine.busyMs;
    acc.machine.totalMs += machineAfter.totalMs - before.machine.totalMs;
  }
  const receivedAfter = await simReceived(simUrl);
  if (receivedBefore !== undefined && receivedAfter !== undefined) {
    acc.simReceived = (acc.simReceived ?? 0) + receivedAfter - receivedBefore;
  }
  const tcpAfter = tcpListenCounters();
  if (before.tcp !== undefined && tcpAfter !== undefined) {
    acc.tcp = {
      listenOverflows: (acc.tcp?.listenOverflows ?? 0) + tcpAfter.listenOverflows - before.tcp.listenOverflows,
      synRetrans: (acc.tcp?.synRetrans ?? 0) + tcpAfter.synRetrans - before.tcp.synRetrans,
    };
  }
  if (rssStats !== undefined) {
    acc.rssPeak = Math.max(acc.rssPeak, rssStats.peakBytes);
    acc.rssMeanSum += rssStats.meanBytes;
    acc.rssRounds++;
  }
  return result;
}

function record(acc: Accumulator, result: RoundResult): void {
  let completed = 0;
  const e2el: number[] = [];
  for (const o of result.outcomes) {
    if (o.ok) {
      completed++;
      e2el.push(o.e2elMs);
    } else {
      const key = o.error ?? 'unknown error';
      acc.errors.set(key, (acc.errors.get(key) ?? 0) + 1);
    }
    acc.outcomes.push(o);
  }
  acc.itl.append(result.itl);
  acc.durationMs += result.durationMs;
  acc.maxInFlight = Math.max(acc.maxInFlight, result.maxInFlight);
  e2el.sort((x, y) => x - y);
  acc.rounds.push({
    durationS: result.durationMs / 1000,
    completed,
    failed: result.outcomes.length - completed,
    requestThroughput: completed / (result.durationMs / 1000),
    e2elP50: distribution(e2el).p50,
  });
}

function summarize(acc: Accumulator, slo: Slo | undefined, processes: Processes): SideResult {
  const ok = acc.outcomes.filter((o) => o.ok);
  const ttft = new Samples(ok.length);
  const e2el = new Samples(ok.length);
  const tpots = new Samples(ok.length);
  let tokens = 0;
  for (const o of ok) {
    e2el.push(o.e2elMs);
    tokens += o.outputTokens;
    if (o.ttftMs !== undefined) {
      ttft.push(o.ttftMs);
      const t = tpot(o.e2elMs, o.ttftMs, o.outputTokens);
      if (t !== undefined) tpots.push(t);
    }
  }
  const durationS = acc.durationMs / 1000;
  const good = slo === undefined ? undefined : countGood(acc.outcomes, slo);
  const sorted = { ttft: ttft.sorted(), e2el: e2el.sorted(), itl: acc.itl.sorted() };
  const perRequest = (ms: number, measured: boolean): number | undefined =>
    measured && ok.length > 0 ? ms / ok.length : undefined;
  const { gatewayPid, simPid, pgPid } = processes;
  return {
    label: acc.side.label,
    url: acc.side.target.url.origin,
    sent: acc.outcomes.length,
    completed: ok.length,
    failed: acc.outcomes.length - ok.length,
    durationS,
    requestThroughput: ok.length / durationS,
    outputThroughput: tokens / durationS,
    totalOutputTokens: tokens,
    good,
    goodput: good === undefined ? undefined : good / durationS,
    maxInFlight: acc.maxInFlight,
    ttft: sorted.ttft.length > 0 ? distribution(sorted.ttft) : undefined,
    tpot: tpots.length > 0 ? distribution(tpots.sorted()) : undefined,
    itl: sorted.itl.length > 0 ? distribution(sorted.itl) : undefined,
    e2el: distribution(sorted.e2el),
    errors: Object.fromEntries(acc.errors),
    rounds: acc.rounds,
    cpuMsPerRequest: {
      client: perRequest(acc.cpu.client, true) ?? 0,
      gateway: perRequest(acc.cpu.gateway, gatewayPid !== undefined && acc.side.viaGateway),
      simulator: perRequest(acc.cpu.simulator, simPid !== undefined),
      postgres: perRequest(acc.cpu.postgres, pgPid !== undefined && acc.side.viaGateway),
    },
    machineBusyPct: acc.machine.totalMs > 0 ? (100 * acc.machine.busyMs) / acc.machine.totalMs : undefined,
    simRequestsPerRequest:
      acc.simReceived === undefined || acc.outcomes.length === 0 ? undefined : acc.simReceived / acc.outcomes.length,
    tcp: acc.tcp,
    gatewayRss: acc.rssRounds === 0 ? undefined : { peakBytes: acc.rssPeak, meanBytes: acc.rssMeanSum / acc.rssRounds },
    samples: sorted,
  };
}

function compare(a: SideResult, b: SideResult): Comparison {
  const diff = (x: Distribution | undefined, y: Distribution | undefined): { p50: number; p99: number } => ({
    p50: (y?.p50 ?? Number.NaN) - (x?.p50 ?? Number.NaN),
    p99: (y?.p99 ?? Number.NaN) - (x?.p99 ?? Number.NaN),
  });
  return {
    baseline: a.label,
    measured: b.label,
    added: { ttft: diff(a.ttft, b.ttft), e2el: diff(a.e2el, b.e2el), itl: diff(a.itl, b.itl) },
    throughputRatio: b.requestThroughput / a.requestThroughput,
  };
}

/** The simulator's count of requests received so far, or undefined when the URL is not a simulator. */
async function simReceived(simUrl: URL | undefined): Promise<number | undefined> {
  if (simUrl === undefined) return undefined;
  const res = await requestJson(simUrl, 'GET', '/sim/stats').catch(() => undefined);
  const received = (res?.body as { received?: unknown } | undefined)?.received;
  return res?.status === 200 && typeof received === 'number' ? received : undefined;
}

/** The first model the target serves, for requests that do not name one. */
export async function firstModel(url: URL, headers: Readonly<Record<string, string>>): Promise<string> {
  const res = await requestJson(url, 'GET', '/v1/models', undefined, headers);
  const data = (res.body as { data?: { id?: unknown }[] } | undefined)?.data;
  const id = data?.[0]?.id;
  if (res.status !== 200 || typeof id !== 'string') {
    throw new Error(`GET ${url.origin}/v1/models gave ${res.status}; pass --model NAME`);
  }
  return id;
}
