import { Injectable } from '@nestjs/common';

/** Failed logins allowed per client address and username within the window, before 429s. */
export const MAX_FAILED_LOGINS = 5;
export const FAILED_LOGIN_WINDOW_MS = 15 * 60_000;
/** Bounds the memory a flood of distinct addresses or usernames can take; the oldest pairs are dropped first. */
const MAX_TRACKED_PAIRS = 10_000;

/**
 * Slows password guessing: after `MAX_FAILED_LOGINS` failures from one address for one username within the window,
 * that pair is refused, even with the right password, until its oldest failure leaves the window. Keyed by the pair so
 * that guessing from one address cannot lock the admin out everywhere. In memory: each gateway process counts its
 * own, which multiplies the allowance by the number of processes but still bounds it.
 */
@Injectable()
export class LoginLimiter {
  /** Pair → epoch ms of its failures within the window, oldest first; Map order is insertion order, oldest first. */
  private readonly failures = new Map<string, number[]>();

  /** Seconds until the pair may try again, or undefined when it may try now. */
  retryAfterSeconds(address: string, username: string, now = Date.now()): number | undefined {
    const times = this.recent(pairKey(address, username), now);
    if (times.length < MAX_FAILED_LOGINS) return undefined;
    const oldest = times[times.length - MAX_FAILED_LOGINS] ?? now;
    return Math.max(1, Math.ceil((oldest + FAILED_LOGIN_WINDOW_MS - now) / 1000));
  }

  recordFailure(address: string, username: string, now = Date.now()): void {
    const key = pairKey(address, username);
    const times = this.recent(key, now);
    times.push(now);
    // Re-inserted so that the eviction below drops the pairs idle the longest.
    this.failures.delete(key);
    this.failures.set(key, times);
    while (this.failures.size > MAX_TRACKED_PAIRS) {
      const oldest = this.failures.keys().next();
      if (oldest.done === true) break;
      this.failures.delete(oldest.value);
    }
  }

  reset(address: string, username: string): void {
    this.failures.delete(pairKey(address, username));
  }

  private recent(key: string, now: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((at) => at > now - FAILED_LOGIN_WINDOW_MS);
    return times.slice(-MAX_FAILED_LOGINS);
  }
}

function pairKey(address: string, username: string): string {
  return `${address}\u0000${username}`;
}
