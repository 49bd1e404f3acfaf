// Request arrival times: a Poisson process (exponential gaps) from a seeded generator (the simulator's mulberry32), so a
// run can be repeated and both sides of a comparison get the very same schedule.

/** Gaps (ms) between arrivals of a Poisson process of `ratePerS` requests/s: exponential with mean 1000/rate. */
export function poissonGaps(ratePerS: number, random: () => number): () => number {
  if (!(ratePerS > 0) || !Number.isFinite(ratePerS)) {
    throw new RangeError(`rate must be a positive number, got ${ratePerS}`);
  }
  const meanMs = 1000 / ratePerS;
  // 1 − u is in (0, 1], so the logarithm is finite.
  return () => -Math.log(1 - random()) * meanMs;
}
