/**
 * Least-squares line through points, for the trend of a memory series. No I/O.
 *
 * @module
 */

/** One observation. */
export interface Point {
  /** Independent variable (e.g. seconds). */
  x: number;
  /** Dependent variable (e.g. bytes). */
  y: number;
}

/**
 * The slope of the least-squares line through `points` (units of y per unit
 * of x); 0 for fewer than two points or when every x is the same.
 *
 * @example
 * ```ts
 * linearSlope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]); // 2
 * ```
 */
export function linearSlope(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let meanX = 0;
  let meanY = 0;
  for (const p of points) {
    meanX += p.x / n;
    meanY += p.y / n;
  }
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - meanX) * (p.y - meanY);
    sxx += (p.x - meanX) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}
