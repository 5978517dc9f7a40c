/**
 * The human-readable progress line shared by the `tty` and `plain`
 * reporters, e.g.
 * `[1:23] backup 1204 files 31 dirs 1.2 GiB / 3.4 GiB 35% 45.6 MiB/s ETA 0:58 new 12.0 MiB 2 errors  …/src/main.ts`.
 *
 * Widths are counted in code points (a wide character counts as one).
 *
 * @module
 */

import { formatBytes, formatDuration } from "./format.ts";
import type { ProgressFigures } from "./progress_meter.ts";
import type { ProgressState } from "./progress.ts";

/** Least room worth giving the current path on a width-limited line. */
export const MIN_PATH_WIDTH = 10;

/** `text` with control characters (newlines, escapes…) replaced by `?`. */
export function sanitize(text: string): string {
  return text.replace(/\p{Cc}/gu, "?");
}

/**
 * `path` cut to at most `width` code points, keeping its end: `…` followed
 * by the last `width - 1` code points. Empty when `width` < 1.
 */
export function truncatePath(path: string, width: number): string {
  const points = Array.from(path);
  if (points.length <= width) return path;
  if (width < 1) return "";
  return "…" + points.slice(points.length - (width - 1)).join("");
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The figures part of the line (everything but the path). */
export function progressStats(state: Readonly<ProgressState>, figures: ProgressFigures): string {
  const parts = [`[${formatDuration(figures.elapsedMs)}]`, sanitize(state.phase)];
  parts.push(plural(state.files, "file", "files"), plural(state.dirs, "dir", "dirs"));
  if (state.bytesTotal === undefined) parts.push(formatBytes(state.bytesDone));
  else parts.push(`${formatBytes(state.bytesDone)} / ${formatBytes(state.bytesTotal)}`);
  if (figures.percent !== undefined) parts.push(`${Math.floor(figures.percent)}%`);
  if (figures.bytesPerSecond !== undefined) parts.push(`${formatBytes(figures.bytesPerSecond)}/s`);
  if (figures.etaMs !== undefined) parts.push(`ETA ${formatDuration(figures.etaMs)}`);
  if (state.newBytes > 0) parts.push(`new ${formatBytes(state.newBytes)}`);
  if (state.errors > 0) parts.push(plural(state.errors, "error", "errors"));
  return parts.join(" ");
}

/**
 * The whole line. With a `width`, the line fits in it: the path gets the
 * room left after the figures (if at least {@linkcode MIN_PATH_WIDTH}),
 * cut from the left; figures wider than `width` are cut.
 */
export function progressLine(
  state: Readonly<ProgressState>,
  figures: ProgressFigures,
  width?: number,
): string {
  const stats = progressStats(state, figures);
  const path = state.currentPath === undefined || state.currentPath === ""
    ? undefined
    : sanitize(state.currentPath);
  if (width === undefined) return path === undefined ? stats : `${stats}  ${path}`;
  const statsPoints = Array.from(stats);
  if (statsPoints.length >= width) return statsPoints.slice(0, Math.max(0, width)).join("");
  const room = width - statsPoints.length - 2;
  if (path === undefined || room < MIN_PATH_WIDTH) return stats;
  return `${stats}  ${truncatePath(path, room)}`;
}
