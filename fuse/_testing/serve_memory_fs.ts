/**
 * Serves a demo {@linkcode MemoryFileSystem} at a mount point until SIGINT
 * or SIGTERM: the child process of the FUSE tests and benchmark (the
 * serving process must not be the one touching the mount).
 *
 * Usage: `deno run -A fuse/_testing/serve_memory_fs.ts <mountpoint>
 * [--big-size BYTES] [--read-ahead-kb KB] [--read-delay-ms MS] [--rw-mount] [--allow-other]`
 * (`--read-delay-ms` answers every read that much later, like a remote store).
 * Prints `ready <method>` on stdout once the mount is usable, `closed` when
 * it is gone, and `lookups <count> handles <count>` on SIGUSR2 (lookups the
 * kernel still holds, open file handles).
 *
 * The tree: `hello.txt`, `empty`, `dir/nested/deep.txt`, `dir/link` →
 * `nested/deep.txt`, `many/file-000` … `many/file-999` (a directory that
 * takes several READDIR pages), `big.bin` (generated, `--big-size` bytes).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { mountFileSystem } from "../kernel/mod.ts";
import { MemoryFileSystem } from "./memory_fs.ts";

/** The content of `hello.txt`. */
export const HELLO = "Hello, FUSE!\n";
/** The content of `dir/nested/deep.txt`. */
export const DEEP = "deep down\n";
/** How many files `many/` holds. */
export const MANY = 1000;

/** Builds the demo tree with a generated `big.bin` of `bigSize` bytes. */
export function demoFileSystem(bigSize: number): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  fs.addFile("hello.txt", HELLO, 0o644);
  fs.addFile("empty", "");
  fs.addFile("dir/nested/deep.txt", DEEP);
  fs.addSymlink("dir/link", "nested/deep.txt");
  for (let i = 0; i < MANY; i++) {
    fs.addFile(`many/file-${String(i).padStart(3, "0")}`, `${i}\n`);
  }
  fs.addGeneratedFile("big.bin", bigSize);
  return fs;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      "big-size": { type: "string", default: String(256 * 1024 * 1024) },
      "read-ahead-kb": { type: "string" },
      "read-delay-ms": { type: "string", default: "0" },
      "rw-mount": { type: "boolean", default: false },
      "allow-other": { type: "boolean", default: false },
    },
  });
  if (positionals.length !== 1) {
    console.error("usage: serve_memory_fs.ts <mountpoint> [options]");
    Deno.exit(2);
  }
  const readAhead = values["read-ahead-kb"];
  const fs = demoFileSystem(Number(values["big-size"]));
  const delayMs = Number(values["read-delay-ms"]);
  if (delayMs > 0) {
    const read = fs.read.bind(fs);
    fs.read = async (ino, handle, offset, size) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return await read(ino, handle, offset, size);
    };
  }
  const handle = await mountFileSystem(fs, positionals[0], {
    allowOther: values["allow-other"],
    readAheadKb: readAhead === undefined ? undefined : Number(readAhead),
    readOnlyMount: !values["rw-mount"],
    log: (message) => console.error(message),
  });
  const stop = () => {
    handle.unmount().catch((error) => console.error(`unmount failed: ${error.message}`));
  };
  const report = () => {
    let lookups = 0;
    for (const count of fs.lookupCounts().values()) lookups += count;
    console.log(`lookups ${lookups} handles ${fs.openHandles()}`);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGUSR2", report);
  console.log(`ready ${handle.method}`);
  await handle.closed;
  console.log("closed");
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGUSR2", report);
}
