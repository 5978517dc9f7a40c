/**
 * Resolves a user's snapshot spec, `SNAPSHOT[:PATH]`, against the list of
 * snapshots. Pure: no I/O; the caller passes `Repository.listSnapshots()`.
 *
 * `SNAPSHOT` is one of:
 * - `latest` — the newest snapshot (of one host with {@linkcode SelectOptions.host});
 * - a snapshot id prefix — at least 4 hex digits of the id after `s:`,
 *   matching exactly one snapshot;
 * - an absolute backed-up path (starts with `/`) — that path's newest
 *   snapshot (of one host with {@linkcode SelectOptions.host}).
 *
 * `PATH` is a path inside the snapshot, relative to its root (a leading `/`
 * is allowed; `/` or empty means the root). `.` and empty components are
 * dropped; `..` is refused.
 *
 * The `:` rule. Ids and `latest` contain no `:`, so for them the spec splits
 * at the first `:`, and `PATH` may contain `:`. A backed-up path may itself
 * contain `:`, so for a spec starting with `/` the split is the one that
 * makes the longest backed-up path: among the whole spec and every prefix
 * that ends just before a `:`, the longest that names a backed-up path wins
 * (`/mnt/a:b:/etc` selects path `/mnt/a:b` when it was backed up, else
 * `/mnt/a` with `PATH` `b:/etc`). When none names a backed-up path the spec
 * splits at its first `:`, so the error names the shortest candidate. To
 * avoid any doubt, select by id.
 *
 * @example
 * ```ts
 * const repo = await Repository.open({ hostname: "127.0.0.1", port: 6380 });
 * const { snapshot, path } = selectSnapshot(await repo.listSnapshots(), "latest:/etc");
 * ```
 *
 * @module
 */

import type { SnapshotEntry } from "../repo/repository.ts";

/** No snapshot matches a spec. */
export class SnapshotNotFoundError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotNotFoundError";
  }
}

/** An id prefix matches several snapshots. */
export class AmbiguousSnapshotError extends Error {
  /** The snapshots the prefix matches, oldest first. */
  readonly candidates: readonly SnapshotEntry[];
  /** Builds the error. */
  constructor(message: string, candidates: readonly SnapshotEntry[], options?: ErrorOptions) {
    super(message, options);
    this.name = "AmbiguousSnapshotError";
    this.candidates = candidates;
  }
}

/** A spec is malformed (bad id, `..` in the path, …). */
export class SnapshotSpecError extends SyntaxError {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SnapshotSpecError";
  }
}

/** A parsed spec: which snapshot, and the path inside it (as name components). */
export type SnapshotSpec =
  | { kind: "latest"; path: string[] }
  | { kind: "id"; prefix: string; path: string[] }
  | { kind: "path"; backedUpPath: string; path: string[] };

/** Options of {@linkcode selectSnapshot}. */
export interface SelectOptions {
  /** Only snapshots of this host count for `latest` and path selectors (not for ids). */
  host?: string;
}

/** The result of {@linkcode selectSnapshot}. */
export interface SnapshotSelection {
  /** The snapshot. */
  snapshot: SnapshotEntry;
  /** The path inside it as name components (empty: its root). */
  path: string[];
}

/** Shortest id prefix accepted. */
export const MIN_ID_PREFIX = 4;

/** `/a/b/` → `/a/b`; `//` → `/`. Only trailing slashes are removed. */
function normalizeBackedUpPath(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed === "" ? "/" : trimmed;
}

/** Splits a path inside a snapshot into components; throws on `..`. */
export function parseInnerPath(spec: string, path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new SnapshotSpecError(`Cannot parse snapshot spec "${spec}": ".." in the path`);
  }
  return parts;
}

/**
 * Parses `SNAPSHOT[:PATH]` (see the module documentation for the `:` rule).
 *
 * @param spec The spec as the user wrote it.
 * @param backedUpPaths The backed-up paths there are snapshots of; only used
 *   to split a spec that starts with `/`.
 * @throws {SnapshotSpecError} when the spec is malformed.
 */
export function parseSnapshotSpec(
  spec: string,
  backedUpPaths: ReadonlySet<string> = new Set(),
): SnapshotSpec {
  if (spec.startsWith("/")) {
    const known = new Set([...backedUpPaths].map(normalizeBackedUpPath));
    const splits = [spec.length];
    for (let i = spec.length - 1; i > 0; i--) if (spec[i] === ":") splits.push(i);
    // Longest first; without a match, the first ':' (the last in `splits`).
    const at = splits.find((i) => known.has(normalizeBackedUpPath(spec.slice(0, i)))) ??
      splits[splits.length - 1];
    return {
      kind: "path",
      backedUpPath: normalizeBackedUpPath(spec.slice(0, at)),
      path: parseInnerPath(spec, spec.slice(at + 1)),
    };
  }
  const colon = spec.indexOf(":");
  const head = colon < 0 ? spec : spec.slice(0, colon);
  const path = parseInnerPath(spec, colon < 0 ? "" : spec.slice(colon + 1));
  if (head === "latest") return { kind: "latest", path };
  if (!/^[0-9a-fA-F]+$/.test(head)) {
    throw new SnapshotSpecError(
      `Cannot parse snapshot spec "${spec}": expected "latest", a snapshot id or an absolute path`,
    );
  }
  if (head.length < MIN_ID_PREFIX || head.length > 64) {
    throw new SnapshotSpecError(
      `Cannot parse snapshot spec "${spec}": an id prefix needs ${MIN_ID_PREFIX} to 64 hex digits`,
    );
  }
  return { kind: "id", prefix: head.toLowerCase(), path };
}

function newest(snapshots: readonly SnapshotEntry[]): SnapshotEntry | undefined {
  let best: SnapshotEntry | undefined;
  for (const s of snapshots) {
    if (
      best === undefined || s.timeUs > best.timeUs || (s.timeUs === best.timeUs && s.key > best.key)
    ) best = s;
  }
  return best;
}

/** A one-line description of a snapshot for messages. */
export function describeSnapshot(s: SnapshotEntry): string {
  const time = new Date(Number(s.timeUs / 1000n)).toISOString();
  return `${s.key.slice(2, 14)} ${time} ${s.host}:${s.path}`;
}

/**
 * Selects the snapshot and the path inside it that `spec` names.
 *
 * @param snapshots Every snapshot (any order).
 * @param spec `SNAPSHOT[:PATH]`.
 * @throws {SnapshotSpecError} when the spec is malformed.
 * @throws {SnapshotNotFoundError} when nothing matches.
 * @throws {AmbiguousSnapshotError} when an id prefix matches several snapshots.
 */
export function selectSnapshot(
  snapshots: readonly SnapshotEntry[],
  spec: string,
  options: SelectOptions = {},
): SnapshotSelection {
  const { host } = options;
  const ofHost = host === undefined ? snapshots : snapshots.filter((s) => s.host === host);
  const onHost = host === undefined ? "" : ` of host "${host}"`;
  const parsed = parseSnapshotSpec(spec, new Set(ofHost.map((s) => s.path)));
  switch (parsed.kind) {
    case "latest": {
      const found = newest(ofHost);
      if (found === undefined) {
        throw new SnapshotNotFoundError(
          `Cannot find snapshot "${spec}": there are no snapshots${onHost}`,
        );
      }
      return { snapshot: found, path: parsed.path };
    }
    case "path": {
      const wanted = parsed.backedUpPath;
      const found = newest(ofHost.filter((s) => normalizeBackedUpPath(s.path) === wanted));
      if (found === undefined) {
        throw new SnapshotNotFoundError(
          `Cannot find snapshot "${spec}": no snapshot of path "${wanted}"${onHost}`,
        );
      }
      return { snapshot: found, path: parsed.path };
    }
    case "id": {
      const matches = snapshots.filter((s) => s.key.startsWith(`s:${parsed.prefix}`));
      if (matches.length === 0) {
        throw new SnapshotNotFoundError(
          `Cannot find snapshot "${spec}": no snapshot id starts with "${parsed.prefix}"`,
        );
      }
      if (matches.length > 1) {
        const sorted = [...matches].sort((a, b) =>
          a.timeUs < b.timeUs ? -1 : a.timeUs > b.timeUs ? 1 : a.key < b.key ? -1 : 1
        );
        throw new AmbiguousSnapshotError(
          `Cannot select snapshot "${spec}": id prefix "${parsed.prefix}" matches ${matches.length} snapshots:\n${
            sorted.map((s) => `  ${describeSnapshot(s)}`).join("\n")
          }`,
          sorted,
        );
      }
      return { snapshot: matches[0], path: parsed.path };
    }
  }
}
