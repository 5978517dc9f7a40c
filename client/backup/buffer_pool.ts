/**
 * A pool of read buffers for small files. Reading tens of thousands of small
 * files into fresh buffers piles up garbage that V8 collects late (their
 * memory is outside its heap): the client's RSS grew with the bytes read.
 * Reusing buffers keeps it flat.
 *
 * @module
 */

/** Buffers by power-of-two size class, bounded in total bytes. */
export class BufferPool {
  readonly #free = new Map<number, Uint8Array[]>();
  readonly #limit: number;
  #pooled = 0;

  /** Builds a pool that keeps at most `limit` bytes of idle buffers. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** A buffer of at least `size` bytes (its length is its size class). */
  take(size: number): Uint8Array {
    const capacity = Math.max(4096, 2 ** Math.ceil(Math.log2(Math.max(size, 1))));
    const buffer = this.#free.get(capacity)?.pop();
    if (buffer !== undefined) {
      this.#pooled -= capacity;
      return buffer;
    }
    return new Uint8Array(capacity);
  }

  /** Gives a buffer from {@linkcode take} back; nothing may still use it. */
  give(buffer: Uint8Array): void {
    if (this.#pooled + buffer.length > this.#limit) return;
    let list = this.#free.get(buffer.length);
    if (list === undefined) this.#free.set(buffer.length, list = []);
    list.push(buffer);
    this.#pooled += buffer.length;
  }
}
