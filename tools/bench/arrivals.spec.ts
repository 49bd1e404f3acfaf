import { describe, expect, it } from '@jest/globals';
import { mulberry32 } from '../vllm-sim/generation.js';
import { poissonGaps } from './arrivals.js';

describe('poissonGaps', () => {
  it('draws exponential gaps with mean 1000 / rate ms', () => {
    const gap = poissonGaps(200, mulberry32(1));
    const n = 20_000;
    const gaps = Array.from({ length: n }, () => gap());
    const mean = gaps.reduce((s, g) => s + g, 0) / n;
    expect(mean).toBeGreaterThan(5 * 0.97);
    expect(mean).toBeLessThan(5 * 1.03);
    // Exponential: the standard deviation equals the mean, and about 1 − 1/e of the gaps are below it.
    const std = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / n);
    expect(std / mean).toBeGreaterThan(0.95);
    expect(std / mean).toBeLessThan(1.05);
    const below = gaps.filter((g) => g < 5).length / n;
    expect(below).toBeGreaterThan(0.62);
    expect(below).toBeLessThan(0.645);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(0);
  });

  it('repeats its schedule for a seed and changes with the seed', () => {
    const a = poissonGaps(50, mulberry32(7));
    const b = poissonGaps(50, mulberry32(7));
    const c = poissonGaps(50, mulberry32(8));
    const first = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(first);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(first);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => poissonGaps(0, mulberry32(1))).toThrow(RangeError);
    expect(() => poissonGaps(Infinity, mulberry32(1))).toThrow(RangeError);
  });
});
