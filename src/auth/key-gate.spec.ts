import { describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { AppError } from '../common/errors/app-error.js';
import { KeyGate, type ResponseEnd } from './key-gate.js';

/** A response whose end the test decides: `end()` emits 'close' as node:http does. */
class FakeResponse extends EventEmitter {
  closed = false;
  end(): void {
    this.closed = true;
    this.emit('close');
  }
}

const response = (): FakeResponse & ResponseEnd => new FakeResponse() as FakeResponse & ResponseEnd;

function refusal(run: () => void): AppError {
  try {
    run();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('KeyGate', () => {
  it('holds a slot per admitted request until its response closes, and refuses beyond max_concurrent', () => {
    const gate = new KeyGate({ rateLimitRpm: null, maxConcurrent: 2 });
    const [a, b, c] = [response(), response(), response()];
    gate.admit(a);
    gate.admit(b);
    const err = refusal(() => gate.admit(c));
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.message).toContain('limit 2');
    a.end();
    expect(gate.active).toBe(1);
    gate.admit(c);
    expect(gate.active).toBe(2);
  });

  it('releases a slot once, however often close is emitted, and at once for a response already closed', () => {
    const gate = new KeyGate({ rateLimitRpm: null, maxConcurrent: 1 });
    const a = response();
    gate.admit(a);
    a.end();
    a.emit('close');
    expect(gate.active).toBe(0);
    const gone = response();
    gone.closed = true;
    gate.admit(gone);
    expect(gate.active).toBe(0);
  });

  it('admits rpm requests at once, then one every 60/rpm seconds, with the wait as Retry-After', () => {
    const t0 = 1_000;
    const gate = new KeyGate({ rateLimitRpm: 3, maxConcurrent: null }, t0);
    for (let i = 0; i < 3; i++) gate.admit(response(), t0);
    const err = refusal(() => gate.admit(response(), t0));
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfterSeconds).toBe(20);
    expect(err.message).toContain('3 requests per minute');
    expect(refusal(() => gate.admit(response(), t0 + 15_000)).retryAfterSeconds).toBe(5);
    gate.admit(response(), t0 + 20_000);
    expect(() => gate.admit(response(), t0 + 20_000)).toThrow(AppError);
    // Idle for long: the bucket refills to rpm, no further.
    for (let i = 0; i < 3; i++) gate.admit(response(), t0 + 3_600_000);
    expect(() => gate.admit(response(), t0 + 3_600_000)).toThrow(AppError);
  });

  it('takes no token for a request refused for concurrency, and no slot for one refused for rate', () => {
    const gate = new KeyGate({ rateLimitRpm: 2, maxConcurrent: 1 }, 0);
    const first = response();
    gate.admit(first, 0);
    expect(refusal(() => gate.admit(response(), 0)).message).toContain('concurrent');
    first.end();
    // The refused request left the second token: this one gets it.
    const second = response();
    gate.admit(second, 0);
    second.end();
    expect(refusal(() => gate.admit(response(), 0)).message).toContain('requests per minute');
    expect(gate.active).toBe(0);
  });
});
