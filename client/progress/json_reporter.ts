/**
 * The `json` reporter: JSON lines for programs.
 *
 * Each line is one object with a `type`:
 * - `progress`: the {@linkcode ProgressState} fields (those undefined are
 *   left out) plus `elapsedMs`, and when known `bytesPerSecond`, `etaMs`
 *   and `percent`;
 * - `message`: `{"type":"message","message":"…"}` from `log()`;
 * - `summary`: the fields given to `summary()`.
 *
 * @module
 */

import { ProgressMeter } from "./progress_meter.ts";
import type { ProgressReporter, ProgressState } from "./progress.ts";

/** Options of {@linkcode JsonReporter}. */
export interface JsonReporterOptions {
  /** Where output goes. */
  write: (text: string) => void;
  /** The clock, ms. */
  now: () => number;
  /** Least time between progress lines, ms. */
  intervalMs: number;
  /** Window of the moving rate, ms. */
  rateWindowMs: number;
}

/** Bigints become numbers, or strings when beyond the safe integers. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value.toString();
}

/** Writes one JSON object per line. */
export class JsonReporter implements ProgressReporter {
  readonly #write: (text: string) => void;
  readonly #meter: ProgressMeter;
  #state: Readonly<ProgressState> | undefined;
  #pending = false;
  #finished = false;

  /** Creates the reporter; the elapsed time starts now. */
  constructor(options: JsonReporterOptions) {
    this.#write = options.write;
    this.#meter = new ProgressMeter(options.now, options.intervalMs, options.rateWindowMs);
  }

  /** Writes a `progress` line when the interval has passed. */
  update(state: Readonly<ProgressState>): void {
    if (this.#finished) return;
    this.#state = state;
    this.#pending = true;
    if (this.#meter.due()) this.#render(state);
  }

  /** Writes a `message` line. */
  log(message: string): void {
    this.#line({ type: "message", message });
  }

  /** Writes the `summary` line: `type` first, then `fields`. */
  summary(fields: Readonly<Record<string, unknown>>): void {
    this.#line(Object.assign({ type: "summary" }, fields, { type: "summary" }));
  }

  /** Writes the last state if it was not written yet. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#pending && this.#state !== undefined) this.#render(this.#state);
  }

  #render(state: Readonly<ProgressState>): void {
    this.#pending = false;
    const figures = this.#meter.measure(state);
    this.#line({
      type: "progress",
      phase: state.phase,
      files: state.files,
      dirs: state.dirs,
      bytesDone: state.bytesDone,
      bytesTotal: state.bytesTotal,
      newBytes: state.newBytes,
      errors: state.errors,
      currentPath: state.currentPath,
      ...figures,
    });
  }

  #line(value: Record<string, unknown>): void {
    this.#write(JSON.stringify(value, replacer) + "\n");
  }
}
