// A hand-written SVG of the latency distributions: one row per scenario, one panel per metric (TTFT, ITL, E2EL), one
// line per side, drawn as latency by percentile with the percentile axis stretched towards the tail (HdrHistogram's
// layout: 0 %, 90 %, 99 %, 99.9 % equally spaced), so the median and the tail are both readable and the gateway's
// overhead is the vertical gap between the lines.

import type { ScenarioResult } from './run.js';
import { percentile } from './stats.js';

const PANEL_W = 380;
const PANEL_H = 270;
const LEGEND_LINE = 14;
const MARGIN = { left: 58, right: 14, top: 28, bottom: 40 };
const ROW_TITLE = 26;
const COLORS = ['#4477aa', '#ee6677', '#228833', '#ccbb44'];
const POINTS = 240;

type Metric = 'ttft' | 'itl' | 'e2el';
const METRIC_TITLES: Record<Metric, string> = { ttft: 'TTFT', itl: 'time between events (ITL)', e2el: 'E2E latency' };

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** x position of quantile q: log10(1 / (1 − q)), so 0.9 → 1, 0.99 → 2. */
function tailAxis(q: number): number {
  return Math.log10(1 / (1 - q));
}

/** A round upper bound for the y axis (1, 2 or 5 × 10^k). */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

/** Round tick values from 0 to `yMax` (a `niceCeil` result, 1, 2 or 5 × 10^k): five, four or five steps. */
export function yTicks(yMax: number): number[] {
  const steps = Math.round(yMax / 10 ** Math.floor(Math.log10(yMax))) === 2 ? 4 : 5;
  return Array.from({ length: steps + 1 }, (_, k) => (yMax * k) / steps);
}

export function renderChart(title: string, results: readonly ScenarioResult[]): string {
  const rows = results.filter((r) => r.notAvailable === undefined && r.sides.length > 0);
  const panelsPerRow = rows.map((r) => metricsOf(r));
  const cols = Math.max(1, ...panelsPerRow.map((m) => m.length));
  const width = cols * PANEL_W;
  const height = 40 + rows.length * (PANEL_H + ROW_TITLE);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y0 = 40 + i * (PANEL_H + ROW_TITLE);
    parts.push(`<text x="10" y="${y0 + 16}" font-size="13" font-weight="bold">${esc(r.scenario.name)}</text>`);
    parts.push(
      `<text x="${10 + 8 * r.scenario.name.length + 14}" y="${y0 + 16}" fill="#555">${esc(r.scenario.description)}</text>`,
    );
    (panelsPerRow[i] ?? []).forEach((metric, j) => {
      parts.push(panel(r, metric, j * PANEL_W, y0 + ROW_TITLE));
    });
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function metricsOf(r: ScenarioResult): Metric[] {
  const has = (m: Metric): boolean => r.sides.some((s) => s.samples[m].length > 0);
  return (['ttft', 'itl', 'e2el'] as const).filter(has);
}

function panel(r: ScenarioResult, metric: Metric, x0: number, y0: number): string {
  // The legend sits between the panel title and the plot, where it cannot hide a line.
  const legendH = LEGEND_LINE * r.sides.length;
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - legendH - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top + legendH;
  const series = r.sides.map((s) => s.samples[metric]);
  const maxN = Math.max(...series.map((s) => s.length));
  // The tail shown ends at the quantile the largest sample supports (at most 99.99 %).
  const maxU = Math.min(4, Math.max(1, Math.log10(Math.max(maxN, 2))));
  const qAt = (u: number): number => 1 - 10 ** -u;
  let yMax = 0;
  for (const s of series) if (s.length > 0) yMax = Math.max(yMax, percentile(s, qAt(maxU) * 100));
  yMax = niceCeil(yMax);
  const sx = (u: number): number => left + (u / maxU) * w;
  const sy = (v: number): number => top + h - (Math.min(v, yMax) / yMax) * h;

  const out: string[] = [`<g>`];
  out.push(`<text x="${left}" y="${y0 + 16}" font-weight="bold">${esc(METRIC_TITLES[metric])} (ms)</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (const [q, label] of [
    [0, '0%'],
    [0.5, '50%'],
    [0.9, '90%'],
    [0.99, '99%'],
    [0.999, '99.9%'],
    [0.9999, '99.99%'],
  ] as const) {
    const u = tailAxis(q);
    if (u > maxU + 1e-9) continue;
    const x = sx(u).toFixed(1);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${top + h}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${top + h + 14}" text-anchor="middle" fill="#444">${label}</text>`);
  }
  for (const v of yTicks(yMax)) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + w}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${left - 6}" y="${y}" dy="3" text-anchor="end" fill="#444">${trim(v)}</text>`);
  }
  out.push(`<text x="${left + w / 2}" y="${top + h + 30}" text-anchor="middle" fill="#444">percentile</text>`);
  series.forEach((sorted, i) => {
    if (sorted.length === 0) return;
    const points: string[] = [];
    for (let k = 0; k <= POINTS; k++) {
      const u = (maxU * k) / POINTS;
      points.push(`${sx(u).toFixed(1)},${sy(percentile(sorted, qAt(u) * 100)).toFixed(1)}`);
    }
    const color = COLORS[i % COLORS.length] ?? '#000';
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${points.join(' ')}"/>`);
    const label = r.sides[i]?.label ?? '';
    const ly = y0 + MARGIN.top + 8 + i * LEGEND_LINE;
    out.push(
      `<line x1="${left + 8}" y1="${ly - 4}" x2="${left + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
    );
    out.push(
      `<text x="${left + 28}" y="${ly}" fill="#222">${esc(label)}: p50 ${trim(percentile(sorted, 50))}, p99 ${trim(percentile(sorted, 99))}</text>`,
    );
  });
  out.push('</g>');
  return out.join('\n');
}

function trim(v: number): string {
  const a = Math.abs(v);
  return a === 0 ? '0' : a < 1 ? v.toFixed(3) : a < 100 ? v.toFixed(1) : v.toFixed(0);
}
