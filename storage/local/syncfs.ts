/**
 * `syncfs(2)` through libc: one call makes everything written to a file
 * system durable — the data of many new files and their renames at once.
 * The local storage uses it for group commit: hundreds of small blobs cost
 * two syncs instead of hundreds of fdatasyncs.
 *
 * This is the storage's only FFI. Where libc or FFI is not available
 * (another OS, no --allow-ffi), {@linkcode openSyncfs} returns undefined and
 * the storage falls back to fsync per file.
 *
 * @module
 */

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
} as const;

/** Syncs the file system holding one directory. */
export interface FsSyncer {
  /** Makes every write to the file system durable; rejects if syncfs fails. */
  sync(): Promise<void>;
  /** Releases the directory handle and the library. */
  close(): void;
}

/** The syncfs call failed. */
export class SyncfsError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SyncfsError";
  }
}

/** Opens `dir` for syncfs, or returns undefined where that is not possible. */
export function openSyncfs(dir: string): FsSyncer | undefined {
  if (Deno.build.os !== "linux") return undefined;
  let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    return undefined;
  }
  const path = new TextEncoder().encode(dir + "\0");
  const fd = lib.symbols.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    lib.close();
    return undefined;
  }
  let closed = false;
  return {
    async sync() {
      if (closed) throw new SyncfsError(`Cannot sync "${dir}": closed`);
      const result = await lib.symbols.syncfs(fd);
      if (result !== 0) {
        throw new SyncfsError(`Cannot sync the file system of "${dir}": syncfs failed`);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      lib.symbols.close(fd);
      lib.close();
    },
  };
}
