/**
 * Parsing `/proc/self/mountinfo` (see proc(5)): which file systems are
 * mounted where, with which device number.
 *
 * @module
 */

/** One line of `/proc/self/mountinfo`. */
export interface MountInfoEntry {
  /** The mount id. */
  id: number;
  /** The device number as `major:minor` (names the bdi in `/sys/class/bdi/`). */
  device: string;
  /** Where it is mounted (escapes decoded). */
  mountPoint: string;
  /** Per-mount options (`rw`, `nosuid`, …). */
  options: string[];
  /** The file-system type (`fuse.ddb`, `ext4`, …). */
  type: string;
  /** The mount source (for FUSE: the `fsname`). */
  source: string;
}

/** Decodes the octal escapes (`\040` for a space) the kernel writes in paths. */
function unescape(field: string): string {
  return field.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Parses the text of `/proc/self/mountinfo`; malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (fields.length < 10 || separator < 0 || fields.length < separator + 3) continue;
    entries.push({
      id: Number(fields[0]),
      device: fields[2],
      mountPoint: unescape(fields[4]),
      options: fields[5].split(","),
      type: unescape(fields[separator + 1]),
      source: unescape(fields[separator + 2]),
    });
  }
  return entries;
}

/** The mounts at `mountPoint`, the top-most (visible) one last. */
export function mountsAt(entries: readonly MountInfoEntry[], mountPoint: string): MountInfoEntry[] {
  return entries.filter((entry) => entry.mountPoint === mountPoint);
}
