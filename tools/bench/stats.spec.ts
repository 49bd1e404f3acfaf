import { describe, expect, it } from '@jest/globals';
import { countGood, distribution, meetsSlo, parseSlo, percentile, type RequestRecord, Samples, tpot } from './stats.js';

describe('percentile', () => {
  // Expected values are numpy.percentile's (default method 'linear'), which vLLM's benchmark uses.
  it('interpolates linearly between the closest ranks, like numpy', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBeCloseTo(2.5, 12);
    expect(percentile([1, 2, 3, 4], 90)).toBeCloseTo(3.7, 12);
    expect(percentile([10, 20, 30, 40, 50], 99)).toBeCloseTo(49.6, 12);
    expect(percentile([15, 20, 35, 40, 50], 40)).toBeCloseTo(29, 12);
  });

  it('returns the extremes at 0 and 100, the value itself for one sample, NaN for none', () => {
    expect(percentile([1, 2, 3], 0)).toBe(1);
    expect(percentile([1, 2, 3], 100)).toBe(3);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('rejects a percentile outside 0..100', () => {
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});

describe('distribution', () => {
  it('reports the mean, the population standard deviation (numpy ddof=0) and percentiles', () => {
    const d = distribution([1, 2, 3, 4]);
    expect(d.count).toBe(4);
    expect(d.mean).toBe(2.5);
    expect(d.std).toBeCloseTo(1.118033988749895, 12);
    expect(d.p50).toBe(2.5);
    expect(d.max).toBe(4);
  });
});

describe('Samples', () => {
  it('grows past its capacity and sorts numerically', () => {
    const s = new Samples(16);
    for (let i = 40; i > 0; i--) s.push(i * 10);
    expect(s.length).toBe(40);
    const sorted = s.sorted();
    expect(sorted[0]).toBe(10);
    expect(sorted[39]).toBe(400);
    // Numeric, not lexicographic: 100 comes after 90.
    expect(sorted[8]).toBe(90);
    expect(sorted[9]).toBe(100);
  });
});

describe('tpot', () => {
  it('is (E2EL − TTFT) / (output tokens − 1)', () => {
    expect(tpot(1000, 200, 17)).toBe(50);
  });

  it('is undefined for one output token or none', () => {
    expect(tpot(300, 200, 1)).toBeUndefined();
    expect(tpot(300, 200, 0)).toBeUndefined();
  });
});

describe('goodput', () => {
  const rec = (ttftMs: number | undefined, e2elMs: number, outputTokens: number, ok = true): RequestRecord => ({
    ok,
    ttftMs,
    e2elMs,
    outputTokens,
  });

  it('counts the completed requests that meet every given SLO', () => {
    const records = [
      rec(100, 1100, 21), // TPOT 50: good
      rec(300, 1300, 21), // TTFT too high
      rec(100, 2100, 21), // TPOT 100: too high
      rec(100, 1100, 21, false), // failed
    ];
    expect(countGood(records, { ttftMs: 200, tpotMs: 50 })).toBe(1);
    expect(countGood(records, { ttftMs: 200 })).toBe(2);
    expect(countGood(records, { e2elMs: 1500 })).toBe(2);
  });

  it('treats a single-token output as TPOT 0 (DistServe, as vLLM applies it)', () => {
    expect(meetsSlo(rec(100, 5000, 1), { tpotMs: 1 })).toBe(true);
  });

  it('uses the whole latency as TTFT for a non-streaming response', () => {
    expect(meetsSlo(rec(undefined, 150, 16), { ttftMs: 100 })).toBe(false);
    expect(meetsSlo(rec(undefined, 50, 16), { ttftMs: 100, tpotMs: 1 })).toBe(true);
  });
});

describe('parseSlo', () => {
  it('reads NAME:MS pairs given as separate words or comma-separated', () => {
    expect(parseSlo(['ttft:200', 'tpot:50'])).toEqual({ ttftMs: 200, tpotMs: 50 });
    expect(parseSlo(['e2el:1000,ttft:20.5'])).toEqual({ e2elMs: 1000, ttftMs: 20.5 });
  });

  it('rejects unknown metrics and bad numbers', () => {
    expect(() => parseSlo(['itl:5'])).toThrow(/ttft, tpot or e2el/);
    expect(() => parseSlo(['ttft:'])).toThrow(/NAME:MS/);
    expect(() => parseSlo(['ttft:-3'])).toThrow(/NAME:MS/);
    expect(() => parseSlo([])).toThrow(/at least one/);
  });
});
