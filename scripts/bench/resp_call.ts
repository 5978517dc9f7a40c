/**
 * One command over a fresh loopback connection: connect, send, read one
 * reply, close. For setup and readiness checks, not for load.
 *
 * @module
 */

import { encodeCommand } from "./resp_command.ts";
import { type BenchReply, ReplyReader } from "./reply_reader.ts";

/** The command could not be sent or its reply not read in time. */
export class RespCallError extends Error {
  /** Builds the error with a message such as `Cannot call "PING" on port 1: reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RespCallError";
  }
}

/**
 * Sends `args` as one command to `127.0.0.1:port` and resolves with the
 * reply; fails after `timeoutMs` (default 10 s).
 *
 * @example
 * ```ts
 * const reply = await respCall(6379, ["PING"]); // { kind: "simple", value: "PONG" }
 * ```
 */
export async function respCall(
  port: number,
  args: readonly (string | Uint8Array)[],
  timeoutMs = 10_000,
): Promise<BenchReply> {
  const name = typeof args[0] === "string" ? args[0] : "command";
  let conn: Deno.TcpConn | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn?.close();
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const frame = encodeCommand(args);
    for (let offset = 0; offset < frame.length;) offset += await conn.write(frame.subarray(offset));
    const reader = new ReplyReader();
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const reply = reader.next();
      if (reply !== undefined) return reply;
      const n = await conn.read(buffer);
      if (n === null) throw new Error("connection closed before the reply");
      reader.push(buffer.subarray(0, n));
    }
  } catch (cause) {
    const reason = timedOut ? `no reply within ${timeoutMs} ms` : (cause as Error).message;
    throw new RespCallError(`Cannot call "${name}" on port ${port}: ${reason}`, { cause });
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
    }
  }
}
