/**
 * Chunk size parameters of the content-defined chunker and their validation.
 *
 * @module
 */

/** Sizes, in bytes, that steer where the chunker cuts. */
export interface ChunkerParams {
  /**
   * Smallest chunk (except the last chunk of a file, which may be shorter).
   * The first `min` bytes of a chunk are skipped without hashing; a chunk
   * ends at the earliest after `min + 1` bytes.
   */
  min: number;
  /**
   * Normal chunk size: a power of two. Before this many bytes the cut
   * condition is harder (more hash bits must be zero), after it easier, so
   * chunk sizes cluster around it (FastCDC normalized chunking, level 2).
   */
  avg: number;
  /** Largest chunk: a chunk that reaches this size is cut there. */
  max: number;
}

/**
 * The parameters of `ddb backup`: 512 KiB / 1 MiB / 8 MiB (chunks of
 * 1.19 MiB on average), chosen by measurement (docs/chunking.md). Changing
 * them changes every cut point.
 */
export const DEFAULT_PARAMS: Readonly<ChunkerParams> = Object.freeze({
  min: 512 * 1024,
  avg: 1024 * 1024,
  max: 8 * 1024 * 1024,
});

/** Smallest allowed `avg` (2^8 bytes). */
export const MIN_AVG = 1 << 8;
/** Largest allowed `avg` (2^28 bytes), so the harder mask fits the 31 usable hash bits. */
export const MAX_AVG = 1 << 28;
/** Largest allowed `max` (1 GiB), which bounds the memory a stream needs. */
export const MAX_MAX = 1 << 30;

/** Thrown for chunker parameters that {@linkcode validateParams} rejects. */
export class InvalidChunkerParamsError extends RangeError {
  /** The rejected parameters. */
  readonly params: Readonly<ChunkerParams>;

  /** Builds the error for `params`, rejected because of `reason`. */
  constructor(params: Readonly<ChunkerParams>, reason: string, options?: ErrorOptions) {
    super(
      `Cannot use chunker params {min: ${params.min}, avg: ${params.avg}, max: ${params.max}}: ${reason}`,
      options,
    );
    this.name = "InvalidChunkerParamsError";
    this.params = params;
  }
}

/**
 * Throws {@linkcode InvalidChunkerParamsError} unless `params` are usable:
 * integers with 1 ≤ `min` < `avg` < `max` ≤ {@linkcode MAX_MAX}, and `avg` a
 * power of two between {@linkcode MIN_AVG} and {@linkcode MAX_AVG}.
 *
 * @example
 * ```ts
 * validateParams({ min: 2048, avg: 8192, max: 65536 }); // ok
 * validateParams({ min: 2048, avg: 6000, max: 65536 }); // throws: avg is not a power of two
 * ```
 */
export function validateParams(params: Readonly<ChunkerParams>): void {
  const { min, avg, max } = params;
  for (const [name, value] of [["min", min], ["avg", avg], ["max", max]] as const) {
    if (!Number.isSafeInteger(value)) {
      throw new InvalidChunkerParamsError(params, `${name} is not an integer`);
    }
  }
  if (avg < MIN_AVG || avg > MAX_AVG || (avg & (avg - 1)) !== 0) {
    throw new InvalidChunkerParamsError(
      params,
      `avg must be a power of two from ${MIN_AVG} to ${MAX_AVG}`,
    );
  }
  if (min < 1 || min >= avg) {
    throw new InvalidChunkerParamsError(params, "min must be at least 1 and less than avg");
  }
  if (max <= avg || max > MAX_MAX) {
    throw new InvalidChunkerParamsError(params, `max must be above avg and at most ${MAX_MAX}`);
  }
}
