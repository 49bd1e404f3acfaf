import { describe, expect, it } from '@jest/globals';
import { CliError, defaultRowEvery, parseCli, parseDuration } from './cli.js';
import { buildRows, parseProbe, renderChart, type SoakRun, toMarkdown } from './report.js';
import { mulberry32 } from '../vllm-sim/generation.js';
import { newCounters, pickKind } from './traffic.js';

describe('soak cli', () => {
  it('reads durations in ms, s, m and h, and plain seconds', () => {
    expect(parseDuration('10m')).toBe(600);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('45')).toBe(45);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('1500ms')).toBe(1.5);
    for (const bad of ['', '0', '-5s', '10 minutes', 'm']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('defaults to a short run with about 20 rows for long ones', () => {
    expect(parseCli([])).toMatchObject({ durationS: 60, rowEveryS: 10, concurrency: 8, build: true });
    expect(parseCli(['--duration', '10m'])?.rowEveryS).toBe(30);
    expect(defaultRowEvery(3600)).toBe(180);
    expect(parseCli(['--help'])).toBeUndefined();
    expect(() => parseCli(['--duration', 'soon'])).toThrow(CliError);
    expect(() => parseCli(['--concurrency', '0'])).toThrow(CliError);
    expect(() => parseCli(['--what'])).toThrow(CliError);
  });
});

describe('soak traffic mix', () => {
  it('picks every kind, in about the planned shares, reproducibly', () => {
    const counts = { stream: 0, plain: 0, conversation: 0, disconnect: 0 };
    const random = mulberry32(7);
    for (let i = 0; i < 10_000; i++) counts[pickKind(random)]++;
    expect(counts.stream / 10_000).toBeCloseTo(0.4, 1);
    expect(counts.disconnect / 10_000).toBeCloseTo(0.15, 1);
    const again = mulberry32(7);
    const first = mulberry32(7);
    expect(Array.from({ length: 5 }, () => pickKind(again))).toEqual(Array.from({ length: 5 }, () => pickKind(first)));
  });
});

describe('soak report', () => {
  const start = 1_000_000;
  const run = (): SoakRun => {
    const counters = newCounters();
    counters.okPerSecond = [5, 5, 5, 5, 2];
    counters.failedPerSecond = [0, 1];
    counters.completed = 22;
    counters.failed = 1;
    counters.errors.set('HTTP 502: upstream', 1);
    const sample = (s: number, rssMb: number) => ({
      at: start + s * 1000,
      rssBytes: rssMb * 1024 * 1024,
      heapUsedBytes: 10 * 1024 * 1024,
      loopP50Ms: 0.1,
      loopP99Ms: s,
      loopMaxMs: 2 * s,
    });
    return {
      startedAtEpochMs: start,
      durationS: 4,
      rowEveryS: 2,
      concurrency: 2,
      outputTokens: 8,
      simItlMs: 0,
      seed: 1,
      machine: 'test',
      samples: parseProbe(
        [
          ...[-1, 0.5, 1.5, 2.5, 3.5].map((s) => sample(s, 100 + s)),
          { ...sample(-0.5, 500), heapUsedBytes: 8 * 1024 * 1024, afterGc: true },
          { ...sample(5, 500), heapUsedBytes: 9 * 1024 * 1024, afterGc: true },
        ]
          .map((s) => JSON.stringify(s))
          .join('\n') + '\n{"cut',
      ),
      counters,
      upstreamInFlightAfter: 0,
      gatewayStreamsAfter: 0,
    };
  };

  it('folds the per-second counts and probe samples into rows; the last row takes what ended after the deadline', () => {
    const rows = buildRows(run());
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ endS: 2, ok: 10, failed: 1, perSecond: 5, loopP99Ms: 1.5, loopMaxMs: 3 });
    expect(rows[0]?.rssMb).toBeCloseTo(101.5);
    expect(rows[1]).toMatchObject({ endS: 4, ok: 12, failed: 0, loopP99Ms: 3.5 });
  });

  it('writes a Markdown table with the idle RSS, the errors by message, and an SVG with three panels', () => {
    const r = run();
    const markdown = toMarkdown(r, buildRows(r));
    expect(markdown).toContain('requests served: **22**, errors: **1**');
    expect(markdown).toContain('99.0 MB idle before');
    expect(markdown).toContain('| 0:02 | 10 | 1 | 5.0 | 101.5 | 10.0 | 1.50 | 3.0 |');
    expect(markdown).toContain('- 1 × HTTP 502: upstream');
    // The samples after a full GC give the heap comparison and stay out of the rows and the peak.
    expect(markdown).toContain('after a full GC 8.0 MB before the traffic and 9.0 MB after it (+1.0 MB)');
    expect(markdown).toContain('peak 103.5 MB');
    const svg = renderChart(r);
    expect(svg.match(/<polyline/g)).toHaveLength(6);
    expect(svg).toContain('event-loop delay');
  });
});
