/**
 * A first-in first-out queue with O(1) removal from the front
 * (`Array.prototype.shift` is O(n)).
 *
 * @module
 */

/** A FIFO queue; see the module documentation. */
export class FifoQueue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Adds `item` at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Number of items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Removes and returns every item, front first. */
  drain(): T[] {
    const rest = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}
