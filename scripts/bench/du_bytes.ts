/**
 * The disk usage of a directory tree, as `du -sb` counts it.
 *
 * @module
 */

/** A `du` run failed. */
export class DiskUsageError extends Error {
  /** Builds the error with a message such as `Cannot measure "dir": reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DiskUsageError";
  }
}

/**
 * The apparent size in bytes of everything under `path` (`du -sb path`:
 * file sizes plus directory entries, each hard link counted once).
 */
export async function duBytes(path: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-sb", path], stdin: "null" }).output();
  const decoder = new TextDecoder();
  const bytes = Number(decoder.decode(out.stdout).split("\t")[0]);
  if (!out.success || !Number.isSafeInteger(bytes)) {
    throw new DiskUsageError(`Cannot measure "${path}": ${decoder.decode(out.stderr).trim()}`);
  }
  return bytes;
}
