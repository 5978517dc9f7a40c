/**
 * Summary of a series of resident-set-size samples: where memory started,
 * peaked and ended, and its trend over the second half. No I/O.
 *
 * @module
 */

import { linearSlope } from "./linear_fit.ts";

/** One RSS sample. */
export interface RssSample {
  /** Seconds since the load started. */
  seconds: number;
  /** Resident set size, bytes. */
  bytes: number;
}

/** The summary of a series of samples. */
export interface RssSummary {
  /** The first sample's RSS, bytes. */
  startBytes: number;
  /** The largest RSS, bytes. */
  peakBytes: number;
  /** The last sample's RSS, bytes. */
  endBytes: number;
  /** Least-squares slope over the samples of the second half of the time, MiB per minute. */
  secondHalfSlopeMiBPerMinute: number;
  /** How many samples. */
  samples: number;
}

const MiB = 1024 * 1024;

/**
 * Summarizes `samples` (in time order; at least one).
 *
 * @example
 * ```ts
 * summarizeRss([{ seconds: 0, bytes: 1 }, { seconds: 60, bytes: 2 }]).peakBytes; // 2
 * ```
 */
export function summarizeRss(samples: readonly RssSample[]): RssSummary {
  if (samples.length === 0) throw new RangeError("Cannot summarize RSS: no samples");
  const last = samples[samples.length - 1];
  const half = (samples[0].seconds + last.seconds) / 2;
  const secondHalf = samples.filter((s) => s.seconds >= half);
  const slope = linearSlope(secondHalf.map((s) => ({ x: s.seconds / 60, y: s.bytes / MiB })));
  return {
    startBytes: samples[0].bytes,
    peakBytes: Math.max(...samples.map((s) => s.bytes)),
    endBytes: last.bytes,
    secondHalfSlopeMiBPerMinute: slope,
    samples: samples.length,
  };
}
