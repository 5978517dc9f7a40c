/**
 * Starts `ddb serve` as a real subprocess on a free loopback port for
 * end-to-end tests.
 *
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";

const MAIN = fromFileUrl(new URL("../main.ts", import.meta.url));

/** A running `ddb serve` subprocess. */
export interface TestServer {
  /** The TCP port it listens on. */
  readonly port: number;
  /** Its data directory. */
  readonly dataDir: string;
  /** Everything it wrote to stderr so far. */
  log(): string;
  /** The child process. */
  readonly process: Deno.ChildProcess;
  /** Sends `signal` and waits for exit; resolves with the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode startServer}. */
export interface StartOptions {
  /** Reuse this data directory (default: a new temp dir). */
  dataDir?: string;
  /** More `ddb serve` flags. */
  args?: string[];
  /** Environment variables. */
  env?: Record<string, string>;
  /** Listen on this port instead of a free one. */
  port?: number;
}

/** Starts a server and waits until it listens. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "ddb-test-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      "serve",
      "--listen",
      `127.0.0.1:${options.port ?? 0}`,
      "--data",
      dataDir,
      "--log-level",
      "debug",
      ...(options.args ?? []),
    ],
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const ready = Promise.withResolvers<number>();
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      text += decoder.decode(chunk, { stream: true });
      const match = /server\.start .*address=\S+:(\d+)/.exec(text);
      if (match) ready.resolve(Number(match[1]));
    }
    ready.reject(new Error(`ddb serve exited before listening:\n${text}`));
  })();
  const timer = setTimeout(
    () => ready.reject(new Error(`ddb serve did not start:\n${text}`)),
    30_000,
  );
  let port: number;
  try {
    port = await ready.promise;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await pump;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return {
    port,
    dataDir,
    process: child,
    log: () => text,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await pump;
      return status;
    },
  };
}

/** Runs `redis-cli` against `port` with `args`; stdin optional. */
export async function redisCli(
  port: number,
  args: string[],
  stdin?: Uint8Array | string,
): Promise<{ code: number; stdout: string; stderr: string; raw: Uint8Array }> {
  const child = new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin);
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
    raw: out.stdout,
  };
}

/** A RESP2 reply as read by {@linkcode RawConnection}. */
export type RespReply =
  | { readonly kind: "simple"; readonly value: string }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "int"; readonly value: number }
  | { readonly kind: "bulk"; readonly value: Uint8Array }
  | { readonly kind: "null" }
  | { readonly kind: "array"; readonly items: readonly RespReply[] };

/** The server sent bytes that are not a RESP2 reply. */
export class ReplyParseError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ReplyParseError";
  }
}

const respEncoder = new TextEncoder();
const respDecoder = new TextDecoder();

/** Encodes a command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const parts = args.map((a) => typeof a === "string" ? respEncoder.encode(a) : a);
  const heads = parts.map((p) => respEncoder.encode(`$${p.length}\r\n`));
  const first = respEncoder.encode(`*${parts.length}\r\n`);
  let size = first.length;
  for (let i = 0; i < parts.length; i++) size += heads[i].length + parts[i].length + 2;
  const out = new Uint8Array(size);
  out.set(first);
  let at = first.length;
  for (let i = 0; i < parts.length; i++) {
    out.set(heads[i], at);
    at += heads[i].length;
    out.set(parts[i], at);
    at += parts[i].length;
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return out;
}

/**
 * Parses the RESP2 reply starting at `offset` of `bytes`.
 *
 * @returns the reply and the offset after it, or undefined when incomplete.
 * @throws {ReplyParseError} on bytes that are not a reply.
 */
export function parseReply(
  bytes: Uint8Array,
  offset = 0,
): { reply: RespReply; end: number } | undefined {
  const lineEnd = bytes.indexOf(0x0a, offset);
  if (lineEnd < 0) return undefined;
  if (lineEnd === offset || bytes[lineEnd - 1] !== 0x0d) {
    throw new ReplyParseError(`Cannot parse reply at ${offset}: a line must end in CRLF`);
  }
  const type = String.fromCharCode(bytes[offset]);
  const line = respDecoder.decode(bytes.subarray(offset + 1, lineEnd - 1));
  const next = lineEnd + 1;
  const number = () => {
    if (!/^-?\d+$/.test(line)) {
      throw new ReplyParseError(`Cannot parse reply "${type}${line}": not a number`);
    }
    return Number(line);
  };
  switch (type) {
    case "+":
      return { reply: { kind: "simple", value: line }, end: next };
    case "-":
      return { reply: { kind: "error", message: line }, end: next };
    case ":":
      return { reply: { kind: "int", value: number() }, end: next };
    case "$": {
      const length = number();
      if (length === -1) return { reply: { kind: "null" }, end: next };
      if (length < 0) throw new ReplyParseError(`Cannot parse reply "$${line}": bad length`);
      if (bytes.length < next + length + 2) return undefined;
      if (bytes[next + length] !== 0x0d || bytes[next + length + 1] !== 0x0a) {
        throw new ReplyParseError(`Cannot parse reply "$${line}": no CRLF after the bulk string`);
      }
      return {
        reply: { kind: "bulk", value: bytes.slice(next, next + length) },
        end: next + length + 2,
      };
    }
    case "*": {
      const count = number();
      if (count === -1) return { reply: { kind: "null" }, end: next };
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(bytes, at);
        if (item === undefined) return undefined;
        items.push(item.reply);
        at = item.end;
      }
      return { reply: { kind: "array", items }, end: at };
    }
    default:
      throw new ReplyParseError(`Cannot parse reply: unknown type byte "${type}"`);
  }
}

/** Whether `error` means the peer closed or reset the connection. */
function isPeerGone(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected;
}

/**
 * A raw TCP connection to a test server that sends any bytes and reads RESP2
 * replies. A reset by the server counts as end of stream.
 */
export class RawConnection {
  /** The socket. */
  readonly conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #eof = false;
  #closed = false;
  /** Whether the stream ended with a reset rather than a clean close. */
  reset = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to `port` on the loopback interface. */
  static async open(port: number): Promise<RawConnection> {
    return new RawConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes all of `data`; throws if the server is gone. */
  async send(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? respEncoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Reads once into the buffer; false at end of stream. Closes the socket on timeout. */
  async #fill(timeoutMs: number): Promise<boolean> {
    if (this.#eof) return false;
    const chunk = new Uint8Array(256 * 1024);
    const read = this.conn.read(chunk).then(
      (n) => n,
      (error) => {
        if (this.#closed || !isPeerGone(error)) throw error;
        this.reset = true;
        return null;
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([read, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.close();
      await read.catch(() => null);
      throw new Error(`No reply within ${timeoutMs} ms`);
    }
    if (outcome === null) {
      this.#eof = true;
      return false;
    }
    const grown = new Uint8Array(this.#buffer.length + outcome);
    grown.set(this.#buffer);
    grown.set(chunk.subarray(0, outcome), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }

  /** The next reply, or undefined at end of stream; throws after `timeoutMs` without one. */
  async read(timeoutMs = 10_000): Promise<RespReply | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseReply(this.#buffer);
      if (parsed !== undefined) {
        this.#buffer = this.#buffer.subarray(parsed.end);
        return parsed.reply;
      }
      if (!(await this.#fill(Math.max(1, deadline - Date.now())))) {
        if (this.#buffer.length > 0 && !this.reset) {
          throw new ReplyParseError(
            `Cannot parse reply: the stream ended inside one (${this.#buffer.length} bytes)`,
          );
        }
        return undefined;
      }
    }
  }

  /** Bytes received that do not form a complete reply yet. */
  get pending(): Uint8Array {
    return this.#buffer;
  }

  /** Sends a command and reads its reply; throws at end of stream. */
  async command(...args: (string | Uint8Array)[]): Promise<RespReply> {
    await this.send(encodeCommand(args));
    const reply = await this.read();
    if (reply === undefined) throw new Error(`Connection closed before the reply to ${args[0]}`);
    return reply;
  }

  /** Reads and drops bytes until end of stream; resolves with how many arrived. */
  async drain(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let total = this.#buffer.length;
    this.#buffer = new Uint8Array(0);
    while (await this.#fill(Math.max(1, deadline - Date.now()))) {
      total += this.#buffer.length;
      this.#buffer = new Uint8Array(0);
    }
    return total;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** The resident set size of process `pid` in bytes (Linux `/proc/PID/status` VmRSS). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`Cannot read the RSS of process ${pid}: no VmRSS line`);
  return Number(match[1]) * 1024;
}

/** The output of one `ddb` run. */
export interface DdbResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Starts `ddb ARGS…` (deno run main.ts) as a subprocess with piped output. */
export function spawnDdb(args: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `ddb ARGS…` to the end (killed after `timeoutMs`). */
export async function runDdb(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<DdbResult> {
  const child = spawnDdb(args, env);
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A reply as one line of text, for assertion messages. */
export function showReply(reply: RespReply | undefined): string {
  if (reply === undefined) return "end of stream";
  switch (reply.kind) {
    case "simple":
      return `+${reply.value}`;
    case "error":
      return `-${reply.message}`;
    case "int":
      return `:${reply.value}`;
    case "bulk":
      return reply.value.length > 80
        ? `$<${reply.value.length} bytes>`
        : `$${new TextDecoder().decode(reply.value)}`;
    case "null":
      return "nil";
    case "array":
      return `[${reply.items.map(showReply).join(", ")}]`;
  }
}

/** A small seeded PRNG (mulberry32). */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number, alphabet?: string): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = alphabet === undefined
        ? this.int(256)
        : alphabet.charCodeAt(this.int(alphabet.length));
    }
    return out;
  }
}

/** The bytes of `parts`, one after the other. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
