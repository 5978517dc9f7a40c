/**
 * The worker of `FileWriter` (./file_writer.ts): writes the small files it
 * is sent (and sets the attributes of directories) with synchronous calls,
 * off the main thread, and answers each batch with one message. Each file:
 * create its temporary name (`createNew`: never an existing entry; the mode
 * is given at creation, so the umask applies), write its bytes, set its
 * times through the open file, move it to its name; on failure the
 * temporary entry, if it was created, is removed.
 *
 * @module
 */

import type { WireOp, WriteBatch, WriteResults } from "./file_writer.ts";

/** The worker's global scope, as far as it is used here. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<WriteBatch>) => void) | null;
  postMessage(message: WriteResults): void;
}

const scope = globalThis as unknown as WorkerScope;

/** The buffers shared with the main thread, by number. */
const slabs: Uint8Array[] = [];

/** Does one operation; on failure removes the temporary file it created. */
function run(op: WireOp, slab: Uint8Array): void {
  if (op.kind === "attributes") {
    Deno.chmodSync(op.path, op.mode);
    const time = new Date(op.mtimeMs);
    Deno.utimeSync(op.path, time, time);
    return;
  }
  let created = false;
  try {
    const handle = Deno.openSync(op.tmp, { write: true, createNew: true, mode: op.mode });
    created = true;
    try {
      const data = op.data ?? slab.subarray(op.offset, op.offset + op.length);
      for (let at = 0; at < data.length;) at += handle.writeSync(data.subarray(at));
      if (op.mtimeMs !== undefined) {
        const time = new Date(op.mtimeMs);
        handle.utimeSync(time, time);
      }
    } finally {
      handle.close();
    }
    Deno.renameSync(op.tmp, op.path);
  } catch (error) {
    if (created) {
      try {
        Deno.removeSync(op.tmp);
      } catch {
        // Already gone.
      }
    }
    throw error;
  }
}

scope.onmessage = (event) => {
  const message = event.data;
  if (message.kind === "slab") {
    slabs[message.index] = new Uint8Array(message.buffer);
    return;
  }
  const { id, ops } = message;
  const slab = slabs[message.slab];
  const errors: (string | null)[] = [];
  for (const op of ops) {
    try {
      run(op, slab);
      errors.push(null);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  scope.postMessage({ id, errors });
};
