/**
 * The `tty` reporter: one live line rewritten in place.
 *
 * @module
 */

import { progressLine, sanitize } from "./progress_line.ts";
import { ProgressMeter } from "./progress_meter.ts";
import type { ProgressReporter, ProgressState } from "./progress.ts";

/** Moves to the start of the line. */
const RETURN = "\r";
/** Clears from the cursor to the end of the line. */
const CLEAR_TO_END = "\x1b[K";

/** Options of {@linkcode TtyReporter}. */
export interface TtyReporterOptions {
  /** Where output goes. */
  write: (text: string) => void;
  /** The clock, ms. */
  now: () => number;
  /** Least time between renders, ms. */
  intervalMs: number;
  /** Window of the moving rate, ms. */
  rateWindowMs: number;
  /** The terminal width, read at each render. */
  columns: () => number;
}

/**
 * Renders `\r<line>\x1b[K`, the line one column narrower than the terminal
 * (so it never wraps); skips writes that would not change the line.
 */
export class TtyReporter implements ProgressReporter {
  readonly #write: (text: string) => void;
  readonly #columns: () => number;
  readonly #meter: ProgressMeter;
  #state: Readonly<ProgressState> | undefined;
  #shown = "";
  #finished = false;

  /** Creates the reporter; the elapsed time starts now. */
  constructor(options: TtyReporterOptions) {
    this.#write = options.write;
    this.#columns = options.columns;
    this.#meter = new ProgressMeter(options.now, options.intervalMs, options.rateWindowMs);
  }

  /** Renders `state` when the interval has passed. */
  update(state: Readonly<ProgressState>): void {
    if (this.#finished) return;
    this.#state = state;
    if (this.#meter.due()) this.#render(state);
  }

  /** Clears the live line, writes `message` on its own line, and redraws the live line. */
  log(message: string): void {
    const shown = this.#shown !== "";
    if (shown) this.#write(RETURN + CLEAR_TO_END);
    this.#shown = "";
    this.#write(`${sanitize(message)}\n`);
    if (!this.#finished && this.#state !== undefined) this.#render(this.#state);
  }

  /** Writes nothing: the caller prints a human summary after `finish()`. */
  summary(_fields: Readonly<Record<string, unknown>>): void {}

  /** Clears the live line. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#shown !== "") this.#write(RETURN + CLEAR_TO_END);
    this.#shown = "";
  }

  #render(state: Readonly<ProgressState>): void {
    const width = Math.max(1, Math.floor(this.#columns()) - 1);
    const line = progressLine(state, this.#meter.measure(state), width);
    if (line === this.#shown) return;
    this.#write(RETURN + line + CLEAR_TO_END);
    this.#shown = line;
  }
}
