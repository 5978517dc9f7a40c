/**
 * The worker of {@linkcode DirScanner} (./dir_scanner.ts): lists a directory
 * and lstats each entry with synchronous calls, off the main thread, and
 * answers with one message per directory.
 *
 * @module
 */

import { sourceStat } from "./source_fs.ts";
import type { ScanReply, ScanRequest } from "./dir_scanner.ts";

/** The worker's global scope, as far as it is used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ScanRequest>) => void) | null;
  postMessage(message: ScanReply): void;
}

const scope = globalThis as unknown as WorkerScope;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

scope.onmessage = (event) => {
  const { id, path } = event.data;
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
  scope.postMessage({
    id,
    entries: names.map((name) => {
      try {
        return { name, stat: sourceStat(Deno.lstatSync(prefix + name)) };
      } catch (error) {
        return { name, error: message(error) };
      }
    }),
  });
};
