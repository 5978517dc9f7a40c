/**
 * The worker of {@linkcode DirScanner} (./dir_scanner.ts): lists a directory
 * and lstats each entry with synchronous calls, off the main thread, and
 * answers with one message per directory.
 *
 * @module
 */

import { type SourceStat, sourceStat } from "./source_fs.ts";
import {
  READ_ALONG_MAX_FILE,
  type ScannedEntry,
  type ScanReply,
  type ScanRequest,
} from "./dir_scanner.ts";

/** The worker's global scope, as far as it is used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ScanRequest>) => void) | null;
  postMessage(message: ScanReply, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

scope.onmessage = (event) => {
  const { id, path, readUpTo = 0 } = event.data;
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
  const transfer: ArrayBuffer[] = [];
  let readLeft = readUpTo;
  const entries = names.map((name): ScannedEntry => {
    let stat: SourceStat;
    try {
      stat = sourceStat(Deno.lstatSync(prefix + name));
    } catch (error) {
      return { name, error: message(error) };
    }
    if (
      stat.type !== "file" || stat.size === 0 || stat.size > READ_ALONG_MAX_FILE ||
      stat.size > readLeft
    ) {
      return { name, stat };
    }
    const content = readAlong(prefix + name, stat.size);
    if (content === undefined) return { name, stat };
    readLeft -= content.length;
    transfer.push(content.buffer as ArrayBuffer);
    return { name, stat, content };
  });
  scope.postMessage({ id, entries }, transfer);
};

/**
 * The content of the file at `path` if it reads as `size` bytes, in an
 * array of its own (to transfer); undefined on any error or other size (the
 * backup then reads the file itself, and reports what goes wrong).
 */
function readAlong(path: string, size: number): Uint8Array | undefined {
  let data: Uint8Array;
  try {
    data = Deno.readFileSync(path);
  } catch {
    return undefined;
  }
  if (data.length !== size) return undefined;
  return data.byteOffset === 0 && data.buffer.byteLength === size ? data : data.slice();
}
