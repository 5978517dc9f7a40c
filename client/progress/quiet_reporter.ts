/**
 * The `quiet` reporter: no progress at all; only `log()` messages (warnings
 * and errors) are written.
 *
 * @module
 */

import { sanitize } from "./progress_line.ts";
import type { ProgressReporter, ProgressState } from "./progress.ts";

/** Shows no progress; writes only `log()` messages. */
export class QuietReporter implements ProgressReporter {
  readonly #write: (text: string) => void;

  /** Creates the reporter writing messages to `write`. */
  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  /** Does nothing. */
  update(_state: Readonly<ProgressState>): void {}

  /** Writes `message` on its own line. */
  log(message: string): void {
    this.#write(`${sanitize(message)}\n`);
  }

  /** Writes nothing: the caller prints a summary if it wants one. */
  summary(_fields: Readonly<Record<string, unknown>>): void {}

  /** Does nothing. */
  finish(): void {}
}
