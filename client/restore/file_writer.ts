/**
 * Writes small files (and sets directories' attributes) on worker threads,
 * with synchronous file calls (./file_writer_worker.ts). A restore of many
 * small files spends most of its time in the kernel creating them; on the
 * main thread each of the four or five calls per file would cost a hop to
 * the runtime's thread pool and back, and synchronous calls there would
 * stall the network. The workers take files in batches of at least 64, or
 * of what waited for 4 ms, so the main thread pays one message per batch.
 * Two workers by default: one spends much of its time waiting in the kernel
 * (creating 50,000 files in 2,000 directories took 3.8 s with one, 2.2–2.7 s
 * with two).
 *
 * Operations run in parallel, in no set order: an operation that must come
 * after another (a directory's attributes after its files) is handed over
 * once the other's promise has settled.
 *
 * Each file is created at a temporary name that must not exist, with its
 * bytes, mode and times, and then renamed to its name, which it replaces:
 * use it only where nothing else can be at that name (a directory the
 * restore created and in which it refused duplicate names).
 *
 * A file's bytes are copied into a buffer shared with the worker when its
 * batch is sent: they must not change until its `write` settles.
 *
 * @module
 */

import { SharedSlabs, type SlabMessage } from "../concurrency/shared_slabs.ts";

/** One file to write. */
export interface SmallFile {
  kind: "file";
  /** Temporary path, created with `createNew` (an existing entry is an error). */
  tmp: string;
  /** Final path: `tmp` is renamed to it. */
  path: string;
  /** Its bytes. */
  data: Uint8Array;
  /** Permission bits, given at creation (so the umask applies). */
  mode: number;
  /** Modification (and access) time in ms since the epoch; the file's own when absent. */
  mtimeMs?: number;
}

/** New attributes of an entry (a directory this restore made, once its entries are done). */
export interface EntryAttributes {
  kind: "attributes";
  /** The entry's path (followed if a symlink: use it only for an entry known to be a directory). */
  path: string;
  /** Permission bits (mode & 0o7777). */
  mode: number;
  /** Modification (and access) time in ms since the epoch. */
  mtimeMs: number;
}

/** One operation handed to the writer. */
export type WriteOp = SmallFile | EntryAttributes;

/** A file as sent to the worker: its bytes are in the batch's slab, or in `data`. */
export interface WireFile extends Omit<SmallFile, "data"> {
  /** Where its bytes start in the slab. */
  offset: number;
  /** How many bytes. */
  length: number;
  /** Its bytes, when they are not in the slab (a file larger than one). */
  data?: Uint8Array;
}

/** One operation as sent to the worker. */
export type WireOp = WireFile | EntryAttributes;

/** A message to the worker. */
export type WriteBatch =
  | SlabMessage
  | {
    kind: "batch";
    /** Matches the answer to the batch. */
    id: number;
    /** The slab holding the batch's bytes. */
    slab: number;
    /** The operations, done in order. */
    ops: WireOp[];
  };

/** The worker's answer to a batch. */
export interface WriteResults {
  /** The batch's id. */
  id: number;
  /** Per operation: `null` when done, else the error's message. */
  errors: (string | null)[];
}

/** A file could not be written (the message is the file system's). */
export class FileWriteError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FileWriteError";
  }
}

interface Waiting {
  op: WriteOp;
  resolve(): void;
  reject(error: Error): void;
}

/** Batches sent to one worker and not answered yet, at most (one written, one waiting). */
const MAX_SENT = 2;
/**
 * A batch goes out once this many operations wait, or {@linkcode HOLD_MS}
 * after the first of them: each message wakes a worker thread, which costs
 * the main thread ~250 µs (measured: 2,900 messages of 18 files each took
 * 0.75 s of a restore's main thread), while the workers write faster than
 * files arrive, so a batch per turn would carry a few files.
 */
const MIN_BATCH = 64;
/** How long the first waiting operation may wait for others, in ms. */
const HOLD_MS = 4;

/**
 * Bytes of one batch's files. They are copied into a shared buffer, one per
 * batch in flight, that the worker reads in place: no buffer per file
 * becomes garbage on either side.
 */
const SLAB_BYTES = 4 * 1024 * 1024;

interface Sent {
  waiting: Waiting[];
  /** The shared buffer holding the batch's bytes. */
  slab: number;
}

/** One worker and what it has been sent. */
interface Lane {
  worker: Worker;
  /** Batches sent and not answered. */
  sent: number;
  /** The shared buffers it was given. */
  slabs: Set<number>;
}

/**
 * Workers that write small files (and set attributes), in parallel and in
 * no set order (see the module documentation). {@linkcode close} it when
 * done.
 */
export class FileWriter {
  readonly #lanes: Lane[] = [];
  readonly #size: number;
  #queue: Waiting[] = [];
  readonly #sent = new Map<number, Sent>();
  readonly #slabs = new SharedSlabs(SLAB_BYTES);
  #nextId = 0;
  #scheduled = false;
  /** The timer that sends a batch of fewer than {@linkcode MIN_BATCH} operations. */
  #holding: ReturnType<typeof setTimeout> | undefined;
  #failed: Error | undefined;

  /** A writer of up to `workers` threads, started as work comes. */
  constructor(workers = 2) {
    if (!(Number.isSafeInteger(workers) && workers > 0)) {
      throw new RangeError(`Cannot write files with ${workers} workers: not a positive integer`);
    }
    this.#size = workers;
  }

  /** Writes `file` (see the module documentation); rejects with {@linkcode FileWriteError}. */
  write(file: Omit<SmallFile, "kind">): Promise<void> {
    return this.#add({ kind: "file", ...file });
  }

  /** Sets an entry's mode and times (by path); rejects with {@linkcode FileWriteError}. */
  setAttributes(attributes: Omit<EntryAttributes, "kind">): Promise<void> {
    return this.#add({ kind: "attributes", ...attributes });
  }

  #add(op: WriteOp): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ op, resolve, reject });
    this.#schedule();
    return promise;
  }

  /**
   * Sends what waits soon: at the end of this turn when a full batch waits
   * (files handed over in the same turn go in one message), else after
   * {@linkcode HOLD_MS}.
   */
  #schedule(): void {
    if (this.#queue.length === 0 || this.#sent.size >= MAX_SENT * this.#size) return;
    if (this.#queue.length >= MIN_BATCH) {
      if (this.#scheduled) return;
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#send();
      });
    } else if (this.#holding === undefined) {
      this.#holding = setTimeout(() => {
        this.#holding = undefined;
        this.#send();
      }, HOLD_MS);
    }
  }

  /** Sends what waits, spread over the workers that can take a batch. */
  #send(): void {
    while (this.#queue.length > 0) {
      const lane = this.#lane();
      if (lane === undefined) return;
      // Shared between this lane and the others that are free now.
      let free = this.#size - this.#lanes.length;
      for (const l of this.#lanes) if (l.sent < MAX_SENT) free++;
      this.#sendTo(lane, Math.max(MIN_BATCH, Math.ceil(this.#queue.length / Math.max(1, free))));
    }
  }

  /** The least busy worker that can take a batch, starting one while fewer run than allowed. */
  #lane(): Lane | undefined {
    let best: Lane | undefined;
    for (const lane of this.#lanes) if (best === undefined || lane.sent < best.sent) best = lane;
    if (best !== undefined && (best.sent === 0 || this.#lanes.length >= this.#size)) {
      return best.sent < MAX_SENT ? best : undefined;
    }
    return this.#start();
  }

  /** Sends up to `most` of the waiting operations to `lane`, as far as one slab holds them. */
  #sendTo(lane: Lane, most: number): void {
    const slab = this.#slabs.lend(lane.worker, lane.slabs);
    const bytes = this.#slabs.bytes(slab);
    const ops: WireOp[] = [];
    let used = 0;
    let taken = 0;
    for (const { op } of this.#queue) {
      if (taken >= most) break;
      if (op.kind !== "file") {
        ops.push(op);
      } else {
        const { data, ...rest } = op;
        if (used + data.length <= SLAB_BYTES) {
          bytes.set(data, used);
          ops.push({ ...rest, offset: used, length: data.length });
          used += data.length;
        } else if (taken === 0) {
          // Larger than a slab: a copy of its own.
          ops.push({ ...rest, offset: 0, length: data.length, data: data.slice() });
        } else {
          break;
        }
      }
      taken++;
    }
    const waiting = this.#queue.splice(0, taken);
    const id = this.#nextId++;
    this.#sent.set(id, { waiting, slab });
    lane.sent++;
    const message: WriteBatch = { kind: "batch", id, slab, ops };
    lane.worker.postMessage(message);
  }

  #start(): Lane {
    const worker = new Worker(new URL("./file_writer_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const lane: Lane = { worker, sent: 0, slabs: new Set() };
    worker.onmessage = (event: MessageEvent<WriteResults>) => {
      const { id, errors } = event.data;
      const sent = this.#sent.get(id);
      if (sent === undefined) return;
      this.#sent.delete(id);
      lane.sent--;
      this.#slabs.release(sent.slab);
      sent.waiting.forEach((waiting, i) => {
        const error = errors[i];
        if (error === null) waiting.resolve();
        else waiting.reject(new FileWriteError(error));
      });
      this.#schedule();
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#fail(new FileWriteError(`Cannot write files: the writer stopped (${event.message})`));
    };
    this.#lanes.push(lane);
    return lane;
  }

  #fail(error: Error): void {
    this.#failed ??= error;
    for (const sent of this.#sent.values()) {
      for (const waiting of sent.waiting) waiting.reject(error);
    }
    this.#sent.clear();
    for (const waiting of this.#queue) waiting.reject(error);
    this.#queue = [];
  }

  /** Stops the workers; files not written yet fail. */
  close(): void {
    clearTimeout(this.#holding);
    this.#holding = undefined;
    for (const lane of this.#lanes.splice(0)) lane.worker.terminate();
    this.#fail(new FileWriteError("Cannot write files: the writer is closed"));
  }
}
