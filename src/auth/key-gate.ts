import type { ServerResponse } from 'node:http';
import { AppError } from '../common/errors/app-error.js';

/** A key's own limits; null: none of that kind. */
export interface KeyLimits {
  /** Requests a minute, as a token bucket: bursts up to this many, then one every 60/rpm seconds. */
  readonly rateLimitRpm: number | null;
  /** Requests (streams included) in flight at once. */
  readonly maxConcurrent: number | null;
}

export const UNLIMITED: KeyLimits = { rateLimitRpm: null, maxConcurrent: null };

/** What the gate needs of a response: when it is over (finished, aborted or failed), and whether it is already. */
export type ResponseEnd = Pick<ServerResponse, 'once' | 'closed'>;

const MINUTE_MS = 60_000;
/** A slot frees when some response of the key ends, which nobody can predict; a second is a polite first retry. */
const CONCURRENCY_RETRY_AFTER_SECONDS = 1;

export function sameLimits(a: KeyLimits, b: KeyLimits): boolean {
  return a.rateLimitRpm === b.rateLimitRpm && a.maxConcurrent === b.maxConcurrent;
}

/**
 * One key's counters, in this process's memory only: admitting a request is arithmetic on two numbers, never a
 * database query. Each process enforces the limits on its own, so N processes admit up to N times them in total.
 *
 * Neither refusal consumes anything: a request refused for concurrency takes no token, one refused for rate holds no
 * slot.
 */
export class KeyGate {
  private tokens: number;
  private refilledAt: number;
  private inFlight = 0;

  constructor(
    readonly limits: KeyLimits,
    now: number = performance.now(),
  ) {
    this.tokens = limits.rateLimitRpm ?? 0;
    this.refilledAt = now;
  }

  /** Requests of this key whose response has not ended yet (counted only when the key has `maxConcurrent`). */
  get active(): number {
    return this.inFlight;
  }

  /**
   * Admits one request or throws a 429 (`rate_limited`, with Retry-After). An admitted request holds a concurrency
   * slot until its response closes: 'close' is emitted once for every response, whether it finished, the client went
   * away, or the server destroyed it, so a slot cannot leak.
   */
  admit(response: ResponseEnd, now: number = performance.now()): void {
    const { rateLimitRpm: rpm, maxConcurrent } = this.limits;
    if (maxConcurrent !== null && this.inFlight >= maxConcurrent) {
      throw new AppError(
        'rate_limited',
        `Too many concurrent requests for this API key (limit ${maxConcurrent}); retry when one has finished.`,
        { retryAfterSeconds: CONCURRENCY_RETRY_AFTER_SECONDS },
      );
    }
    if (rpm !== null) {
      this.tokens = Math.min(rpm, this.tokens + ((now - this.refilledAt) * rpm) / MINUTE_MS);
      this.refilledAt = now;
      if (this.tokens < 1) {
        const waitMs = ((1 - this.tokens) * MINUTE_MS) / rpm;
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new AppError(
          'rate_limited',
          `Rate limit reached for this API key: ${rpm} requests per minute. Please try again in ${seconds}s.`,
          { retryAfterSeconds: seconds },
        );
      }
      this.tokens -= 1;
    }
    if (maxConcurrent === null) return;
    this.inFlight += 1;
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.inFlight -= 1;
    };
    // A response that closed before it was admitted (the client left during the guard) emits no more 'close'.
    if (response.closed) release();
    else response.once('close', release);
  }
}
