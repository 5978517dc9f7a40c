/**
 * Which blobs `ddb check --read-data-subset` downloads:
 *
 * - `N/M` — the N-th of M fixed parts (1 ≤ N ≤ M): the blobs whose id's
 *   first 32 bits are N-1 modulo M. Running 1/M … M/M (say one a night)
 *   reads every blob once.
 * - `P%` — each blob with probability P/100, drawn anew on each run, so
 *   repeated runs cover the repository over time.
 *
 * Pure: the random source is a parameter.
 *
 * @module
 */

/** A subset of blobs to read. */
export type DataSubset =
  | { kind: "part"; n: number; m: number }
  | { kind: "fraction"; fraction: number };

/** A subset spec is malformed. */
export class SubsetSyntaxError extends SyntaxError {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SubsetSyntaxError";
  }
}

/**
 * Parses `N/M` or `P%`.
 *
 * @throws {SubsetSyntaxError} on anything else.
 */
export function parseSubset(text: string): DataSubset {
  const part = /^(\d+)\/(\d+)$/.exec(text);
  if (part) {
    const n = Number(part[1]);
    const m = Number(part[2]);
    if (n >= 1 && n <= m && m <= 2 ** 32) return { kind: "part", n, m };
    throw new SubsetSyntaxError(`Cannot use subset "${text}": N/M needs 1 <= N <= M`);
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent) {
    const p = Number(percent[1]);
    if (p > 0 && p <= 100) return { kind: "fraction", fraction: p / 100 };
    throw new SubsetSyntaxError(`Cannot use subset "${text}": P% needs 0 < P <= 100`);
  }
  throw new SubsetSyntaxError(`Cannot parse subset "${text}": expected N/M or P%`);
}

/** The predicate choosing the blobs (lowercase hex ids) of `subset`. */
export function subsetFilter(
  subset: DataSubset,
  random: () => number = Math.random,
): (id: string) => boolean {
  if (subset.kind === "fraction") {
    const { fraction } = subset;
    return () => random() < fraction;
  }
  const { n, m } = subset;
  return (id) => Number.parseInt(id.slice(0, 8), 16) % m === n - 1;
}
