/**
 * Buffers shared with worker threads ("slabs"), lent for one request at a
 * time and named by number in messages. A slab is sent to each worker once
 * (a shared buffer in every message would cost more than the copying it
 * saves); the bytes a request needs go through it, so that no buffer is
 * allocated on one thread and freed on another (which grows malloc's
 * per-thread arenas) and none becomes garbage per file.
 *
 * @module
 */

/** The message that gives a worker a slab, before the first request that names it. */
export interface SlabMessage {
  kind: "slab";
  /** Its number in later requests. */
  index: number;
  /** The shared buffer. */
  buffer: SharedArrayBuffer;
}

/** Where a slab is sent: a worker, as far as the pool needs it. */
export interface SlabReceiver {
  /** Sends a message to the worker. */
  postMessage(message: SlabMessage): void;
}

/** A pool of slabs of one size. */
export class SharedSlabs {
  /** Bytes of each slab. */
  readonly size: number;
  readonly #slabs: Uint8Array<SharedArrayBuffer>[] = [];
  readonly #free: number[] = [];

  /** A pool of slabs of `size` bytes each, made as they are needed. */
  constructor(size: number) {
    if (!(Number.isSafeInteger(size) && size > 0)) {
      throw new RangeError(`Cannot make slabs of ${size} bytes: not a positive integer`);
    }
    this.size = size;
  }

  /**
   * The number of a free slab (a new one when none is free), now lent until
   * {@linkcode release}; sent to `worker` first unless `given`, the slabs it
   * has, holds it (it is then added).
   */
  lend(worker: SlabReceiver, given: Set<number>): number {
    let index = this.#free.pop();
    if (index === undefined) {
      index = this.#slabs.length;
      this.#slabs.push(new Uint8Array(new SharedArrayBuffer(this.size)));
    }
    if (!given.has(index)) {
      worker.postMessage({ kind: "slab", index, buffer: this.#slabs[index].buffer });
      given.add(index);
    }
    return index;
  }

  /** The bytes of slab `index`. */
  bytes(index: number): Uint8Array<SharedArrayBuffer> {
    const slab = this.#slabs[index];
    if (slab === undefined) throw new RangeError(`Cannot use slab ${index}: there is none`);
    return slab;
  }

  /** Gives slab `index` back: no worker may write to it any more. */
  release(index: number): void {
    this.#free.push(index);
  }
}
