/**
 * Durations on the command line (`ddb gc --grace`, `ddb serve
 * --meta-backup-every`): `0`, or numbers with units `d`, `h`, `m`, `s`, `ms`,
 * largest first, e.g. `1h`, `90s`, `1d12h`, `1500ms`.
 *
 * @module
 */

/** The text is not a duration. */
export class DurationSyntaxError extends SyntaxError {
  /** Builds the error for `text`. */
  constructor(text: string) {
    super(
      `Cannot parse duration "${text}": expected 0 or numbers with units d, h, m, s, ms ` +
        `(e.g. 1h, 90s, 1d12h)`,
    );
    this.name = "DurationSyntaxError";
  }
}

const UNITS: readonly (readonly [string, number])[] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1000],
  ["ms", 1],
];

/**
 * The duration `text` in ms.
 *
 * @throws {DurationSyntaxError} for anything else.
 */
export function parseDuration(text: string): number {
  if (text === "0") return 0;
  const parts = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text);
  if (parts === null || text === "") throw new DurationSyntaxError(text);
  let ms = 0;
  for (let i = 0; i < UNITS.length; i++) {
    if (parts[i + 1] !== undefined) ms += Number(parts[i + 1]) * UNITS[i][1];
  }
  if (!Number.isSafeInteger(ms)) throw new DurationSyntaxError(text);
  return ms;
}

/** `ms` as the shortest text {@linkcode parseDuration} reads back (`1h30m`, `0`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  let rest = ms;
  let out = "";
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
