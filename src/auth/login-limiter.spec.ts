import { describe, expect, it } from '@jest/globals';
import { FAILED_LOGIN_WINDOW_MS, LoginLimiter, MAX_FAILED_LOGINS } from './login-limiter.js';

describe('LoginLimiter', () => {
  const t0 = 1_000_000;

  it('refuses a pair after MAX_FAILED_LOGINS failures, until the oldest one leaves the window', () => {
    const limiter = new LoginLimiter();
    for (let i = 0; i < MAX_FAILED_LOGINS - 1; i++) limiter.recordFailure('10.0.0.1', 'admin', t0 + i * 1000);
    expect(limiter.retryAfterSeconds('10.0.0.1', 'admin', t0 + 10_000)).toBeUndefined();

    limiter.recordFailure('10.0.0.1', 'admin', t0 + 10_000);
    // The first failure (at t0) leaves the window at t0 + WINDOW: that is when the pair may try again.
    expect(limiter.retryAfterSeconds('10.0.0.1', 'admin', t0 + 10_000)).toBe((FAILED_LOGIN_WINDOW_MS - 10_000) / 1000);
    expect(limiter.retryAfterSeconds('10.0.0.1', 'admin', t0 + FAILED_LOGIN_WINDOW_MS - 1)).toBe(1);
    expect(limiter.retryAfterSeconds('10.0.0.1', 'admin', t0 + FAILED_LOGIN_WINDOW_MS)).toBeUndefined();
  });

  it('counts each address and username pair apart, and a success clears the pair', () => {
    const limiter = new LoginLimiter();
    for (let i = 0; i < MAX_FAILED_LOGINS; i++) limiter.recordFailure('10.0.0.1', 'admin', t0);
    expect(limiter.retryAfterSeconds('10.0.0.1', 'admin', t0)).toBeGreaterThan(0);
    expect(limiter.retryAfterSeconds('10.0.0.2', 'admin', t0)).toBeUndefined();
    expect(limiter.retryAfterSeconds('10.0.0.1', 'root', t0)).toBeUndefined();

    limiter.reset('10.0.0.1', 'admin');
    expect(limiter.retryAfterSeconds('10.0.0.1', 'admin', t0)).toBeUndefined();
  });
});
