/**
 * The names and layout of the mounted tree, pure (no I/O): how a backed-up
 * (host, path) becomes one path component, how snapshots are named by their
 * time, how an `at/<name>/<time>` name resolves to a snapshot, and the
 * layout built from the list of snapshots.
 *
 * ```text
 * latest/<name>                      newest snapshot of each (host, path)
 * snapshots/<name>/<time>            every snapshot, e.g. 2024-05-04T15:04:05Z
 * at/<name>/<time>                   newest snapshot at or before <time>
 * ```
 *
 * See docs/mount.md for the rules as the user sees them.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Name of the directory of the newest snapshots. */
export const LATEST_DIR = "latest";
/** Name of the directory of every snapshot. */
export const SNAPSHOTS_DIR = "snapshots";
/** Name of the directory of snapshots as of a time. */
export const AT_DIR = "at";

/** Longest name handed to the kernel, in UTF-8 bytes (NAME_MAX). */
export const NAME_MAX = 255;

/** What the layout needs of a snapshot (a `SnapshotEntry` has it). */
export interface SnapshotLike {
  /** `s:<S>`. */
  key: string;
  /** Host name. */
  host: string;
  /** Backed-up path. */
  path: string;
  /** Time, µs since the epoch. */
  timeUs: bigint;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Whether a character is written as `%XX` in a name: the escape itself, separators, controls. */
function isEscaped(code: number): boolean {
  return code < 0x20 || code === 0x7f || code === 0x25 || code === 0x2f || code === 0x3a;
}
/** Prefix of the path part of a name whose path does not start with `/`. */
const RELATIVE_MARK = "%.";
/** Separator before the hash that ends a shortened name. */
const HASH_MARK = "%~";

function escapePart(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    out += isEscaped(code) ? `%${code.toString(16).toUpperCase().padStart(2, "0")}` : text[i];
  }
  return out;
}

function unescapePart(text: string): string | undefined {
  let bad = false;
  const out = text.replace(/%(..)?/gs, (whole, hex: string | undefined) => {
    if (hex === undefined || !/^[0-9A-F]{2}$/.test(hex)) {
      bad = true;
      return whole;
    }
    return String.fromCharCode(parseInt(hex, 16));
  });
  return bad ? undefined : out;
}

/** The longest prefix of `text` of at most `max` UTF-8 bytes that does not cut a `%XX` escape. */
function cutName(text: string, max: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > max) break;
    bytes += size;
    end += char.length;
  }
  const escape = text.lastIndexOf("%", end - 1);
  if (escape >= 0 && escape > end - 3) end = escape;
  return text.slice(0, end);
}

/**
 * The directory name of a backed-up (host, path): `host:dir:dir:…`, the
 * path's components joined by `:` after the host. Within the host and each
 * component, `%`, `:`, `/` and control characters are written `%XX`
 * (uppercase hex), so the name is one path component and no two (host,
 * path) pairs share a name. The root path `/` is `host:`. A path not
 * starting with `/` (never written by `ddb backup`) gets `%.` after the
 * first `:`. A name longer than {@linkcode NAME_MAX} bytes is cut and ends
 * with `%~` and 16 hex digits of the SHA-256 of the whole name.
 *
 * @example
 * ```ts
 * groupName("laptop", "/home/ann/photos"); // "laptop:home:ann:photos"
 * groupName("nas", "/srv/a:b");            // "nas:srv:a%3Ab"
 * ```
 */
export function groupName(host: string, path: string): string {
  const absolute = path.startsWith("/");
  const rest = absolute ? path.slice(1) : path;
  const part = (absolute ? "" : RELATIVE_MARK) +
    (rest === "" && absolute ? "" : rest.split("/").map(escapePart).join(":"));
  const name = `${escapePart(host)}:${part}`;
  if (encoder.encode(name).length <= NAME_MAX) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 16);
  return cutName(name, NAME_MAX - HASH_MARK.length - hash.length) + HASH_MARK + hash;
}

/**
 * The (host, path) a name of {@linkcode groupName} stands for; undefined
 * for a shortened name or a string no (host, path) is written as.
 */
export function parseGroupName(name: string): { host: string; path: string } | undefined {
  const colon = name.indexOf(":");
  if (colon <= 0 || name.includes(HASH_MARK)) return undefined;
  const host = unescapePart(name.slice(0, colon));
  let part = name.slice(colon + 1);
  const absolute = !part.startsWith(RELATIVE_MARK);
  if (!absolute) part = part.slice(RELATIVE_MARK.length);
  const components = part.split(":").map(unescapePart);
  if (host === undefined || components.some((c) => c === undefined)) return undefined;
  const rest = components.join("/");
  const result = { host, path: absolute ? `/${rest}` : rest };
  // Only the canonical spelling of a pair counts.
  return groupName(result.host, result.path) === name ? result : undefined;
}

/** Largest time a JavaScript `Date` holds, in µs. */
const MAX_DATE_US = 8_640_000_000_000_000_000n;

function isoOf(timeUs: bigint): string | undefined {
  return timeUs > MAX_DATE_US ? undefined : new Date(Number(timeUs / 1000n)).toISOString();
}

/**
 * A snapshot time as a name, to the second, in UTC: `2024-05-04T15:04:05Z`.
 * A time beyond what a date can show (only in crafted metadata) is `@<µs>`.
 */
export function secondName(timeUs: bigint): string {
  const iso = isoOf(timeUs);
  return iso === undefined ? `@${timeUs}` : `${iso.slice(0, 19)}Z`;
}

/** A snapshot time to the microsecond, in UTC: `2024-05-04T15:04:05.123456Z`. */
export function microsecondName(timeUs: bigint): string {
  const iso = isoOf(timeUs);
  if (iso === undefined) return `@${timeUs}`;
  return `${iso.slice(0, 19)}.${String(timeUs % 1_000_000n).padStart(6, "0")}Z`;
}

/** A snapshot and its name in its group's directory. */
export interface NamedSnapshot<S extends SnapshotLike = SnapshotLike> {
  /** The name under `snapshots/<group>/`. */
  name: string;
  /** The snapshot. */
  snapshot: S;
}

/** The snapshots of one backed-up (host, path). */
export interface Group<S extends SnapshotLike = SnapshotLike> {
  /** Its {@linkcode groupName}. */
  name: string;
  /** Host name. */
  host: string;
  /** Backed-up path. */
  path: string;
  /** Its snapshots, oldest first (by time, then key). */
  snapshots: readonly NamedSnapshot<S>[];
  /** The same, by name. */
  byName: ReadonlyMap<string, NamedSnapshot<S>>;
}

/** Every group, by name. */
export interface Layout<S extends SnapshotLike = SnapshotLike> {
  /** The groups in name order. */
  groups: ReadonlyMap<string, Group<S>>;
  /** Time of the newest snapshot, µs; undefined without snapshots. */
  newestUs: bigint | undefined;
}

function compareSnapshots(a: SnapshotLike, b: SnapshotLike): number {
  if (a.timeUs !== b.timeUs) return a.timeUs < b.timeUs ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Names the snapshots of one group (sorted oldest first): each is named by
 * its second; when several fall in one second, the first keeps that name
 * and each later one is named to the microsecond, with `-` and the start of
 * its id if even that is taken.
 */
export function nameSnapshots<S extends SnapshotLike>(sorted: readonly S[]): NamedSnapshot<S>[] {
  const taken = new Set<string>();
  return sorted.map((snapshot) => {
    let name = secondName(snapshot.timeUs);
    if (taken.has(name)) name = microsecondName(snapshot.timeUs);
    if (taken.has(name)) {
      const id = snapshot.key.replace(/^s:/, "");
      name = `${name}-${id.slice(0, 8)}`;
      if (taken.has(name)) name = `${name}${id.slice(8)}`;
    }
    taken.add(name);
    return { name, snapshot };
  });
}

/**
 * Builds the layout of `snapshots` (any order). Two pairs whose names
 * collide (possible only for shortened names) keep the first met.
 */
export function buildLayout<S extends SnapshotLike>(snapshots: readonly S[]): Layout<S> {
  const byGroup = new Map<string, { host: string; path: string; list: S[] }>();
  let newestUs: bigint | undefined;
  for (const s of snapshots) {
    const name = groupName(s.host, s.path);
    let group = byGroup.get(name);
    if (group === undefined) {
      group = { host: s.host, path: s.path, list: [] };
      byGroup.set(name, group);
    } else if (group.host !== s.host || group.path !== s.path) {
      continue;
    }
    group.list.push(s);
    if (newestUs === undefined || s.timeUs > newestUs) newestUs = s.timeUs;
  }
  const groups = new Map<string, Group<S>>();
  for (const name of [...byGroup.keys()].sort(compareNames)) {
    const { host, path, list } = byGroup.get(name)!;
    const named = nameSnapshots(list.sort(compareSnapshots));
    groups.set(name, {
      name,
      host,
      path,
      snapshots: named,
      byName: new Map(named.map((n) => [n.name, n])),
    });
  }
  return { groups, newestUs };
}

/** Byte order of UTF-8 names (what `ls` shows in the C locale). */
function compareNames(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** The newest snapshot of a group. */
export function latestOf<S extends SnapshotLike>(group: Group<S>): NamedSnapshot<S> | undefined {
  return group.snapshots.at(-1);
}

const MS_NS = 1_000_000n;
const SECOND_NS = 1_000_000_000n;
const TIME =
  /^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2})(?:[Tt](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?)?)?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))?$/;

/**
 * The end of the period a time name denotes, as an exclusive bound in µs
 * since the epoch: a snapshot is "as of" the name when its time is below
 * it. A name may stop at any precision, from `2024-05-04T15:04:05.123456`
 * down to `2024`, and then means the end of that year, month, day, hour,
 * minute, second or fraction. Fields may be written without leading zeros
 * (`2024-5-4T9:3:7`). The time is UTC unless it ends with an offset
 * (`+02:00`, `-05:30`); a trailing `Z` is allowed. Undefined for anything
 * else, including dates that do not exist (`2023-02-29`).
 *
 * @example
 * ```ts
 * timeLimitUs("2024");     // 1735689600000000n (2025-01-01T00:00:00Z)
 * timeLimitUs("2024-05-04T15:04:05Z"); // 1714835046000000n
 * ```
 */
export function timeLimitUs(text: string): bigint | undefined {
  const m = TIME.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const [year, month, day, hour, minute, second] = [y, mo ?? 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0]
    .map(Number);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (day < 1 || day > daysIn(year, month)) return undefined;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const date = new Date(0);
  let endNs: bigint;
  if (mo === undefined) {
    date.setUTCFullYear(year + 1, 0, 1);
    endNs = BigInt(date.getTime()) * MS_NS;
  } else if (d === undefined) {
    date.setUTCFullYear(year, month, 1);
    endNs = BigInt(date.getTime()) * MS_NS;
  } else {
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, 0);
    const startNs = BigInt(date.getTime()) * MS_NS +
      (frac === undefined ? 0n : BigInt(frac) * 10n ** BigInt(9 - frac.length));
    const period = h === undefined
      ? 86_400n * SECOND_NS
      : mi === undefined
      ? 3_600n * SECOND_NS
      : s === undefined
      ? 60n * SECOND_NS
      : frac === undefined
      ? SECOND_NS
      : 10n ** BigInt(9 - frac.length);
    endNs = startNs + period;
  }
  if (oh !== undefined) {
    const offsetNs = BigInt(Number(oh) * 60 + Number(om)) * 60_000_000_000n;
    endNs += sign === "+" ? -offsetNs : offsetNs;
  }
  // Exclusive in ns, so exclusive in µs after rounding up.
  return endNs <= 0n ? 0n : (endNs + 999n) / 1000n;
}

function daysIn(year: number, month: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}

/**
 * The snapshot of `group` as of the time named `text` (see
 * {@linkcode timeLimitUs}): the newest one at or before the end of that
 * period; undefined when the name is not a time or no snapshot is that old.
 * Binary search over the group's snapshots.
 */
export function snapshotAsOf<S extends SnapshotLike>(
  group: Group<S>,
  text: string,
): NamedSnapshot<S> | undefined {
  const limit = timeLimitUs(text);
  if (limit === undefined) return undefined;
  const list = group.snapshots;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].snapshot.timeUs < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : list[lo - 1];
}

/** Decodes a raw name of a node; undefined when it cannot be a path component. */
export function entryName(raw: Uint8Array): string | undefined {
  const name = decoder.decode(raw);
  if (name === "" || name === "." || name === ".." || name.includes("/")) return undefined;
  if (name.includes(String.fromCharCode(0))) return undefined;
  return name;
}
