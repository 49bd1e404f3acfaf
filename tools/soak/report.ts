// The soak's report: the probe's once-a-second samples and the clients' per-second counts, folded into one table row
// per interval (Markdown) and drawn as three time panels (SVG, the bench chart's colours and axis rounding).

import { esc, niceCeil, yTicks } from '../bench/chart.js';
import { KINDS, type Counters } from './traffic.js';

/** One line of the gateway's probe (tools/soak/loop-probe.mjs). */
export interface ProbeSample {
  /** Epoch ms. */
  at: number;
  rssBytes: number;
  heapUsedBytes: number;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  /** Taken right after a full GC the soak asked for (before and after the traffic), not on the once-a-second tick. */
  afterGc?: boolean;
}

export interface Row {
  /** Seconds since the traffic started, at the row's end. */
  endS: number;
  ok: number;
  failed: number;
  perSecond: number;
  /** The last sample of the interval. */
  rssMb: number | undefined;
  heapMb: number | undefined;
  /** The worst of the interval's per-second values. */
  loopP99Ms: number | undefined;
  loopMaxMs: number | undefined;
}

export interface SoakRun {
  startedAtEpochMs: number;
  durationS: number;
  rowEveryS: number;
  concurrency: number;
  outputTokens: number;
  simItlMs: number;
  seed: number;
  machine: string;
  samples: readonly ProbeSample[];
  counters: Counters;
  /** Requests the simulator still had running once the traffic was over and the gateway had settled. */
  upstreamInFlightAfter: number | undefined;
  /** `gateway_streams_in_flight` from /metrics afterwards. */
  gatewayStreamsAfter: number | undefined;
}

const MB = 1024 * 1024;

/** The once-a-second samples, and the heap after the full GC before the traffic and after it. */
export function splitSamples(samples: readonly ProbeSample[], startedAtEpochMs: number) {
  const gcs = samples.filter((s) => s.afterGc === true);
  return {
    ticks: samples.filter((s) => s.afterGc !== true),
    heapAfterGcBefore: gcs.filter((s) => s.at < startedAtEpochMs).at(-1)?.heapUsedBytes,
    heapAfterGcAfter: gcs.filter((s) => s.at >= startedAtEpochMs).at(-1)?.heapUsedBytes,
  };
}

export function parseProbe(text: string): ProbeSample[] {
  const samples: ProbeSample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      samples.push(JSON.parse(line) as ProbeSample);
    } catch {
      // A line cut short by the gateway's exit.
    }
  }
  return samples;
}

const sum = (values: readonly number[], from: number, to: number): number => {
  let total = 0;
  for (let i = from; i < to && i < values.length; i++) total += values[i] ?? 0;
  return total;
};

const maxOf = (values: readonly number[]): number | undefined =>
  values.length === 0 ? undefined : Math.max(...values);

export function buildRows(run: SoakRun): Row[] {
  const rows: Row[] = [];
  const count = Math.max(1, Math.ceil(run.durationS / run.rowEveryS));
  for (let i = 0; i < count; i++) {
    const from = i * run.rowEveryS;
    const to = Math.min(run.durationS, (i + 1) * run.rowEveryS);
    const inRow = splitSamples(run.samples, run.startedAtEpochMs).ticks.filter((s) => {
      const t = (s.at - run.startedAtEpochMs) / 1000;
      return t >= from && t < to;
    });
    const last = inRow.at(-1);
    // The last row also takes the requests that were still running at the deadline and ended after it.
    const countTo = i === count - 1 ? Number.POSITIVE_INFINITY : Math.floor(to);
    const ok = sum(run.counters.okPerSecond, Math.floor(from), countTo);
    rows.push({
      endS: to,
      ok,
      failed: sum(run.counters.failedPerSecond, Math.floor(from), countTo),
      perSecond: to > from ? ok / (to - from) : 0,
      rssMb: last === undefined ? undefined : last.rssBytes / MB,
      heapMb: last === undefined ? undefined : last.heapUsedBytes / MB,
      loopP99Ms: maxOf(inRow.map((s) => s.loopP99Ms)),
      loopMaxMs: maxOf(inRow.map((s) => s.loopMaxMs)),
    });
  }
  return rows;
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? '—' : v.toFixed(digits));
const signed = (v: number | undefined): string => (v === undefined ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(1)}`);
const mb = (bytes: number | undefined): number | undefined => (bytes === undefined ? undefined : bytes / MB);

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function toMarkdown(run: SoakRun, rows: readonly Row[]): string {
  const c = run.counters;
  const { ticks, heapAfterGcBefore, heapAfterGcAfter } = splitSamples(run.samples, run.startedAtEpochMs);
  const before = ticks.filter((s) => s.at < run.startedAtEpochMs).at(-1);
  const measured = rows.filter((r) => r.rssMb !== undefined);
  const first = measured[0];
  const last = measured.at(-1);
  const peakRss = maxOf(ticks.map((s) => s.rssBytes / MB));
  const lines = [
    `# Soak: ${clock(run.durationS)} of mixed traffic through the gateway`,
    '',
    `${new Date(run.startedAtEpochMs).toISOString()}; ${run.machine}. ${run.concurrency} clients back to back ` +
      `(seed ${run.seed}), ${run.outputTokens} tokens per reply at ${run.simItlMs} ms each from the simulator; ` +
      'the mix: 40 % streamed chat, 25 % plain chat, 20 % conversation turns (a new conversation every 8 turns), ' +
      '15 % streams the client hangs up on mid-way.',
    '',
    `- requests served: **${c.completed}**, errors: **${c.failed}** (` +
      KINDS.map((k) => `${k} ${c.byKind[k].ok}/${c.byKind[k].ok + c.byKind[k].failed}`).join(', ') +
      ')',
    `- gateway RSS: ${fmt(before === undefined ? undefined : before.rssBytes / MB)} MB idle before, ` +
      `${fmt(first?.rssMb)} MB after the first interval, ${fmt(last?.rssMb)} MB at the end ` +
      `(${signed(first?.rssMb === undefined || last?.rssMb === undefined ? undefined : last.rssMb - first.rssMb)} MB), ` +
      `peak ${fmt(peakRss)} MB`,
    `- heap used: ${fmt(first?.heapMb)} MB after the first interval, ${fmt(last?.heapMb)} MB at the end; ` +
      `after a full GC ${fmt(mb(heapAfterGcBefore))} MB before the traffic and ${fmt(mb(heapAfterGcAfter))} MB after ` +
      `it (${signed(heapAfterGcBefore === undefined || heapAfterGcAfter === undefined ? undefined : mb(heapAfterGcAfter - heapAfterGcBefore))} MB)`,
    `- event-loop delay (beyond a 10 ms timer): worst per-second p99 ${fmt(maxOf(rows.flatMap((r) => (r.loopP99Ms === undefined ? [] : [r.loopP99Ms]))), 2)} ms, ` +
      `worst single delay ${fmt(maxOf(rows.flatMap((r) => (r.loopMaxMs === undefined ? [] : [r.loopMaxMs]))), 1)} ms`,
    `- left in flight afterwards: ${run.upstreamInFlightAfter ?? '—'} upstream requests (simulator), ` +
      `${run.gatewayStreamsAfter ?? '—'} gateway streams`,
    '',
    '| time | served | errors | req/s | RSS MB | heap MB | loop p99 ms | loop max ms |',
    '| ---: | -----: | -----: | ----: | -----: | ------: | ----------: | ----------: |',
    ...rows.map(
      (r) =>
        `| ${clock(r.endS)} | ${r.ok} | ${r.failed} | ${fmt(r.perSecond)} | ${fmt(r.rssMb)} | ${fmt(r.heapMb)} | ` +
        `${fmt(r.loopP99Ms, 2)} | ${fmt(r.loopMaxMs, 1)} |`,
    ),
    '',
  ];
  if (c.errors.size > 0) {
    lines.push('Errors by message:', '');
    for (const [message, n] of [...c.errors].sort((a, b) => b[1] - a[1])) lines.push(`- ${n} × ${message}`);
    lines.push('');
  }
  return lines.join('\n');
}

interface Series {
  label: string;
  points: readonly (readonly [number, number])[];
}

const COLORS = ['#4477aa', '#ee6677', '#228833', '#ccbb44'];
const W = 900;
const PANEL_H = 200;
const M = { left: 60, right: 20, top: 40, bottom: 30 };

/** Requests a second (5 s buckets), RSS and heap, event-loop delay: one panel each, time along x. */
export function renderChart(run: SoakRun): string {
  const t = (s: ProbeSample): number => (s.at - run.startedAtEpochMs) / 1000;
  const inRun = splitSamples(run.samples, run.startedAtEpochMs).ticks.filter(
    (s) => t(s) >= 0 && t(s) <= run.durationS + 1,
  );
  const bucket = 5;
  const rate = (series: readonly number[]): [number, number][] => {
    const out: [number, number][] = [];
    for (let from = 0; from < run.durationS; from += bucket) {
      const to = Math.min(run.durationS, from + bucket);
      out.push([(from + to) / 2, sum(series, from, to) / (to - from)]);
    }
    return out;
  };
  const panels: { title: string; series: Series[] }[] = [
    {
      title: 'requests a second (5 s buckets)',
      series: [
        { label: 'served', points: rate(run.counters.okPerSecond) },
        { label: 'errors', points: rate(run.counters.failedPerSecond) },
      ],
    },
    {
      title: 'gateway memory (MB)',
      series: [
        { label: 'RSS', points: inRun.map((s) => [t(s), s.rssBytes / MB]) },
        { label: 'heap used', points: inRun.map((s) => [t(s), s.heapUsedBytes / MB]) },
      ],
    },
    {
      title: 'gateway event-loop delay (ms, per second)',
      series: [
        { label: 'p99', points: inRun.map((s) => [t(s), s.loopP99Ms]) },
        { label: 'max', points: inRun.map((s) => [t(s), s.loopMaxMs]) },
      ],
    },
  ];
  const height = 30 + panels.length * PANEL_H;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(`Soak: ${clock(run.durationS)}, ${run.concurrency} clients, ${run.counters.completed} served, ${run.counters.failed} errors`)}</text>`,
    ...panels.map((p, i) => panel(p.title, p.series, run.durationS, 30 + i * PANEL_H)),
    '</svg>',
  ];
  return parts.join('\n') + '\n';
}

function panel(title: string, series: readonly Series[], durationS: number, y0: number): string {
  const w = W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const top = y0 + M.top;
  const yMax = niceCeil(Math.max(0, ...series.flatMap((s) => s.points.map(([, y]) => y))));
  const xMax = Math.max(1, durationS);
  const sx = (x: number): number => M.left + (Math.min(x, xMax) / xMax) * w;
  const sy = (y: number): number => top + h - (Math.min(y, yMax) / yMax) * h;
  const out = [
    `<text x="${M.left}" y="${y0 + 16}" font-weight="bold">${esc(title)}</text>`,
    `<rect x="${M.left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
  ];
  for (const v of yTicks(yMax)) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${M.left}" y1="${y}" x2="${M.left + w}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 6}" y="${y}" dy="3" text-anchor="end" fill="#444">${trim(v)}</text>`);
  }
  // About six time ticks, on round seconds, or on whole minutes past two minutes.
  const tick = xMax > 120 ? 60 * niceCeil(xMax / 6 / 60) : niceCeil(xMax / 6);
  for (let x = 0; x <= xMax + 1e-9; x += tick) {
    out.push(`<text x="${sx(x).toFixed(1)}" y="${top + h + 14}" text-anchor="middle" fill="#444">${clock(x)}</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    if (s.points.length > 0) {
      const points = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>`);
    }
    const lx = M.left + 260 + i * 110;
    out.push(`<line x1="${lx}" y1="${y0 + 12}" x2="${lx + 16}" y2="${y0 + 12}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${lx + 20}" y="${y0 + 16}" fill="#222">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

function trim(v: number): string {
  return v === 0 ? '0' : Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0);
}
