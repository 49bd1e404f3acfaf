import { describe, expect, it, jest } from '@jest/globals';
import { Cancellation, NEVER_CANCELLED } from './cancellation.js';

describe('Cancellation', () => {
  it('runs each listener once, in order, with the reason set before they run', () => {
    const cancellation = new Cancellation();
    const seen: unknown[] = [];
    cancellation.on(() => seen.push(['first', cancellation.aborted, cancellation.reason]));
    cancellation.on(() => seen.push(['second', cancellation.reason]));
    cancellation.abort('gone');
    cancellation.abort('again');
    expect(seen).toEqual([
      ['first', true, 'gone'],
      ['second', 'gone'],
    ]);
    expect(cancellation.reason).toBe('gone');
  });

  it('does not run a listener that was removed, nor one added after the abort', () => {
    const cancellation = new Cancellation();
    const removed = jest.fn();
    const kept = jest.fn();
    cancellation.on(removed);
    cancellation.on(kept);
    cancellation.off(removed);
    cancellation.abort();
    const late = jest.fn();
    cancellation.on(late);
    expect(removed).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
    expect(late).not.toHaveBeenCalled();
  });

  it('leaves NEVER_CANCELLED, shared by every uncancellable call, never aborted', () => {
    const listener = jest.fn();
    NEVER_CANCELLED.on(listener);
    NEVER_CANCELLED.abort('no');
    expect(NEVER_CANCELLED.aborted).toBe(false);
    expect(listener).not.toHaveBeenCalled();
    NEVER_CANCELLED.off(listener);
  });
});
