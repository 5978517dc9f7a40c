/**
 * A pipelining RESP client over TCP, used by backup, restore and mount to
 * talk to `ddb serve`. Every `call` is written at once; replies are matched
 * to calls in order, so many calls may be in flight on one connection.
 *
 * @module
 */

import { encodeRequest, ReplyDecoder, RespErrorValue, type RespValue } from "./reply_decoder.ts";
import { FifoQueue } from "../concurrency/fifo_queue.ts";

/** The server answered with an error reply. */
export class ServerReplyError extends Error {
  /** The command that failed (its name). */
  readonly command: string;
  /** Builds the error from the reply text. */
  constructor(command: string, reply: string, options?: ErrorOptions) {
    super(`${command} failed: ${reply}`, options);
    this.name = "ServerReplyError";
    this.command = command;
  }
}

/** The connection is gone; calls in flight fail with this. */
export class ConnectionClosedError extends Error {
  /** Builds the error. */
  constructor(
    message = "Cannot talk to the ddb server: connection closed",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/** Where and how to connect. */
export interface ConnectOptions {
  /** Host name or address. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** AUTH password, if the server requires one. */
  password?: string;
  /** Database to SELECT after connecting. */
  db?: string;
}

interface Pending {
  command: string;
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

const decoder = new TextDecoder();

/** Parts smaller than this are copied into one write with their neighbours. */
const COALESCE_BELOW = 16 * 1024;

/** One connection to a ddb server. */
export class RespClient {
  readonly #conn: Deno.TcpConn;
  readonly #pending = new FifoQueue<Pending>();
  #outgoing: Uint8Array[] = [];
  readonly #scratch = new Uint8Array(256 * 1024 + COALESCE_BELOW);
  #flushScheduled = false;
  readonly #decoder = new ReplyDecoder();
  #writing: Promise<void> = Promise.resolve();
  #closed: Error | undefined;
  readonly #reading: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#reading = this.#readLoop();
  }

  /** Connects, authenticates and selects the database. */
  static async connect(options: ConnectOptions): Promise<RespClient> {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: options.hostname, port: options.port });
    } catch (cause) {
      throw new ConnectionClosedError(
        `Cannot connect to the ddb server at ${options.hostname}:${options.port}: ${
          (cause as Error).message
        }`,
        { cause },
      );
    }
    conn.setNoDelay(true);
    const client = new RespClient(conn);
    try {
      if (options.password !== undefined) await client.call("AUTH", options.password);
      if (options.db !== undefined) await client.call("SELECT", options.db);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Sends one command; resolves with its reply, rejects on an error reply. */
  call(...args: (string | Uint8Array)[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#closed);
    const command = typeof args[0] === "string" ? args[0].toUpperCase() : "command";
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    this.#pending.push({ command, resolve, reject });
    for (const part of encodeRequest(args)) this.#outgoing.push(part);
    if (!this.#flushScheduled) {
      // Calls made in the same turn go out together, in as few writes as possible.
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        const parts = this.#outgoing;
        this.#outgoing = [];
        this.#writing = this.#writing.then(() => this.#writeParts(parts))
          .catch((cause) => this.#fail(new ConnectionClosedError(undefined, { cause })));
      });
    }
    return promise;
  }

  async #writeParts(parts: Uint8Array[]): Promise<void> {
    let small: Uint8Array[] = [];
    let smallBytes = 0;
    const writeAll = async (bytes: Uint8Array) => {
      let offset = 0;
      while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
    };
    const flushSmall = async () => {
      if (smallBytes === 0) return;
      // Writes are sequential, so one scratch buffer serves every flush.
      const joined = smallBytes <= this.#scratch.length
        ? this.#scratch.subarray(0, smallBytes)
        : new Uint8Array(smallBytes);
      let at = 0;
      for (const p of small) {
        joined.set(p, at);
        at += p.length;
      }
      small = [];
      smallBytes = 0;
      await writeAll(joined);
    };
    for (const part of parts) {
      if (part.length >= COALESCE_BELOW) {
        await flushSmall();
        await writeAll(part);
      } else {
        small.push(part);
        smallBytes += part.length;
        if (smallBytes >= 256 * 1024) await flushSmall();
      }
    }
    await flushSmall();
  }

  /** Number of calls waiting for their reply. */
  get inFlight(): number {
    return this.#pending.length;
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#decoder.push(buffer.subarray(0, n));
        for (let reply = this.#decoder.next(); reply; reply = this.#decoder.next()) {
          const pending = this.#pending.shift();
          if (pending === undefined) throw new Error("a reply arrived for no request");
          const value = reply.value;
          if (value instanceof RespErrorValue) {
            pending.reject(new ServerReplyError(pending.command, value.message));
          } else {
            pending.resolve(value);
          }
        }
      }
      this.#fail(new ConnectionClosedError());
    } catch (cause) {
      this.#fail(
        cause instanceof ConnectionClosedError ? cause : new ConnectionClosedError(
          `Cannot talk to the ddb server: ${(cause as Error).message}`,
          { cause },
        ),
      );
    }
  }

  #fail(error: Error): void {
    this.#closed ??= error;
    for (const pending of this.#pending.drain()) pending.reject(error);
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Closes the connection; calls in flight fail. */
  close(): void {
    this.#fail(new ConnectionClosedError("Cannot talk to the ddb server: client closed"));
  }

  /** Closes and waits for the reader to finish. */
  async closed(): Promise<void> {
    this.close();
    await this.#reading;
  }
}

/** A reply as text (bulk or simple string); throws on anything else. */
export function asText(value: RespValue): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return decoder.decode(value);
  throw new TypeError(`Cannot read reply as text: got ${describe(value)}`);
}

/** A reply as bytes or null. */
export function asBytesOrNull(value: RespValue): Uint8Array | null {
  if (value === null || value instanceof Uint8Array) return value;
  throw new TypeError(`Cannot read reply as bytes: got ${describe(value)}`);
}

/** A reply as an integer. */
export function asInteger(value: RespValue): number {
  if (typeof value === "number") return value;
  throw new TypeError(`Cannot read reply as an integer: got ${describe(value)}`);
}

/** A reply as an array. */
export function asArray(value: RespValue): RespValue[] {
  if (Array.isArray(value)) return value;
  throw new TypeError(`Cannot read reply as an array: got ${describe(value)}`);
}

function describe(value: RespValue): string {
  if (value === null) return "nil";
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return typeof value;
}
