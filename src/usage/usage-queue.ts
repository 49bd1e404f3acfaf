/**
 * A bounded FIFO between the request path and the batch writer. `push` never blocks and never grows the queue past
 * its capacity: a row that does not fit is dropped and reported to `onDrop` (the metric).
 */
export class UsageQueue<T> {
  private items: T[] = [];

  constructor(
    readonly capacity: number,
    private readonly onDrop: () => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** False when the row was dropped because the queue is full. */
  push(item: T): boolean {
    if (this.items.length >= this.capacity) {
      this.onDrop();
      return false;
    }
    this.items.push(item);
    return true;
  }

  /** Removes and returns up to `max` of the oldest rows. */
  take(max: number): T[] {
    if (this.items.length <= max) {
      const all = this.items;
      this.items = [];
      return all;
    }
    return this.items.splice(0, max);
  }
}
