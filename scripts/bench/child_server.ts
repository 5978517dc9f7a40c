/**
 * The two servers under test as subprocesses on loopback: `ddb serve` and
 * `redis-server`, each with its own temporary directory, which
 * {@linkcode ChildServer.stop} removes.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { freePort } from "./free_port.ts";
import { respCall } from "./resp_call.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
/** How long a server may take to answer its first PING. */
const START_TIMEOUT_MS = 30_000;
/** How long a server may take to exit after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;
/** Characters of output kept for error messages. */
const OUTPUT_TAIL = 8 * 1024;

/** A server did not start. */
export class ServerStartError extends Error {
  /** Builds the error with a message such as `Cannot start ddb: reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServerStartError";
  }
}

/** A server subprocess listening on `127.0.0.1:port`. */
export interface ChildServer {
  /** `ddb` or `redis`. */
  readonly name: string;
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Its process id (the server itself, not a wrapper). */
  readonly pid: number;
  /** Its temporary directory. */
  readonly dir: string;
  /** The last lines it wrote to stdout and stderr. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and removes its directory; idempotent. */
  stop(): Promise<void>;
}

/** Starts `ddb serve` on a free port with a new data directory; resolves once it answers PING. */
export async function startDdb(): Promise<ChildServer> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-bench-" });
  const port = freePort();
  const args = ["run", "--allow-all", MAIN, "serve", "--listen", `127.0.0.1:${port}`];
  args.push("--data", dir, "--log-level", "warn");
  return await startChild("ddb", Deno.execPath(), args, port, dir);
}

/** Starts `redis-server` without persistence on a free port; resolves once it answers PING. */
export async function startRedis(): Promise<ChildServer> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-bench-redis-" });
  const port = freePort();
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push("--dir", dir, "--daemonize", "no", "--loglevel", "warning");
  return await startChild("redis", "redis-server", args, port, dir);
}

async function startChild(
  name: string,
  program: string,
  args: string[],
  port: number,
  dir: string,
): Promise<ChildServer> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    await Deno.remove(dir, { recursive: true });
    throw new ServerStartError(`Cannot start ${name}: ${(cause as Error).message}`, { cause });
  }
  let tail = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      tail = (tail + decoder.decode(chunk, { stream: true })).slice(-OUTPUT_TAIL);
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let exited = false;
  const status = child.status.finally(() => (exited = true));
  let stopped: Promise<void> | undefined;
  const server: ChildServer = {
    name,
    port,
    pid: child.pid,
    dir,
    output: () => tail,
    stop() {
      stopped ??= (async () => {
        if (!exited) {
          signal(child, "SIGTERM");
          const timer = setTimeout(() => signal(child, "SIGKILL"), STOP_TIMEOUT_MS);
          await status;
          clearTimeout(timer);
        }
        await pumps;
        await Deno.remove(dir, { recursive: true });
      })();
      return stopped;
    },
  };
  try {
    await waitForPing(port, () => exited);
  } catch (cause) {
    await server.stop();
    throw new ServerStartError(
      `Cannot start ${name} on port ${port}: ${(cause as Error).message}\n${tail}`,
      { cause },
    );
  }
  return server;
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // Already exited.
  }
}

async function waitForPing(port: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited()) throw new Error("the process exited");
    try {
      const reply = await respCall(port, ["PING"], 2_000);
      if (reply.kind === "simple" && reply.value === "PONG") return;
      throw new Error(`PING answered ${JSON.stringify(reply)}`);
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`no PONG within ${START_TIMEOUT_MS} ms`, { cause: error });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
