/**
 * The worker of {@linkcode DirScanner} (./dir_scanner.ts): lists a directory
 * and lstats each entry with synchronous calls, off the main thread, and
 * answers with one message per directory.
 *
 * @module
 */

import { type SourceStat, sourceStat } from "./source_fs.ts";
import type { SlabMessage } from "../concurrency/shared_slabs.ts";
import {
  READ_ALONG_MAX_FILE,
  type ScanReply,
  type ScanRequest,
  type WireEntry,
} from "./dir_scanner.ts";

/** The worker's global scope, as far as it is used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ScanRequest | SlabMessage>) => void) | null;
  postMessage(message: ScanReply): void;
}

const scope = globalThis as unknown as WorkerScope;

/** The buffers shared with the main thread, by number. */
const slabs: Uint8Array[] = [];

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

scope.onmessage = (event) => {
  const request = event.data;
  if (request.kind === "slab") {
    slabs[request.index] = new Uint8Array(request.buffer);
    return;
  }
  const { id, path } = request;
  let names: string[];
  try {
    names = [];
    for (const entry of Deno.readDirSync(path)) names.push(entry.name);
  } catch (error) {
    scope.postMessage({ id, error: message(error) });
    return;
  }
  names.sort();
  const prefix = path.endsWith("/") ? path : path + "/";
  const slab = request.slab === undefined ? undefined : slabs[request.slab];
  const readUpTo = slab === undefined ? 0 : Math.min(request.readUpTo, slab.length);
  let used = 0;
  const entries = names.map((name): WireEntry => {
    let stat: SourceStat;
    try {
      stat = sourceStat(Deno.lstatSync(prefix + name));
    } catch (error) {
      return { name, error: message(error) };
    }
    if (
      slab === undefined || stat.type !== "file" || stat.size === 0 ||
      stat.size > READ_ALONG_MAX_FILE || used + stat.size > readUpTo
    ) {
      return { name, stat };
    }
    if (!readAlong(prefix + name, slab.subarray(used, used + stat.size))) return { name, stat };
    const at = used;
    used += stat.size;
    return { name, stat, at };
  });
  scope.postMessage({ id, entries });
};

const probe = new Uint8Array(1);

/**
 * Whether the file at `path` read as exactly `into.length` bytes (into
 * `into`); false on any error or other size (the backup then reads the file
 * itself, and reports what goes wrong).
 */
function readAlong(path: string, into: Uint8Array): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return false;
  }
  try {
    let filled = 0;
    while (filled < into.length) {
      const n = file.readSync(into.subarray(filled));
      if (n === null) return false;
      filled += n;
    }
    // Grown since its lstat: not the size recorded.
    return file.readSync(probe) === null;
  } catch {
    return false;
  } finally {
    file.close();
  }
}
