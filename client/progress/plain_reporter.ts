/**
 * The `plain` reporter, for logs (cron, systemd, a pipe): a full progress
 * line every interval (10 s by default), counted from the start, so a job
 * shorter than one interval prints no progress. No control characters, no
 * width limit.
 *
 * @module
 */

import { progressLine, sanitize } from "./progress_line.ts";
import { ProgressMeter } from "./progress_meter.ts";
import type { ProgressReporter, ProgressState } from "./progress.ts";

/** Options of {@linkcode PlainReporter}. */
export interface PlainReporterOptions {
  /** Where output goes. */
  write: (text: string) => void;
  /** The clock, ms. */
  now: () => number;
  /** Time between lines, ms. */
  intervalMs: number;
  /** Window of the moving rate, ms. */
  rateWindowMs: number;
}

/** Writes a progress line every interval. */
export class PlainReporter implements ProgressReporter {
  readonly #write: (text: string) => void;
  readonly #meter: ProgressMeter;
  #finished = false;

  /** Creates the reporter; the first line is due one interval from now. */
  constructor(options: PlainReporterOptions) {
    this.#write = options.write;
    this.#meter = new ProgressMeter(options.now, options.intervalMs, options.rateWindowMs);
  }

  /** Writes a line when the interval has passed. */
  update(state: Readonly<ProgressState>): void {
    if (this.#finished || !this.#meter.due(true)) return;
    this.#write(progressLine(state, this.#meter.measure(state)) + "\n");
  }

  /** Writes `message` on its own line. */
  log(message: string): void {
    this.#write(`${sanitize(message)}\n`);
  }

  /** Writes nothing: the caller prints a human summary. */
  summary(_fields: Readonly<Record<string, unknown>>): void {}

  /** Stops writing progress lines. */
  finish(): void {
    this.#finished = true;
  }
}
