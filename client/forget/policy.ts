/**
 * The keep policy of `ddb forget`, with restic's semantics (restic's
 * `ApplyPolicy`), applied to the snapshots of one group (one host and
 * backed-up path). Pure: no I/O, no clock; the caller passes "now".
 *
 * The snapshots are taken newest first. Each is kept when at least one rule
 * keeps it (the rules are ORed), and every rule that does is given as a
 * reason:
 *
 * - `last: n` — the n newest snapshots.
 * - `hourly`, `daily`, `weekly`, `monthly`, `yearly: n` — for the n newest
 *   hours (days, ISO weeks Monday–Sunday, months, years) that have
 *   snapshots, the newest snapshot of each. Buckets are natural calendar
 *   boundaries, not intervals before now, and only buckets with snapshots
 *   count. `Infinity` (`unlimited` on the command line) keeps one for every
 *   bucket.
 * - When a counted rule still has counts left after the oldest snapshot, the
 *   oldest snapshot is kept as well (reason `oldest daily snapshot`, …), so
 *   the history kept is as long as possible.
 * - `within: 1y2m3d4h` — every snapshot strictly newer than the latest
 *   snapshot's time minus the duration, the years, months and days
 *   subtracted on the calendar (as Go's `AddDate`: March 31 minus one month
 *   is March 2 or 3), then the hours. "Latest" is the newest snapshot that is
 *   not in the future (relative to {@linkcode PolicyOptions.nowUs}).
 * - `tags: [["a", "b"], ["c"]]` — snapshots that have all tags of at least
 *   one list; the list `[""]` matches snapshots without tags. Tag matches are
 *   not counted.
 *
 * Time zone: calendar buckets and the calendar part of `within` are computed
 * in UTC by default, so the result does not depend on the machine running
 * the policy (snapshots of several hosts are kept alike). `zone: "local"`
 * uses the time zone of the process (`TZ`), as restic does with the zone
 * recorded in each snapshot. ddb records times as µs since the epoch, with no
 * zone.
 *
 * @example
 * ```ts
 * const decisions = applyPolicy(snapshots, { daily: 7, weekly: 4 }, { nowUs: 0n });
 * for (const d of decisions) console.log(d.snapshot.key, d.keep, d.reasons.join(", "));
 * ```
 *
 * @module
 */

/** A calendar duration: `1y2m3d4h`. */
export interface Duration {
  /** Years. */
  years: number;
  /** Months. */
  months: number;
  /** Days. */
  days: number;
  /** Hours. */
  hours: number;
}

/** A duration string is malformed. */
export class DurationSyntaxError extends SyntaxError {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DurationSyntaxError";
  }
}

/** The policy is empty (no rule), so it would remove every snapshot. */
export class EmptyPolicyError extends RangeError {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EmptyPolicyError";
  }
}

/** Time zone of calendar buckets. */
export type TimeZone = "utc" | "local";

/** What to keep. Counts are positive integers or `Infinity`; absent or 0 means unused. */
export interface KeepPolicy {
  /** The n newest snapshots. */
  last?: number;
  /** The newest snapshot of each of the n newest hours with snapshots. */
  hourly?: number;
  /** The newest snapshot of each of the n newest days with snapshots. */
  daily?: number;
  /** The newest snapshot of each of the n newest ISO weeks with snapshots. */
  weekly?: number;
  /** The newest snapshot of each of the n newest months with snapshots. */
  monthly?: number;
  /** The newest snapshot of each of the n newest years with snapshots. */
  yearly?: number;
  /** Every snapshot within this duration before the latest one. */
  within?: Duration;
  /** Snapshots having all tags of any of these lists. */
  tags?: readonly (readonly string[])[];
}

/** What the policy needs of a snapshot. */
export interface PolicySnapshot {
  /** Its key (`s:<S>`): breaks ties between equal times. */
  key: string;
  /** Its time, µs since the epoch. */
  timeUs: bigint;
  /** Its tags. */
  tags: readonly string[];
}

/** Options of {@linkcode applyPolicy}. */
export interface PolicyOptions {
  /** The current time, µs since the epoch: snapshots after it are not "latest" for `within`. */
  nowUs: bigint;
  /** Time zone of calendar buckets (default `"utc"`). */
  zone?: TimeZone;
}

/** The fate of one snapshot. */
export interface PolicyDecision<T extends PolicySnapshot> {
  /** The snapshot. */
  snapshot: T;
  /** Whether it is kept. */
  keep: boolean;
  /** Why it is kept (empty when removed), e.g. `daily snapshot`, `within 7d`. */
  reasons: string[];
}

const DURATION_PART = /^(\d+)([ymdh])/;

/**
 * Parses `1y2m3d4h` (any of the parts, in any order, e.g. `7d`, `2m12h`).
 *
 * @throws {DurationSyntaxError} on anything else.
 */
export function parseDuration(text: string): Duration {
  const d: Duration = { years: 0, months: 0, days: 0, hours: 0 };
  if (text === "") throw new DurationSyntaxError('Cannot parse duration "": it is empty');
  let rest = text;
  while (rest !== "") {
    const match = DURATION_PART.exec(rest);
    if (!match) {
      throw new DurationSyntaxError(
        `Cannot parse duration "${text}": expected numbers with units y, m, d, h (e.g. 1y2m3d4h)`,
      );
    }
    const n = Number(match[1]);
    if (!Number.isSafeInteger(n)) {
      throw new DurationSyntaxError(`Cannot parse duration "${text}": ${match[1]} is too large`);
    }
    const unit = { y: "years", m: "months", d: "days", h: "hours" }[match[2]] as keyof Duration;
    d[unit] = n;
    rest = rest.slice(match[0].length);
  }
  return d;
}

/** `1y2m3d4h`, leaving out zero parts (`0h` for a zero duration). */
export function formatDuration(d: Duration): string {
  const text = (d.years ? `${d.years}y` : "") + (d.months ? `${d.months}m` : "") +
    (d.days ? `${d.days}d` : "") + (d.hours ? `${d.hours}h` : "");
  return text === "" ? "0h" : text;
}

function isZero(d: Duration | undefined): boolean {
  return d === undefined || (d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0);
}

function counted(n: number | undefined): boolean {
  return n !== undefined && n > 0;
}

/** Whether the policy has no rule (it would remove everything). */
export function isEmptyPolicy(policy: KeepPolicy): boolean {
  return !counted(policy.last) && !counted(policy.hourly) && !counted(policy.daily) &&
    !counted(policy.weekly) && !counted(policy.monthly) && !counted(policy.yearly) &&
    isZero(policy.within) && (policy.tags ?? []).length === 0;
}

/** One line describing the policy, e.g. `keep 7 daily, 4 weekly snapshots and all within 1y`. */
export function describePolicy(policy: KeepPolicy): string {
  const counts: string[] = [];
  for (
    const [n, what] of [
      [policy.last, "latest"],
      [policy.hourly, "hourly"],
      [policy.daily, "daily"],
      [policy.weekly, "weekly"],
      [policy.monthly, "monthly"],
      [policy.yearly, "yearly"],
    ] as const
  ) {
    if (n === Infinity) counts.push(`all ${what}`);
    else if (counted(n)) counts.push(`${n} ${what}`);
  }
  const parts: string[] = [];
  if (counts.length > 0) parts.push(`${counts.join(", ")} snapshots`);
  for (const list of policy.tags ?? []) parts.push(`all with tags ${showTags(list)}`);
  if (!isZero(policy.within)) {
    parts.push(`all within ${formatDuration(policy.within!)} of the latest`);
  }
  return parts.length === 0 ? "keep nothing" : `keep ${parts.join(" and ")}`;
}

function showTags(list: readonly string[]): string {
  return `[${list.join(", ")}]`;
}

/** Calendar fields of a time in a zone. */
interface Calendar {
  year: number;
  /** 1–12. */
  month: number;
  day: number;
  hour: number;
}

function calendarOf(timeUs: bigint, zone: TimeZone): Calendar {
  const date = new Date(Number(timeUs / 1000n));
  return zone === "utc"
    ? {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      hour: date.getUTCHours(),
    }
    : {
      year: date.getFullYear(),
      month: date.getMonth() + 1,
      day: date.getDate(),
      hour: date.getHours(),
    };
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  const weekday = (date.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const thursday = new Date(date.getTime() + (3 - weekday) * 86_400_000);
  const isoYear = thursday.getUTCFullYear();
  const january1 = new Date(0);
  january1.setUTCFullYear(isoYear, 0, 1);
  const dayOfYear = Math.round((thursday.getTime() - january1.getTime()) / 86_400_000);
  return { year: isoYear, week: Math.floor(dayOfYear / 7) + 1 };
}

type Bucker = (c: Calendar, index: number) => number;

const BUCKETS: readonly { rule: keyof KeepPolicy; reason: string; bucket: Bucker }[] = [
  { rule: "last", reason: "last snapshot", bucket: (_, index) => index },
  {
    rule: "hourly",
    reason: "hourly snapshot",
    bucket: (c) => c.year * 1_000_000 + c.month * 10_000 + c.day * 100 + c.hour,
  },
  {
    rule: "daily",
    reason: "daily snapshot",
    bucket: (c) => c.year * 10_000 + c.month * 100 + c.day,
  },
  {
    rule: "weekly",
    reason: "weekly snapshot",
    bucket: (c) => {
      const w = isoWeek(c.year, c.month, c.day);
      return w.year * 100 + w.week;
    },
  },
  { rule: "monthly", reason: "monthly snapshot", bucket: (c) => c.year * 100 + c.month },
  { rule: "yearly", reason: "yearly snapshot", bucket: (c) => c.year },
];

/** `timeUs` minus a calendar duration (years, months, days on the calendar of `zone`; then hours). */
export function subtractDuration(timeUs: bigint, d: Duration, zone: TimeZone = "utc"): bigint {
  const ms = timeUs / 1000n;
  const subMs = timeUs - ms * 1000n;
  const t = new Date(Number(ms));
  const shifted = new Date(t.getTime());
  // set*FullYear, not Date.UTC: years 0–99 are not moved to 1900–1999.
  if (zone === "utc") {
    shifted.setUTCFullYear(
      t.getUTCFullYear() - d.years,
      t.getUTCMonth() - d.months,
      t.getUTCDate() - d.days,
    );
  } else {
    shifted.setFullYear(t.getFullYear() - d.years, t.getMonth() - d.months, t.getDate() - d.days);
  }
  const result = shifted.getTime() - d.hours * 3_600_000;
  return BigInt(result) * 1000n + subMs;
}

function hasTags(snapshot: PolicySnapshot, list: readonly string[]): boolean {
  for (const tag of list) {
    if (tag === "" && snapshot.tags.length === 0) return true;
    if (!snapshot.tags.includes(tag)) return false;
  }
  return true;
}

/** Newest first; equal times by key. */
function newestFirst(a: PolicySnapshot, b: PolicySnapshot): number {
  if (a.timeUs !== b.timeUs) return a.timeUs > b.timeUs ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Applies `policy` to the snapshots of one group.
 *
 * @returns every snapshot, newest first, with whether it is kept and why.
 * @throws {EmptyPolicyError} when the policy has no rule.
 */
export function applyPolicy<T extends PolicySnapshot>(
  snapshots: readonly T[],
  policy: KeepPolicy,
  options: PolicyOptions,
): PolicyDecision<T>[] {
  if (isEmptyPolicy(policy)) {
    throw new EmptyPolicyError("Cannot apply an empty policy: it would remove every snapshot");
  }
  const zone = options.zone ?? "utc";
  const list = [...snapshots].sort(newestFirst);
  const buckets = BUCKETS.map((b) => ({ ...b, left: (policy[b.rule] as number | undefined) ?? 0 }))
    .map((b) => ({ ...b, last: undefined as number | undefined }));
  let latest: bigint | undefined;
  for (const s of list) {
    if (s.timeUs < options.nowUs && (latest === undefined || s.timeUs > latest)) latest = s.timeUs;
  }
  const within = policy.within;
  const threshold = isZero(within) || latest === undefined
    ? undefined
    : subtractDuration(latest, within!, zone);

  return list.map((snapshot, index) => {
    const reasons: string[] = [];
    for (const tagList of policy.tags ?? []) {
      if (hasTags(snapshot, tagList)) reasons.push(`has tags ${showTags(tagList)}`);
    }
    if (!isZero(within) && (threshold === undefined || snapshot.timeUs > threshold)) {
      reasons.push(`within ${formatDuration(within!)}`);
    }
    const calendar = calendarOf(snapshot.timeUs, zone);
    const oldest = index === list.length - 1;
    for (const b of buckets) {
      if (!(b.left > 0)) continue;
      const value = b.bucket(calendar, index);
      if (value !== b.last || oldest) {
        reasons.push(value === b.last ? `oldest ${b.reason}` : b.reason);
        b.last = value;
        b.left--;
      }
    }
    return { snapshot, keep: reasons.length > 0, reasons };
  });
}
