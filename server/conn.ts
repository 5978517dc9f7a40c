/**
 * One client connection: read → decode → execute → write. The only place
 * that touches a client socket.
 *
 * Memory per connection is bounded by the decoder's limits (one request at
 * most) and by TCP backpressure on replies: the next read waits until every
 * reply of the previous batch is written.
 *
 * @module
 */

import { ProtocolError } from "./resp/errors.ts";
import { type DecoderLimits, RequestDecoder } from "./resp/decode.ts";
import { ReplyWriter } from "./resp/encode.ts";
import { error, type Reply } from "./resp/reply.ts";
import type { Executor } from "./executor.ts";
import type { Session } from "./session.ts";
import type { Logger } from "./log/logger.ts";

/** First read buffer size; it doubles while reads fill it, up to the maximum. */
const MIN_READ_SIZE = 16 * 1024;
const MAX_READ_SIZE = 1024 * 1024;
/** Commands executed before their replies are written, at most. */
const MAX_BATCH = 1024;
/**
 * A connection that keeps finding bytes to read never leaves the microtask
 * queue (reads and writes of a busy socket complete at once), which would
 * starve every other connection. A heartbeat timer notes each event-loop
 * turn; a connection that sees no turn for this long yields one.
 */
const FAIRNESS_SLICE_MS = 5;

let lastTurn = performance.now();
let lastWork = 0;
let heartbeat: ReturnType<typeof setInterval> | undefined;

/**
 * Notes that a connection works. The heartbeat that records event-loop turns
 * runs while connections work and stops a second after the last work, so an
 * idle server does not wake up.
 */
function working(): void {
  lastWork = performance.now();
  if (heartbeat !== undefined) return;
  lastTurn = lastWork;
  const timer = setInterval(() => {
    lastTurn = performance.now();
    if (lastTurn - lastWork > 1000) {
      clearInterval(timer);
      heartbeat = undefined;
    }
  }, 1);
  Deno.unrefTimer(timer);
  heartbeat = timer;
}

/** Whether the event loop has not turned for a slice: time to yield. */
function starving(): boolean {
  return performance.now() - lastTurn > FAIRNESS_SLICE_MS;
}

/**
 * One event-loop turn in which the runtime polls sockets. Only a timer makes
 * Deno park and poll: setImmediate and message ports resolve without
 * polling, so other connections would still starve.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** What a connection reports to the server that watches it. */
export interface ConnectionState {
  /** Whether part of a request is buffered. */
  readonly partial: boolean;
  /** When the last bytes arrived or the last request completed (ms). */
  readonly lastProgress: number;
  /** Whether commands are executing now. */
  readonly busy: boolean;
}

/** Serves one client until it disconnects, errs, or the server closes it. */
export class Connection implements ConnectionState {
  readonly #conn: Deno.Conn;
  readonly #session: Session;
  readonly #executor: Executor;
  readonly #decoder: RequestDecoder;
  readonly #logger: Logger;
  readonly #now: () => number;
  #closed = false;
  #draining = false;
  #writer: ReplyWriter | undefined;
  /** See {@linkcode ConnectionState.lastProgress}. */
  lastProgress: number;
  /** See {@linkcode ConnectionState.busy}. */
  busy = false;

  /** Wraps an accepted socket. */
  constructor(
    conn: Deno.Conn,
    session: Session,
    executor: Executor,
    limits: Partial<DecoderLimits>,
    logger: Logger,
    now: () => number,
  ) {
    this.#conn = conn;
    this.#session = session;
    this.#executor = executor;
    this.#decoder = new RequestDecoder(limits);
    this.#logger = logger;
    this.#now = now;
    this.lastProgress = now();
  }

  /** See {@linkcode ConnectionState.partial}. */
  get partial(): boolean {
    return this.#decoder.bufferedBytes > 0;
  }

  /** The session of this connection. */
  get session(): Session {
    return this.#session;
  }

  /** Serves until the end; never throws. */
  async serve(): Promise<void> {
    try {
      await this.#loop();
    } catch (cause) {
      if (!this.#closed && !isDisconnect(cause)) {
        this.#logger.warn("conn.error", {
          peer: this.#session.peer,
          error: cause instanceof Error ? cause.message : String(cause),
        });
      }
    } finally {
      this.close();
    }
  }

  async #loop(): Promise<void> {
    // The decoder copies what it is pushed, so one buffer serves every read.
    let buffer = new Uint8Array(MIN_READ_SIZE);
    while (!this.#closed) {
      const n = await this.#conn.read(buffer);
      if (n === null) return;
      this.lastProgress = this.#now();
      this.#decoder.push(buffer.subarray(0, n));
      if (n === buffer.length && buffer.length < MAX_READ_SIZE) {
        buffer = new Uint8Array(buffer.length * 2);
      }
      let done = false;
      while (!done && !this.#closed) {
        if (starving()) await nextTurn();
        const commands: Uint8Array[][] = [];
        let failure: ProtocolError | undefined;
        try {
          while (commands.length < MAX_BATCH) {
            const argv = this.#decoder.next();
            if (argv === undefined) {
              done = true;
              break;
            }
            if (argv.length > 0) commands.push(argv);
          }
        } catch (cause) {
          if (!(cause instanceof ProtocolError)) throw cause;
          failure = cause;
        }
        if (commands.length > 0) await this.#run(commands);
        if (failure !== undefined) {
          this.#logger.info("conn.protocol_error", {
            peer: this.#session.peer,
            error: failure.detail,
          });
          await this.#write([error(`ERR Protocol error: ${failure.detail}`)]);
          return;
        }
        if (this.#session.closeAfterReply || this.#draining) return;
      }
    }
  }

  async #run(commands: Uint8Array[][]): Promise<void> {
    this.busy = true;
    working();
    try {
      const replies = await this.#executor.execute(
        this.#session,
        commands,
        (ready) => this.#write(ready),
      );
      this.lastProgress = this.#now();
      await this.#write(replies);
    } finally {
      this.busy = false;
    }
  }

  async #write(replies: readonly Reply[]): Promise<void> {
    // One writer per protocol version, reused: its scratch buffer serves
    // many replies (it never writes bytes it has handed out).
    const protocol = this.#session.protocol;
    if (this.#writer?.protocol !== protocol) this.#writer = new ReplyWriter(protocol);
    const writer = this.#writer;
    for (const reply of replies) writer.write(reply);
    for (const chunk of writer.takeChunks()) {
      let offset = 0;
      while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
    }
  }

  /**
   * Asks the connection to stop: an idle one closes now; a busy one closes
   * after writing the replies of the commands it is running.
   */
  drain(): void {
    this.#draining = true;
    if (!this.busy) this.close();
  }

  /** Closes the socket at once and ends the session (which ends its leases). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    this.#session.end();
  }
}

function isDisconnect(cause: unknown): boolean {
  return cause instanceof Deno.errors.ConnectionReset ||
    cause instanceof Deno.errors.BrokenPipe ||
    cause instanceof Deno.errors.BadResource ||
    cause instanceof Deno.errors.Interrupted ||
    cause instanceof Deno.errors.NotConnected;
}
