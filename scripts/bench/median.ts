/**
 * The median of repeated measurements. No I/O.
 *
 * @module
 */

/**
 * The item whose `value` is the median of `items` (for an even count, the
 * lower of the two middle ones), so the whole measurement of a typical run is
 * kept, not a blend of several.
 *
 * @example
 * ```ts
 * medianBy([{ rps: 3 }, { rps: 1 }, { rps: 2 }], (r) => r.rps); // { rps: 2 }
 * ```
 */
export function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  if (items.length === 0) throw new RangeError("Cannot take the median of no items");
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
