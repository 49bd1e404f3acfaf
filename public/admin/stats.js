import { api } from './api.js';
import { h, replace } from './dom.js';
import { loadFailed, table } from './ui.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const DAY_MS = 86_400_000;
const RANGES = [7, 30, 90];
/** Chart geometry, in SVG user units (the element scales to the card's width). */
const WIDTH = 760;
const HEIGHT = 220;
const PAD = { left: 52, right: 60, top: 14, bottom: 28 };

/**
 * Usage: totals for the range, a chart of requests (bars) and tokens (line) per UTC day, one of the time to first
 * token (p50 and p95, streams only), and a table by model, all from GET /admin/stats. Plain SVG: no chart library.
 * @param {HTMLElement} container
 * @param {URLSearchParams} params `days`: 7, 30 or 90
 */
export function renderStats(container, params) {
  const days = RANGES.includes(Number(params.get('days'))) ? Number(params.get('days')) : 7;
  const body = h('div', { class: 'stats' }, h('p', { class: 'loading', text: 'Loading…' }));
  replace(
    container,
    h(
      'div',
      { class: 'view-header' },
      h('h1', { text: 'Usage' }),
      h(
        'nav',
        { class: 'range-links', 'aria-label': 'Range' },
        RANGES.map((d) =>
          h(
            'a',
            { class: 'button button-small', href: `#/stats?days=${d}`, 'aria-current': d === days ? 'page' : null },
            `${d} days`,
          ),
        ),
      ),
    ),
    h('p', {
      class: 'view-intro',
      text: 'Completions recorded by the gateway, per UTC day: requests, tokens (vLLM’s counts), errors and time to first token.',
    }),
    body,
  );
  void load(body, days);
}

async function load(body, days) {
  // The range ends with today (UTC), so today's bar is the last one.
  const end = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
  const query = `from=${encodeURIComponent(new Date(end - days * DAY_MS).toISOString())}&to=${encodeURIComponent(new Date(end).toISOString())}`;
  try {
    const [byDay, byModel] = await Promise.all([
      api('GET', `/admin/stats?${query}&group_by=day`),
      api('GET', `/admin/stats?${query}&group_by=model`),
    ]);
    const series = everyDay(byDay.groups, end, days);
    replace(
      body,
      totals(byDay.totals),
      h(
        'section',
        { class: 'card chart-card' },
        h('h2', { class: 'chart-title', text: 'Requests and tokens per day' }),
        volumeChart(series),
        legend([
          ['chart-swatch-requests', 'Requests (left axis)'],
          ['chart-swatch-tokens', 'Tokens, input + output (right axis)'],
        ]),
      ),
      h(
        'section',
        { class: 'card chart-card' },
        h('h2', { class: 'chart-title', text: 'Time to first token (streams), ms' }),
        ttftChart(series),
        legend([
          ['chart-swatch-p50', 'p50'],
          ['chart-swatch-p95', 'p95'],
        ]),
      ),
      h('section', { class: 'card' }, modelTable(byModel.groups)),
    );
  } catch (err) {
    loadFailed(body, err);
  }
}

/** One entry per day of the range, oldest first; a day without completions is zeros. */
function everyDay(groups, end, days) {
  const byKey = new Map(groups.map((g) => [g.key, g]));
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(end - (days - i) * DAY_MS).toISOString().slice(0, 10);
    const g = byKey.get(day);
    return {
      day,
      requests: g?.requests ?? 0,
      tokens: (g?.input_tokens ?? 0) + (g?.output_tokens ?? 0),
      errors: g?.errors ?? 0,
      p50: g?.ttft_p50_ms ?? null,
      p95: g?.ttft_p95_ms ?? null,
    };
  });
}

function totals(t) {
  const item = (label, value) =>
    h('div', { class: 'stat' }, h('span', { class: 'stat-label', text: label }), h('strong', { text: value }));
  return h(
    'div',
    { class: 'stats-totals', 'aria-label': 'Totals' },
    item('Requests', formatCount(t.requests)),
    item('Input tokens', formatCount(t.input_tokens)),
    item('Output tokens', formatCount(t.output_tokens)),
    item('Errors', formatCount(t.errors)),
    item('TTFT p50', formatMs(t.ttft_p50_ms)),
    item('TTFT p95', formatMs(t.ttft_p95_ms)),
  );
}

function volumeChart(series) {
  const plot = plotArea(series.length);
  const maxRequests = niceMax(Math.max(...series.map((d) => d.requests)));
  const maxTokens = niceMax(Math.max(...series.map((d) => d.tokens)));
  const svg = chartFrame('Requests and tokens per day', series, plot, maxRequests, maxTokens);
  series.forEach((d, i) => {
    const height = (d.requests / maxRequests) * plot.height;
    svg.append(
      s(
        'rect',
        {
          class: 'chart-bar',
          x: plot.x(i) - plot.band * 0.35,
          y: plot.bottom - height,
          width: plot.band * 0.7,
          height,
          'data-day': d.day,
          'data-requests': d.requests,
        },
        title(`${d.day}: ${d.requests} requests, ${d.errors} errors, ${d.tokens} tokens`),
      ),
    );
  });
  svg.append(
    s('polyline', {
      class: 'chart-line chart-line-tokens',
      points: series.map((d, i) => `${plot.x(i)},${plot.bottom - (d.tokens / maxTokens) * plot.height}`).join(' '),
    }),
  );
  return svg;
}

function ttftChart(series) {
  const plot = plotArea(series.length);
  const max = niceMax(Math.max(0, ...series.flatMap((d) => [d.p50 ?? 0, d.p95 ?? 0])));
  const svg = chartFrame('Time to first token per day, p50 and p95', series, plot, max, null);
  for (const [key, cls] of [
    ['p95', 'chart-line-p95'],
    ['p50', 'chart-line-p50'],
  ]) {
    const points = series.flatMap((d, i) =>
      d[key] === null ? [] : [[plot.x(i), plot.bottom - (d[key] / max) * plot.height, d]],
    );
    if (points.length > 1)
      svg.append(s('polyline', { class: `chart-line ${cls}`, points: points.map(([x, y]) => `${x},${y}`).join(' ') }));
    for (const [x, y, d] of points) {
      svg.append(
        s(
          'circle',
          { class: `chart-dot ${cls}`, cx: x, cy: y, r: 3.5, 'data-day': d.day },
          title(`${d.day}: ${key} ${formatMs(d[key])}`),
        ),
      );
    }
  }
  return svg;
}

/** The x positions of `n` days across the plot, and its vertical extent. */
function plotArea(n) {
  const width = WIDTH - PAD.left - PAD.right;
  const band = width / n;
  return {
    band,
    bottom: HEIGHT - PAD.bottom,
    height: HEIGHT - PAD.top - PAD.bottom,
    x: (i) => PAD.left + band * (i + 0.5),
  };
}

/** The SVG with its grid, left (and optionally right) axis labels and day labels. */
function chartFrame(label, series, plot, leftMax, rightMax) {
  const svg = s('svg', {
    class: 'chart',
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': label,
    preserveAspectRatio: 'xMidYMid meet',
  });
  for (let step = 0; step <= 4; step++) {
    const y = plot.bottom - (plot.height * step) / 4;
    svg.append(s('line', { class: 'chart-grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y }));
    svg.append(
      text(
        { class: 'chart-label', x: PAD.left - 6, y: y + 4, 'text-anchor': 'end' },
        formatCount((leftMax * step) / 4),
      ),
    );
    if (rightMax !== null) {
      svg.append(
        text(
          { class: 'chart-label', x: WIDTH - PAD.right + 6, y: y + 4, 'text-anchor': 'start' },
          formatCount((rightMax * step) / 4),
        ),
      );
    }
  }
  // At most about ten day labels, whatever the range.
  const every = Math.ceil(series.length / 10);
  series.forEach((d, i) => {
    if ((series.length - 1 - i) % every === 0) {
      svg.append(text({ class: 'chart-label', x: plot.x(i), y: HEIGHT - 8, 'text-anchor': 'middle' }, d.day.slice(5)));
    }
  });
  return svg;
}

function modelTable(groups) {
  const rows = groups.map((g) =>
    h(
      'tr',
      { dataset: { model: g.key } },
      h('td', { class: 'mono', text: g.key }),
      h('td', { class: 'num', text: formatCount(g.requests) }),
      h('td', { class: 'num', text: formatCount(g.input_tokens) }),
      h('td', { class: 'num', text: formatCount(g.output_tokens) }),
      h('td', { class: 'num', text: formatCount(g.errors) }),
      h('td', { class: 'num', text: formatCount(g.aborted) }),
      h('td', { class: 'num', text: formatMs(g.ttft_p50_ms) }),
      h('td', { class: 'num', text: formatMs(g.ttft_p95_ms) }),
    ),
  );
  return table(
    [
      { label: 'Model' },
      { label: 'Requests', class: 'num' },
      { label: 'Input tokens', class: 'num' },
      { label: 'Output tokens', class: 'num' },
      { label: 'Errors', class: 'num' },
      { label: 'Aborted', class: 'num' },
      { label: 'TTFT p50', class: 'num' },
      { label: 'TTFT p95', class: 'num' },
    ],
    rows,
    'No completions in this range yet.',
  );
}

function legend(items) {
  return h(
    'ul',
    { class: 'chart-legend' },
    items.map(([cls, label]) => h('li', {}, h('span', { class: `chart-swatch ${cls}` }), label)),
  );
}

/** The smallest 1, 2 or 5 × 10^n at or above `value` (at least 1), so axis steps are round numbers. */
function niceMax(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function formatCount(n) {
  if (n >= 1e6) return `${Math.round(n / 1e5) / 10}M`;
  if (n >= 1e4) return `${Math.round(n / 1e2) / 10}k`;
  return String(Math.round(n * 10) / 10);
}

function formatMs(ms) {
  return ms === null || ms === undefined ? '—' : `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** An SVG element; like `h`, text only ever becomes text nodes. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs))
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  for (const child of children) el.append(child);
  return el;
}

function text(attrs, content) {
  const el = s('text', attrs);
  el.textContent = content;
  return el;
}

function title(content) {
  const el = s('title');
  el.textContent = content;
  return el;
}
