// Results as JSON (everything, for tools) and Markdown (the tables BENCHMARKS.md quotes).

import type { ScenarioResult, SideResult } from './run.js';
import type { Distribution, Slo } from './stats.js';

export interface RunInfo {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; loadAvgAtStart: number[] };
  setup: string[];
  slo: Slo | undefined;
}

export function toJson(info: RunInfo, results: readonly ScenarioResult[]): string {
  const scenarios = results.map((r) => ({
    name: r.scenario.name,
    description: r.scenario.description,
    settings: {
      shape: r.scenario.shape,
      stream: r.scenario.stream,
      simulator: r.scenario.sim,
      durationS: r.scenario.durationS,
      requestsPerRound: r.scenario.requestsPerRound,
      rounds: r.scenario.rounds,
      warmup: r.scenario.warmup,
    },
    notAvailable: r.notAvailable,
    invalid: r.invalid,
    sides: r.sides.map((s) => {
      const { samples: _samples, ...rest } = s;
      return rest;
    }),
    comparison: r.comparison,
    checks: r.checks,
  }));
  return `${JSON.stringify({ tool: 'llm-gateway bench', ...info, scenarios }, null, 2)}\n`;
}

/** Milliseconds with a precision that suits their size. */
export function fmtMs(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  return v.toFixed(a < 1 ? 3 : a < 100 ? 2 : 1);
}

function fmtAdded(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  return `${v >= 0 ? '+' : ''}${fmtMs(v)}`;
}

function fmtNum(v: number | undefined, digits = 1): string {
  return v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);
}

function metLabel(met: boolean | undefined): string {
  return met === undefined ? 'n/a' : met ? 'yes' : '**no**';
}

export function loadText(r: ScenarioResult): string {
  const s = r.scenario;
  const shape =
    s.shape.kind === 'rate'
      ? `Poisson ${s.shape.ratePerS} req/s${s.shape.maxConcurrency === undefined ? '' : `, ≤ ${s.shape.maxConcurrency} in flight`}`
      : `${s.shape.concurrency} in flight${s.shape.rampUpS === undefined ? '' : ` (started over ${s.shape.rampUpS} s)`}`;
  const amount =
    s.durationS !== undefined ? `${s.durationS} s per side` : `${s.requestsPerRound ?? 0} requests per round`;
  return (
    `${shape}, ${s.stream ? 'streaming' : 'non-streaming'}, ${amount} in ${s.rounds} round(s), ` +
    `warm-up ${s.warmup}; simulator TTFT ${s.sim.ttftMs} ms, ITL ${s.sim.itlMs} ms, ${s.sim.outputTokens} output tokens`
  );
}

export function toMarkdown(info: RunInfo, results: readonly ScenarioResult[]): string {
  const out: string[] = [];
  out.push(`# Benchmark run ${info.startedAt}`, '');
  out.push(`- Command: \`${info.command}\``);
  const m = info.machine;
  out.push(
    `- Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGb.toFixed(0)} GB, Node ${m.node}, ` +
      `load average at start ${m.loadAvgAtStart.map((l) => l.toFixed(2)).join(' / ')}`,
  );
  for (const line of info.setup) out.push(`- ${line}`);
  out.push('');
  const summary = summaryTable(results);
  if (summary !== '') out.push(summary, '');
  for (const r of results) out.push(scenarioSection(r, info.slo), '');
  return out.join('\n');
}

/** The targets and whether they were met; '' when no scenario has any. */
export function summaryTable(results: readonly ScenarioResult[]): string {
  if (results.every((r) => r.checks.length === 0 && r.notAvailable === undefined)) return '';
  const rows = ['| scenario | target | figure | met? |', '| --- | --- | --- | --- |'];
  for (const r of results) {
    if (r.notAvailable !== undefined) {
      rows.push(
        `| ${r.scenario.name} | ${r.scenario.checks.map((c) => c.target).join('; ')} | not available: ${r.notAvailable} | n/a |`,
      );
      continue;
    }
    for (const c of r.checks) rows.push(`| ${r.scenario.name} | ${c.target} | ${c.figure} | ${metLabel(c.met)} |`);
  }
  return rows.join('\n');
}

function scenarioSection(r: ScenarioResult, slo: Slo | undefined): string {
  const out: string[] = [`## ${r.scenario.name}`, '', `${r.scenario.description}.`, '', `Load: ${loadText(r)}.`, ''];
  if (r.notAvailable !== undefined) {
    out.push(`Not available: ${r.notAvailable}.`);
    return out.join('\n');
  }
  for (const problem of r.invalid) out.push(`**Figures void:** ${problem}.`, '');
  const sides = r.sides;
  const two = sides.length === 2 && r.comparison !== undefined;
  const header = ['metric', ...sides.map((s) => s.label), ...(two ? ['added'] : [])];
  const rows: string[][] = [];
  const row = (name: string, values: string[], added?: string): void => {
    rows.push([name, ...values, ...(two ? [added ?? ''] : [])]);
  };
  row(
    'completed / failed',
    sides.map((s) => `${s.completed} / ${s.failed}`),
  );
  const ratio = r.comparison?.throughputRatio;
  row(
    'request throughput (req/s)',
    sides.map((s) => fmtNum(s.requestThroughput)),
    ratio === undefined ? '' : `× ${ratio.toFixed(3)}`,
  );
  row(
    'output token throughput (tok/s)',
    sides.map((s) => fmtNum(s.outputThroughput, 0)),
  );
  if (slo !== undefined)
    row(
      'goodput (req/s)',
      sides.map((s) => fmtNum(s.goodput)),
    );
  const dist = (
    name: string,
    pick: (s: SideResult) => Distribution | undefined,
    key: 'ttft' | 'e2el' | 'itl' | undefined,
  ): void => {
    if (sides.every((s) => pick(s) === undefined)) return;
    const added = key === undefined ? undefined : r.comparison?.added[key];
    row(
      `${name} mean (ms)`,
      sides.map((s) => fmtMs(pick(s)?.mean)),
      two ? fmtAdded(diff(sides, pick, 'mean')) : undefined,
    );
    row(
      `${name} p50 (ms)`,
      sides.map((s) => fmtMs(pick(s)?.p50)),
      fmtAdded(added?.p50 ?? diff(sides, pick, 'p50')),
    );
    row(
      `${name} p90 (ms)`,
      sides.map((s) => fmtMs(pick(s)?.p90)),
      two ? fmtAdded(diff(sides, pick, 'p90')) : undefined,
    );
    row(
      `${name} p99 (ms)`,
      sides.map((s) => fmtMs(pick(s)?.p99)),
      fmtAdded(added?.p99 ?? diff(sides, pick, 'p99')),
    );
  };
  dist('TTFT', (s) => s.ttft, 'ttft');
  dist('TPOT', (s) => s.tpot, undefined);
  dist('ITL', (s) => s.itl, 'itl');
  dist('E2EL', (s) => s.e2el, 'e2el');
  row(
    'max in flight',
    sides.map((s) => String(s.maxInFlight)),
  );
  if (sides.some((s) => s.simRequestsPerRequest !== undefined)) {
    row(
      'simulator requests per request',
      sides.map((s) => fmtNum(s.simRequestsPerRequest, 2)),
    );
  }
  const cpu = (name: string, pick: (s: SideResult) => number | undefined): void => {
    if (sides.every((s) => pick(s) === undefined)) return;
    row(
      name,
      sides.map((s) => fmtMs(pick(s))),
    );
  };
  cpu('gateway CPU per request (ms)', (s) => s.cpuMsPerRequest.gateway);
  cpu('simulator CPU per request (ms)', (s) => s.cpuMsPerRequest.simulator);
  cpu('PostgreSQL CPU per request (ms)', (s) => s.cpuMsPerRequest.postgres);
  cpu('bench client CPU per request (ms)', (s) => s.cpuMsPerRequest.client);
  row(
    'machine CPU busy (% of all cores)',
    sides.map((s) => fmtNum(s.machineBusyPct, 0)),
  );
  if (sides.some((s) => (s.tcp?.listenOverflows ?? 0) > 0 || (s.tcp?.synRetrans ?? 0) > 0)) {
    row(
      'TCP listen overflows / SYN retransmits (machine)',
      sides.map((s) => (s.tcp === undefined ? '–' : `${s.tcp.listenOverflows} / ${s.tcp.synRetrans}`)),
    );
  }
  if (sides.some((s) => s.gatewayRss !== undefined)) {
    row(
      'gateway RSS peak / mean (MB)',
      sides.map((s) =>
        s.gatewayRss === undefined ? '–' : `${mb(s.gatewayRss.peakBytes)} / ${mb(s.gatewayRss.meanBytes)}`,
      ),
    );
  }
  out.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  for (const cells of rows) out.push(`| ${cells.join(' | ')} |`);
  for (const s of sides) {
    const errors = Object.entries(s.errors);
    if (errors.length > 0) {
      out.push('', `Failures (${s.label}): ${errors.map(([msg, n]) => `${n} × ${msg}`).join('; ')}`);
    }
  }
  return out.join('\n');
}

function diff(
  sides: readonly SideResult[],
  pick: (s: SideResult) => Distribution | undefined,
  key: 'mean' | 'p50' | 'p90' | 'p99',
): number | undefined {
  const a = sides[0] === undefined ? undefined : pick(sides[0])?.[key];
  const b = sides[1] === undefined ? undefined : pick(sides[1])?.[key];
  return a === undefined || b === undefined ? undefined : b - a;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}
