/**
 * Resident set size of a process from Linux `/proc/PID/status`.
 *
 * @module
 */

/** The process's memory cannot be read. */
export class RssError extends Error {
  /** Builds the error with a message such as `Cannot read RSS of process 12: reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RssError";
  }
}

/**
 * The `VmRSS` of a `/proc/PID/status` text, in bytes. Pure.
 *
 * @example
 * ```ts
 * parseVmRss("Name:\tdeno\nVmRSS:\t  102400 kB\n"); // 104857600
 * ```
 */
export function parseVmRss(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB\s*$/m.exec(status);
  if (match === null) throw new RssError(`Cannot parse process status: no "VmRSS" line`);
  return Number(match[1]) * 1024;
}

/** The current resident set size of process `pid`, in bytes (Linux only). */
export function readRss(pid: number): number {
  let status: string;
  try {
    status = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch (cause) {
    throw new RssError(`Cannot read RSS of process ${pid}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return parseVmRss(status);
}
