/**
 * Test helpers: the demo memory file system mounted by a child process
 * (`serve_memory_fs.ts`), so that the test process can use the mount like
 * any other program would.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const SERVE = fileURLToPath(new URL("./serve_memory_fs.ts", import.meta.url));
const decoder = new TextDecoder();

/** Whether this machine can run FUSE mount tests as root. */
export function canMountAsRoot(): boolean {
  try {
    return Deno.uid() === 0 && Deno.statSync("/dev/fuse").isCharDevice === true;
  } catch {
    return false;
  }
}

/** A child process serving the demo file system. */
export interface ServeProcess {
  /** The child. */
  readonly process: Deno.ChildProcess;
  /** Its stdout so far. */
  stdout(): string;
  /** Its stderr so far. */
  stderr(): string;
  /** Resolves when stdout has a line starting with `prefix`; rejects if the child exits first. */
  waitFor(prefix: string, timeoutMs?: number): Promise<string>;
  /** Waits for the exit and the end of its output. */
  exited(): Promise<Deno.CommandStatus>;
  /** Sends `signal` (if still running) and waits for the exit and the end of its output. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode spawnServe}. */
export interface SpawnServeOptions {
  /** More `serve_memory_fs.ts` flags. */
  args?: string[];
  /** Run through this command prefix (e.g. `unshare … setpriv …`); it must end up exec'ing deno. */
  prefix?: string[];
  /** Environment variables. */
  env?: Record<string, string>;
  /** Extra deno flags (before the script). */
  denoFlags?: string[];
}

/** Spawns `serve_memory_fs.ts <mountpoint>` and waits for nothing. */
export function spawnServe(mountpoint: string, options: SpawnServeOptions = {}): ServeProcess {
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-all",
    ...(options.denoFlags ?? []),
    SERVE,
    mountpoint,
    ...(options.args ?? []),
  ];
  const command = [...(options.prefix ?? []), ...deno];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((waiter) => waiter());
  const pump = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    const textDecoder = new TextDecoder();
    for await (const chunk of stream) {
      add(textDecoder.decode(chunk, { stream: true }));
      wake();
    }
  };
  const pumps = Promise.all([
    pump(child.stdout, (text) => out += text),
    pump(child.stderr, (text) => err += text),
  ]);
  let exited = false;
  const status = child.status.then((result) => {
    exited = true;
    wake();
    return result;
  });
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    waitFor(prefix, timeoutMs = 30_000) {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const line = out.split("\n").find((candidate) => candidate.startsWith(prefix));
          if (line !== undefined) {
            done();
            resolve(line);
          } else if (exited) {
            done();
            reject(new Error(`serve exited before printing "${prefix}":\n${out}\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`serve printed no "${prefix}" in ${timeoutMs} ms:\n${out}\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async exited() {
      const result = await status;
      await pumps;
      return result;
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      if (!exited) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      const result = await status;
      await pumps;
      return result;
    },
  };
}

/** Runs a command; resolves with its exit code and output. Kills it after `timeoutMs`. */
export async function run(
  command: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const output = await child.output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `/proc/self/mountinfo` lists a mount at absolute `mountpoint`. */
export async function isMounted(mountpoint: string): Promise<boolean> {
  const text = await Deno.readTextFile("/proc/self/mountinfo");
  return text.split("\n").some((line) => line.split(" ")[4] === mountpoint);
}

/** Lazily unmounts everything at `mountpoint` (test cleanup; failures ignored). */
export async function forceUnmount(mountpoint: string): Promise<void> {
  for (let i = 0; i < 8 && await isMounted(mountpoint); i++) {
    await run(["umount", "-l", mountpoint], 10_000);
  }
}

/** Polls `condition` every 50 ms until it holds; throws after `timeoutMs`. */
export async function eventually(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
