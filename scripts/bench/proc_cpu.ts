/**
 * CPU time of a running process, from `/proc/PID/stat` (Linux).
 *
 * @module
 */

/** Clock ticks per second of `/proc` times (USER_HZ: 100 on every Linux ABI in use). */
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU seconds of the process in `stat` (the text of
 * `/proc/PID/stat`); undefined when it is not such a line.
 */
export function parseCpuSeconds(stat: string): number | undefined {
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  const end = stat.lastIndexOf(")");
  if (end < 0) return undefined;
  const fields = stat.slice(end + 2).split(" ");
  // After the name: state (3), ppid … ; utime is field 14, stime 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of process `pid` so far; undefined once it is gone. */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  try {
    return parseCpuSeconds(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}
