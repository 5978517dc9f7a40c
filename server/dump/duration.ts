/**
 * Durations on the command line: `90s`, `15m`, `1h`, `1h30m`, `2d`, `500ms`.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * The duration `text` in milliseconds: one or more `<integer><unit>` parts,
 * units `ms`, `s`, `m`, `h`, `d`. Throws a `RangeError` for anything else.
 */
export function parseDuration(text: string): number {
  const part = /(\d+)(ms|s|m|h|d)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (match === null) break;
    total += Number(match[1]) * UNITS[match[2]];
    at = part.lastIndex;
  }
  if (text.length === 0 || at !== text.length || !Number.isSafeInteger(total)) {
    throw new RangeError(
      `Cannot parse duration "${text}": expected e.g. 30s, 15m, 1h, 1h30m, 2d`,
    );
  }
  return total;
}
