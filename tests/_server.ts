/**
 * Starts `ddb serve` as a real subprocess on a free loopback port for
 * end-to-end tests.
 *
 * @module
 */

import { fromFileUrl } from "node:url";

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
