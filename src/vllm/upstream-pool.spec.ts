import { describe, it, expect, afterEach, jest } from '@jest/globals';
import { type Upstream, UpstreamPool } from './upstream-pool.js';

const [A, B, C] = ['http://a:8000', 'http://b:8000', 'http://c:8000'] as const;
const URLS: readonly string[] = [A, B, C];

function pool(options: Partial<ConstructorParameters<typeof UpstreamPool>[1]> = {}): UpstreamPool {
  return new UpstreamPool(URLS, { probe: () => Promise.resolve(false), ...options });
}

const byUrl = (p: UpstreamPool, url: string): Upstream => p.upstreams.find((u) => u.url === url)!;

describe('UpstreamPool', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('picks the upstream with the fewest requests in flight', () => {
    const p = pool();
    p.acquire(byUrl(p, A));
    p.acquire(byUrl(p, A));
    p.acquire(byUrl(p, B));
    for (let i = 0; i < 5; i++) expect(p.pick()?.url).toBe(C);
    p.release(byUrl(p, A));
    p.release(byUrl(p, A));
    p.acquire(byUrl(p, C));
    expect(p.pick()?.url).toBe(A);
  });

  it('spreads ties across upstreams instead of always choosing the first', () => {
    const p = pool();
    const seen = new Set<string>();
    for (let i = 0; i < URLS.length; i++) seen.add(p.pick()!.url);
    expect(seen.size).toBe(URLS.length);
  });

  it('never lets the in-flight count go negative', () => {
    const p = pool();
    const u = p.upstreams[0]!;
    p.release(u);
    expect(u.inFlight).toBe(0);
  });

  it('skips excluded upstreams and returns undefined when none is left', () => {
    const p = pool();
    const exclude = new Set(p.upstreams.slice(0, 2));
    expect(p.pick(undefined, exclude)?.url).toBe(C);
    expect(p.pick('conversation-1', exclude)?.url).toBe(C);
    expect(p.pick(undefined, new Set(p.upstreams))).toBeUndefined();
  });

  it('ejects after consecutive failures only, and a success resets the count', () => {
    const onEject = jest.fn<(url: string) => void>();
    const p = pool({ ejectAfter: 3, onEject });
    const a = byUrl(p, A);
    p.recordFailure(a);
    p.recordFailure(a);
    p.recordSuccess(a);
    p.recordFailure(a);
    p.recordFailure(a);
    expect(a.ejected).toBe(false);
    p.recordFailure(a);
    expect(a.ejected).toBe(true);
    expect(onEject).toHaveBeenCalledWith(A);
    for (let i = 0; i < 6; i++) expect(p.pick()?.url).not.toBe(A);
    p.close();
  });

  it('never ejects the last upstream in rotation', () => {
    const p = pool({ ejectAfter: 1 });
    for (let round = 0; round < 3; round++) for (const u of p.upstreams) p.recordFailure(u);
    expect(p.upstreams.filter((u) => u.ejected)).toHaveLength(URLS.length - 1);
    const survivor = p.upstreams.find((u) => !u.ejected)!;
    expect(p.pick()).toBe(survivor);
    expect(p.pick('k')).toBe(survivor);
    const single = new UpstreamPool([A], { probe: () => Promise.resolve(true), ejectAfter: 1 });
    single.recordFailure(single.upstreams[0]!);
    expect(single.pick()?.url).toBe(A);
    p.close();
  });

  it('probes ejected upstreams in the background and re-admits them when healthy', async () => {
    jest.useFakeTimers();
    let healthy = false;
    const probe = jest.fn((_url: string) => Promise.resolve(healthy));
    const onReadmit = jest.fn<(url: string) => void>();
    const p = pool({ ejectAfter: 1, probeIntervalMs: 100, probe, onReadmit });
    const b = byUrl(p, B);
    p.recordFailure(b);
    expect(b.ejected).toBe(true);

    await jest.advanceTimersByTimeAsync(100);
    expect(probe).toHaveBeenCalledWith(B);
    expect(b.ejected).toBe(true);

    healthy = true;
    await jest.advanceTimersByTimeAsync(100);
    expect(b.ejected).toBe(false);
    expect(b.consecutiveFailures).toBe(0);
    expect(onReadmit).toHaveBeenCalledWith(B);

    // Nothing is ejected any more, so the timer is gone: no further probes.
    const calls = probe.mock.calls.length;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(probe.mock.calls.length).toBe(calls);
    expect(jest.getTimerCount()).toBe(0);
    p.close();
  });

  it('treats a rejecting probe as unhealthy and stops probing on close', async () => {
    jest.useFakeTimers();
    const probe = jest.fn((_url: string) => Promise.reject(new Error('boom')));
    const p = pool({ ejectAfter: 1, probeIntervalMs: 50, probe });
    p.recordFailure(p.upstreams[0]!);
    await jest.advanceTimersByTimeAsync(50);
    expect(p.upstreams[0]!.ejected).toBe(true);
    p.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  describe('sticky keys (rendezvous hashing)', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `conversation-${i}`);

    it('sends the same key to the same upstream, regardless of load', () => {
      const p = pool();
      for (const key of keys.slice(0, 20)) {
        const first = p.pick(key)!;
        p.acquire(first);
        p.acquire(first);
        expect(p.pick(key)).toBe(first);
      }
    });

    it('spreads keys over all upstreams', () => {
      const p = pool();
      const counts = new Map<string, number>();
      for (const key of keys) {
        const url = p.pick(key)!.url;
        counts.set(url, (counts.get(url) ?? 0) + 1);
      }
      expect(counts.size).toBe(URLS.length);
      // Loose bound: each upstream gets a fair share, far from all or nothing.
      for (const n of counts.values()) expect(n).toBeGreaterThan(keys.length / URLS.length / 2);
    });

    it('falls back when the key’s upstream is ejected, moving only that upstream’s keys', () => {
      const p = pool({ ejectAfter: 1 });
      const before = new Map(keys.map((k) => [k, p.pick(k)!.url]));
      const down = byUrl(p, A);
      p.recordFailure(down);
      for (const key of keys) {
        const now = p.pick(key)!.url;
        expect(now).not.toBe(A);
        if (before.get(key) !== A) expect(now).toBe(before.get(key));
      }
      p.close();
    });

    it('returns to the original upstream once it is back', async () => {
      jest.useFakeTimers();
      const p = pool({ ejectAfter: 1, probeIntervalMs: 10, probe: () => Promise.resolve(true) });
      const key = keys.find((k) => p.pick(k)!.url === C)!;
      p.recordFailure(byUrl(p, C));
      expect(p.pick(key)!.url).not.toBe(C);
      await jest.advanceTimersByTimeAsync(10);
      expect(p.pick(key)!.url).toBe(C);
      p.close();
    });
  });
});
