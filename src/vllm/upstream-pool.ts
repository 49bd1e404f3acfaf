/** One vLLM server, with the live state the pool routes on. */
export interface Upstream {
  readonly url: string;
  /** Requests currently sent to it and not yet finished (streams count until their last byte). */
  inFlight: number;
  /** Connection failures, 5xx answers and refusals of the gateway key (401/403) in a row; any success resets it. */
  consecutiveFailures: number;
  /** Out of rotation until its `/health` answers 200. */
  ejected: boolean;
  /** Precomputed hash of the URL, the upstream's identity in rendezvous hashing. */
  readonly hash: number;
}

export interface UpstreamPoolOptions {
  /** Consecutive failures that take an upstream out of rotation. */
  ejectAfter?: number;
  /** How often ejected upstreams are probed. */
  probeIntervalMs?: number;
  /** Resolves true when the upstream is healthy again. Must not reject. */
  probe: (url: string) => Promise<boolean>;
  onEject?: (url: string) => void;
  onReadmit?: (url: string) => void;
}

export const DEFAULT_EJECT_AFTER = 3;
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;

/**
 * Chooses the upstream for each request: the one with the fewest requests in flight, or, for a sticky key (a
 * conversation), the same upstream every time by rendezvous (highest-random-weight) hashing, so that conversation's
 * prefix stays in one vLLM's KV cache. When that upstream is ejected or excluded, the key moves to its next-highest
 * upstream, and only the keys of the missing upstream move.
 *
 * Ejection is passive (failures seen by real requests); re-admission is active: while any upstream is out, a
 * background timer (unref'd, so it never keeps the process alive) probes the ejected ones. One upstream always stays
 * in rotation.
 */
export class UpstreamPool {
  readonly upstreams: readonly Upstream[];
  private readonly ejectAfter: number;
  private readonly probeIntervalMs: number;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly probing = new Set<Upstream>();
  private rotation = 0;
  private closed = false;

  constructor(
    urls: readonly string[],
    private readonly options: UpstreamPoolOptions,
  ) {
    this.upstreams = urls.map((url) => ({
      url,
      inFlight: 0,
      consecutiveFailures: 0,
      ejected: false,
      hash: hash32(url),
    }));
    this.ejectAfter = options.ejectAfter ?? DEFAULT_EJECT_AFTER;
    this.probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS;
  }

  /**
   * The upstream for the next attempt, or undefined when every upstream is ejected or in `exclude` (the ones this
   * request already failed on).
   */
  pick(stickyKey?: string, exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const list = this.upstreams;
    if (stickyKey !== undefined) {
      const keyHash = hash32(stickyKey);
      let best: Upstream | undefined;
      let bestScore = -1;
      for (const u of list) {
        if (u.ejected || exclude?.has(u)) continue;
        const score = mix32(keyHash ^ u.hash);
        if (score > bestScore) {
          best = u;
          bestScore = score;
        }
      }
      return best;
    }
    // Start the scan at a rotating offset so ties (e.g. an idle pool) are spread instead of always hitting the first.
    const n = list.length;
    const start = this.rotation++ % n;
    let best: Upstream | undefined;
    for (let i = 0; i < n; i++) {
      const u = list[(start + i) % n]!;
      if (u.ejected || exclude?.has(u)) continue;
      if (best === undefined || u.inFlight < best.inFlight) best = u;
    }
    if (this.rotation >= Number.MAX_SAFE_INTEGER) this.rotation = 0;
    return best;
  }

  acquire(u: Upstream): void {
    u.inFlight++;
  }

  release(u: Upstream): void {
    if (u.inFlight > 0) u.inFlight--;
  }

  /** The upstream answered (any non-5xx status): it is alive. */
  recordSuccess(u: Upstream): void {
    u.consecutiveFailures = 0;
  }

  /**
   * A connection failure, a timeout or a 5xx: counts towards ejection. The last upstream in rotation is never
   * ejected: with nowhere else to go, trying it costs little (a refused connection is immediate) and serves the
   * moment it recovers, where an empty pool would refuse everything until the next probe.
   */
  recordFailure(u: Upstream): void {
    u.consecutiveFailures++;
    if (u.ejected || u.consecutiveFailures < this.ejectAfter) return;
    if (this.upstreams.some((other) => other !== u && !other.ejected)) this.eject(u);
  }

  /** Stops the probe timer; the pool is not used afterwards. */
  close(): void {
    this.closed = true;
    this.stopProbing();
  }

  private eject(u: Upstream): void {
    u.ejected = true;
    this.options.onEject?.(u.url);
    if (this.probeTimer === undefined && !this.closed) {
      this.probeTimer = setInterval(() => this.probeEjected(), this.probeIntervalMs);
      this.probeTimer.unref();
    }
  }

  private readmit(u: Upstream): void {
    if (!u.ejected) return;
    u.ejected = false;
    u.consecutiveFailures = 0;
    this.options.onReadmit?.(u.url);
    if (!this.upstreams.some((x) => x.ejected)) this.stopProbing();
  }

  private probeEjected(): void {
    for (const u of this.upstreams) {
      if (!u.ejected || this.probing.has(u)) continue;
      this.probing.add(u);
      void this.options
        .probe(u.url)
        .catch(() => false)
        .then((healthy) => {
          this.probing.delete(u);
          if (healthy && !this.closed) this.readmit(u);
        });
    }
  }

  private stopProbing(): void {
    if (this.probeTimer !== undefined) {
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
    }
  }
}

/** FNV-1a over UTF-16 code units, finished with a mixer: fast, and well spread for rendezvous scores. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. Returns an unsigned integer. */
function mix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
