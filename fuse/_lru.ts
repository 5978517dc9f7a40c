/**
 * A least-recently-used map bounded by the total weight of its values.
 *
 * @module
 */

/** Values by key; the least recently used are dropped while the total weight is over the bound. */
export class Lru<K, V> {
  readonly #max: number;
  readonly #items = new Map<K, { value: V; weight: number }>();
  #weight = 0;

  /** Builds a map holding at most `maxWeight` (the newest value is kept even when heavier). */
  constructor(maxWeight: number) {
    this.#max = maxWeight;
  }

  /** The total weight held. */
  get weight(): number {
    return this.#weight;
  }

  /** The number of values held. */
  get size(): number {
    return this.#items.size;
  }

  /** The value of `key`, marked as recently used. */
  get(key: K): V | undefined {
    const item = this.#items.get(key);
    if (item === undefined) return undefined;
    this.#items.delete(key);
    this.#items.set(key, item);
    return item.value;
  }

  /** Sets the value of `key`, then drops the least recently used values while over the bound. */
  set(key: K, value: V, weight = 1): void {
    const old = this.#items.get(key);
    if (old !== undefined) {
      this.#items.delete(key);
      this.#weight -= old.weight;
    }
    this.#items.set(key, { value, weight });
    this.#weight += weight;
    for (const [oldKey, item] of this.#items) {
      if (this.#weight <= this.#max || oldKey === key) break;
      this.#items.delete(oldKey);
      this.#weight -= item.weight;
    }
  }
}
