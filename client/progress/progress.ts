/**
 * Progress reporting for long jobs (backup, restore).
 *
 * The job keeps a {@linkcode ProgressState} and passes it to
 * {@linkcode ProgressReporter.update} as often as it likes (every file or
 * chunk): updates are cheap and a reporter renders at most once per
 * interval. Nothing here touches the terminal or the clock directly: the
 * writer and the clock are injected, so the reporters are pure and testable.
 *
 * Modes ({@linkcode createReporter}):
 * - `tty`: one live line, rewritten in place (`\r`, the line, `\x1b[K`),
 *   every 200 ms at most; {@linkcode ProgressReporter.finish} clears it.
 * - `json`: one `{"type":"progress",…}` object per line every second at
 *   most, and a final `{"type":"summary",…}` from
 *   {@linkcode ProgressReporter.summary}.
 * - `plain` (for logs, e.g. cron): one line every 10 s, starting 10 s after
 *   the start, so a short job prints no progress at all.
 * - `quiet`: no progress.
 *
 * In every mode, {@linkcode ProgressReporter.log} writes the warnings and
 * errors the user must see (quiet included), without garbling the live
 * line. Only `json` writes the summary object: in the other modes the
 * caller prints its own human-readable summary (if any) after `finish()`.
 *
 * @module
 */

import { JsonReporter } from "./json_reporter.ts";
import { PlainReporter } from "./plain_reporter.ts";
import { QuietReporter } from "./quiet_reporter.ts";
import { TtyReporter } from "./tty_reporter.ts";

/** The state of a job, as the job sees it. */
export interface ProgressState {
  /** What the job is doing, e.g. `"scan"`, `"backup"`, `"restore"`. */
  phase: string;
  /** Files done. */
  files: number;
  /** Directories done. */
  dirs: number;
  /** Bytes done (read for a backup, written for a restore). */
  bytesDone: number;
  /** Bytes to do in all, when known (enables the percentage and the ETA). */
  bytesTotal?: number;
  /** Bytes that were new (uploaded) so far. */
  newBytes: number;
  /** Entries that failed so far. */
  errors: number;
  /** The path being worked on. */
  currentPath?: string;
}

/** Receives a job's progress and renders it. */
export interface ProgressReporter {
  /**
   * Reports the current state; cheap, call it as often as you like. It
   * renders only when the interval has passed since the last render (the
   * first update of `tty` and `json` renders at once). The reporter may
   * keep `state` (not a copy) until the next update or `finish()`.
   * Ignored after `finish()`.
   */
  update(state: Readonly<ProgressState>): void;
  /** Writes a warning or error line the user must see (every mode does). */
  log(message: string): void;
  /**
   * Writes the final summary object (`json`: `{"type":"summary",…}` with the
   * given fields; bigints as numbers, or strings when unsafe). The other
   * modes write nothing: the caller prints a human summary.
   */
  summary(fields: Readonly<Record<string, unknown>>): void;
  /**
   * Ends the progress display: `tty` clears its line; `json` writes the
   * last state if it changed since the last line. Idempotent.
   */
  finish(): void;
}

/** Reporter modes. */
export type ReporterMode = "tty" | "json" | "quiet" | "plain";

/** Options of {@linkcode createReporter}. */
export interface ReporterOptions {
  /** The kind of output. */
  mode: ReporterMode;
  /** Where output goes, e.g. a synchronous write to stderr. */
  write: (text: string) => void;
  /** The clock in milliseconds, e.g. `performance.now` (called on every update). */
  now: () => number;
  /** Least time between renders (default: tty 200, json 1000, plain 10000 ms). */
  intervalMs?: number;
  /** Terminal width for `tty` (default 80), or a function read at each render. */
  columns?: number | (() => number);
  /** Window of the moving transfer rate (default 10000 ms). */
  rateWindowMs?: number;
}

/** Default {@linkcode ReporterOptions.intervalMs} per mode. */
export const DEFAULT_INTERVAL_MS: Readonly<Record<ReporterMode, number>> = {
  tty: 200,
  json: 1000,
  plain: 10_000,
  quiet: 0,
};

/** Default {@linkcode ReporterOptions.columns}. */
export const DEFAULT_COLUMNS = 80;

/** Default {@linkcode ReporterOptions.rateWindowMs}. */
export const DEFAULT_RATE_WINDOW_MS = 10_000;

function checkDuration(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`Cannot create reporter: ${name} ${value} is not a duration`);
  }
  return value;
}

/** Creates the reporter for `options.mode`; throws a `RangeError` for a bad interval or window. */
export function createReporter(options: ReporterOptions): ProgressReporter {
  const intervalMs = checkDuration(
    "intervalMs",
    options.intervalMs ?? DEFAULT_INTERVAL_MS[options.mode],
  );
  const rateWindowMs = checkDuration(
    "rateWindowMs",
    options.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
  );
  const common = { write: options.write, now: options.now, intervalMs, rateWindowMs };
  switch (options.mode) {
    case "tty": {
      const columns = options.columns ?? DEFAULT_COLUMNS;
      return new TtyReporter({
        ...common,
        columns: typeof columns === "number" ? () => columns : columns,
      });
    }
    case "json":
      return new JsonReporter(common);
    case "plain":
      return new PlainReporter(common);
    case "quiet":
      return new QuietReporter(options.write);
    default:
      throw new RangeError(`Cannot create reporter: unknown mode "${options.mode}"`);
  }
}
