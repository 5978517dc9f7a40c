/**
 * Human-readable sizes and durations for progress lines and summaries.
 *
 * @module
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/**
 * `n` bytes in binary units with one decimal: `0 B`, `1023 B`, `1.0 KiB`,
 * `1.2 GiB`, `512.0 MiB`. A value that would round to 1024.0 of a unit is
 * shown in the next one (`1.0 MiB`, not `1024.0 KiB`). Negative values get a
 * `-` sign; non-finite values are shown as they are (`NaN B`).
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return `${n} B`;
  if (n < 0) return `-${formatBytes(-n)}`;
  if (Math.round(n) < 1024) return `${Math.round(n)} B`;
  const last = UNITS.length - 1;
  let unit = 0;
  let value = n;
  while (value >= 1024 && unit < last) {
    value /= 1024;
    unit++;
  }
  if (Number(value.toFixed(1)) >= 1024 && unit < last) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * `ms` milliseconds as a clock, rounded down to the second: `0:05`, `1:23`,
 * `12:03:09`, and with days `2d 03:04:05`. Negative values get a `-` sign;
 * non-finite ones are shown as `--:--`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "--:--";
  if (ms < 0) return `-${formatDuration(-ms)}`;
  const total = Math.floor(ms / 1000);
  const seconds = total % 60;
  const minutes = Math.floor(total / 60) % 60;
  const hours = Math.floor(total / 3600) % 24;
  const days = Math.floor(total / 86400);
  if (days > 0) return `${days}d ${pad2(hours)}:${pad2(minutes)}:${pad2(seconds)}`;
  if (hours > 0) return `${hours}:${pad2(minutes)}:${pad2(seconds)}`;
  return `${minutes}:${pad2(seconds)}`;
}
