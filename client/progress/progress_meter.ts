/**
 * The clock side of a reporter: when to render, and the figures derived
 * from successive states (elapsed time, moving transfer rate, ETA).
 *
 * @module
 */

import type { ProgressState } from "./progress.ts";

/** Figures derived from a state and the clock. */
export interface ProgressFigures {
  /** Time since the meter started, ms. */
  elapsedMs: number;
  /** Bytes per second over the moving window, once it spans {@linkcode MIN_RATE_SPAN_MS}. */
  bytesPerSecond?: number;
  /** Estimated time left, ms: needs `bytesTotal` and a positive rate (0 when done). */
  etaMs?: number;
  /** Percentage of `bytesTotal` done, 0–100, when the total is known. */
  percent?: number;
}

/** Least time a rate is measured over before it is shown. */
export const MIN_RATE_SPAN_MS = 1000;

interface Sample {
  time: number;
  bytes: number;
}

/** Paces renders and measures the transfer rate over a moving window. */
export class ProgressMeter {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #start: number;
  #lastRender = Number.NEGATIVE_INFINITY;
  #samples: Sample[];
  #phase: string | undefined;

  /** Starts the meter at `now()`. */
  constructor(now: () => number, intervalMs: number, windowMs: number) {
    this.#now = now;
    this.#intervalMs = intervalMs;
    this.#windowMs = windowMs;
    this.#start = now();
    // A job starts from nothing: the first rate counts from the start.
    this.#samples = [{ time: this.#start, bytes: 0 }];
  }

  /** Whether a render is due now: `intervalMs` since the last one (or since the start when `fromStart`). */
  due(fromStart = false): boolean {
    const last = this.#lastRender === Number.NEGATIVE_INFINITY && fromStart
      ? this.#start
      : this.#lastRender;
    return this.#now() - last >= this.#intervalMs;
  }

  /**
   * Marks a render now and returns the figures for `state`, adding it to
   * the rate window. The window starts at the meter's start with 0 bytes; a
   * new phase, or fewer bytes than before, restarts it.
   */
  measure(state: Readonly<ProgressState>): ProgressFigures {
    const time = this.#now();
    this.#lastRender = time;
    const samples = this.#samples;
    const newest = samples[samples.length - 1] ?? { time, bytes: 0 };
    const newPhase = this.#phase !== undefined && state.phase !== this.#phase;
    if (newPhase || state.bytesDone < newest.bytes) samples.length = 0;
    this.#phase = state.phase;
    samples.push({ time, bytes: state.bytesDone });
    // Keep one sample at or before the window's start, so the rate spans it.
    while (samples.length > 2 && samples[1].time <= time - this.#windowMs) samples.shift();
    const figures: ProgressFigures = { elapsedMs: Math.max(0, time - this.#start) };
    const oldest = samples[0];
    const span = time - oldest.time;
    if (span >= MIN_RATE_SPAN_MS) {
      figures.bytesPerSecond = (state.bytesDone - oldest.bytes) / span * 1000;
    }
    const total = state.bytesTotal;
    if (total !== undefined && total >= 0) {
      figures.percent = total === 0 ? 100 : Math.min(100, state.bytesDone / total * 100);
      const left = total - state.bytesDone;
      if (left <= 0) figures.etaMs = 0;
      else if (figures.bytesPerSecond !== undefined && figures.bytesPerSecond > 0) {
        figures.etaMs = left / figures.bytesPerSecond * 1000;
      }
    }
    return figures;
  }
}
