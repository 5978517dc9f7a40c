/**
 * A BPUT load generator: several loopback connections, each with a window of
 * pipelined `BPUT <content>` requests in flight, measuring throughput.
 *
 * `redis-benchmark` cannot send arguments over 128 KiB nor vary their content,
 * hence this client. Every request carries a payload of the same size: random
 * bytes drawn once per run, stamped in their first 8 bytes with a blob number
 * (by default the request number, so every blob is new and deduplication never
 * short-circuits the write). Each connection reuses one frame buffer and
 * restamps it after the previous write has been handed to the kernel.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { commandPrefix } from "./resp_command.ts";
import { ReplyReader } from "./reply_reader.ts";

/** What load to send. */
export interface BlobLoadOptions {
  /** Port on 127.0.0.1. */
  port: number;
  /** Bytes per blob. */
  size: number;
  /** Stop after this many requests. */
  count?: number;
  /** Stop sending after this many milliseconds. */
  durationMs?: number;
  /** Parallel connections. */
  connections: number;
  /** Requests in flight per connection. */
  depth: number;
  /** Cap on requests per second over all connections (default: none). */
  ratePerSecond?: number;
  /**
   * The blob number of request `i` (0-based); requests with equal numbers
   * carry equal content. Default: `i`, every blob distinct.
   */
  blobNumber?: (i: number) => number;
  /** Fail after this many milliseconds. */
  timeoutMs: number;
  /** Stop sending early; requests in flight still complete. */
  signal?: AbortSignal;
}

/** What a load achieved. */
export interface BlobLoadResult {
  /** Bytes per blob. */
  size: number;
  /** Requests completed. */
  requests: number;
  /** Payload bytes sent and acknowledged. */
  bytes: number;
  /** Wall time from the first request to the last reply. */
  seconds: number;
  /** Payload throughput, 10^6 bytes per second. */
  mbPerSecond: number;
  /** Completed requests per second. */
  requestsPerSecond: number;
  /** Parallel connections. */
  connections: number;
  /** Requests in flight per connection. */
  depth: number;
}

/** The load could not be completed: a bad reply, a closed connection or the timeout. */
export class BlobLoadError extends Error {
  /** Builds the error with a message such as `Cannot run BPUT load: reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BlobLoadError";
  }
}

const HASH = /^[0-9a-f]{64}$/;
const STAMP_BYTES = 8;
const READ_BUFFER = 64 * 1024;
/** getRandomValues fills at most this many bytes per call. */
const RANDOM_CHUNK = 65536;

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += RANDOM_CHUNK) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + RANDOM_CHUNK)));
  }
  return bytes;
}

/** Hands out request numbers to the connections until the count, the time or the signal ends. */
class Dispenser {
  #next = 0;
  readonly #start = performance.now();
  constructor(readonly options: BlobLoadOptions) {}

  async take(): Promise<number | undefined> {
    const { count, durationMs, ratePerSecond, signal } = this.options;
    if (signal?.aborted) return undefined;
    if (count !== undefined && this.#next >= count) return undefined;
    const due = ratePerSecond === undefined ? 0 : (this.#next * 1000) / ratePerSecond;
    const end = durationMs ?? Infinity;
    if (due >= end || performance.now() - this.#start >= end) return undefined;
    const i = this.#next++;
    const wait = this.#start + due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return signal?.aborted ? undefined : i;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

/** Runs one connection: sends what the dispenser hands out, `depth` at a time; resolves with the replies counted. */
async function drive(
  conn: Deno.TcpConn,
  base: Uint8Array,
  dispenser: Dispenser,
  options: BlobLoadOptions,
): Promise<number> {
  const prefix = commandPrefix(["BPUT"], base.length);
  const frame = new Uint8Array(prefix.length + base.length + 2);
  frame.set(prefix, 0);
  frame.set(base, prefix.length);
  frame.set([0x0d, 0x0a], prefix.length + base.length);
  const payload = frame.subarray(prefix.length, prefix.length + base.length);
  const stamp = new DataView(frame.buffer, prefix.length, STAMP_BYTES);
  const blobNumber = options.blobNumber ?? ((i: number) => i);

  let sent = 0;
  let received = 0;
  let failure: Error | undefined;
  let expectedFirst: string | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const waitForReply = () => new Promise<void>((resolve) => (wake = resolve));

  let closing = false;
  const reading = (async () => {
    const reader = new ReplyReader();
    const buffer = new Uint8Array(READ_BUFFER);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) {
          if (!closing) throw new Error("the server closed the connection");
          return;
        }
        reader.push(buffer.subarray(0, n));
        for (let reply = reader.next(); reply !== undefined; reply = reader.next()) {
          if (reply.kind === "error") throw new Error(`BPUT failed: ${reply.message}`);
          const hash = reply.kind === "bulk" && reply.value !== null
            ? new TextDecoder().decode(reply.value)
            : "";
          if (!HASH.test(hash)) throw new Error(`BPUT replied ${JSON.stringify(reply)}`);
          if (received === 0 && hash !== expectedFirst) {
            throw new Error(`BPUT replied hash ${hash}, expected ${expectedFirst}`);
          }
          received++;
        }
        notify();
      }
    } catch (error) {
      if (!closing) failure = error as Error;
      notify();
    }
  })();

  try {
    for (;;) {
      while (sent - received >= options.depth && failure === undefined) await waitForReply();
      if (failure !== undefined) throw failure;
      const i = await dispenser.take();
      if (i === undefined) break;
      stamp.setBigUint64(0, BigInt(blobNumber(i)));
      if (sent === 0) expectedFirst = createHash("sha256").update(payload).digest("hex");
      await writeAll(conn, frame);
      sent++;
    }
    while (received < sent && failure === undefined) await waitForReply();
    if (failure !== undefined) throw failure;
    return received;
  } finally {
    closing = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    await reading;
  }
}

/**
 * Sends BPUT requests as `options` say and resolves with the throughput. At
 * least one of `count`, `durationMs` or `signal` must bound the run.
 */
export async function runBlobLoad(options: BlobLoadOptions): Promise<BlobLoadResult> {
  if (options.count === undefined && options.durationMs === undefined) {
    throw new BlobLoadError("Cannot run BPUT load: neither a count nor a duration");
  }
  if (options.size < STAMP_BYTES) {
    throw new BlobLoadError(`Cannot run BPUT load: size ${options.size} under ${STAMP_BYTES}`);
  }
  const base = randomBytes(options.size);
  const conns: Deno.TcpConn[] = [];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }, options.timeoutMs);
  try {
    for (let i = 0; i < options.connections; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
      conn.setNoDelay(true);
      conns.push(conn);
    }
    const start = performance.now();
    const dispenser = new Dispenser(options);
    const counts = await Promise.all(conns.map((conn) => drive(conn, base, dispenser, options)));
    const seconds = (performance.now() - start) / 1000;
    const requests = counts.reduce((a, b) => a + b, 0);
    const bytes = requests * options.size;
    return {
      size: options.size,
      requests,
      bytes,
      seconds,
      mbPerSecond: bytes / 1e6 / seconds,
      requestsPerSecond: requests / seconds,
      connections: options.connections,
      depth: options.depth,
    };
  } catch (cause) {
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    const reason = timedOut ? `not done within ${options.timeoutMs} ms` : (cause as Error).message;
    throw new BlobLoadError(`Cannot run BPUT load of ${options.size}-byte blobs: ${reason}`, {
      cause,
    });
  } finally {
    clearTimeout(timer);
  }
}
