/**
 * A one-shot cancellation: a flag, its reason, and the listeners to run when it is set. It is what the relay needs of
 * an AbortController, without the EventTarget behind one: an AbortController and its signal cost about 2 µs per
 * request, and a listener added to and removed from the signal another, where this is a field and an array
 * (BENCHMARKS.md, 2026-12-01).
 */
export class Cancellation {
  private cancelled = false;
  private why: unknown;
  private listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.cancelled;
  }

  /** What `abort` was given; undefined until then. */
  get reason(): unknown {
    return this.why;
  }

  /** Sets the flag and runs the listeners once, in the order they were added; later calls do nothing. */
  abort(reason?: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.why = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /** Runs `listener` when `abort` is called (not if it already was: check `aborted` first). */
  on(listener: () => void): void {
    if (!this.cancelled) (this.listeners ??= []).push(listener);
  }

  off(listener: () => void): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    const at = listeners.indexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
  }
}

/** Keeps no listener: shared by every such call, it would otherwise hold each one that was never removed. */
class NeverCancelled extends Cancellation {
  override abort(): void {}
  override on(): void {}
}

/** For calls nobody cancels (token counting, which a timeout bounds instead); `abort` does nothing. */
export const NEVER_CANCELLED: Cancellation = new NeverCancelled();
