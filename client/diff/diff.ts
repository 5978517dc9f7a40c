/**
 * The differences between two trees (two snapshots, or paths in them).
 *
 * Both trees are walked side by side from their roots, and every subtree
 * both share is skipped without reading it: metadata is content-addressed,
 * so a child whose meta key is in both directories is the same node with
 * the same subtree (its name, attributes and, through `ref`, its whole
 * content), and two directories with the same `d:` key have the same
 * children. Only the children that differ are read and matched by name.
 * Comparing two nearly identical snapshots therefore reads only the
 * directories on the paths to the changes.
 *
 * Changes come out in path order (names in byte order), depth first:
 *
 * - `added`, `removed` — the node exists on one side only; a directory's
 *   descendants follow, each as its own change;
 * - `modified` — a file's content (its `c:` key or size) or a symlink's
 *   target differs;
 * - `type` — the node changed type (file ↔ directory, …); a directory's
 *   descendants follow as removed or added;
 * - `metadata` — only attributes differ (mode, owner, group, mtime);
 *   reported with {@linkcode DiffOptions.metadata} only (a directory's
 *   mtime changes with its contents, so this is noisy).
 *
 * @module
 */

import type { NodeMeta } from "../snapshot/schema.ts";
import { type TreeNode, type TreeReader, walkTree } from "../snapshot/walk.ts";

/** What changed about a node. */
export type ChangeKind = "added" | "removed" | "modified" | "type" | "metadata";

/** One difference. */
export interface Change {
  /** What changed. */
  kind: ChangeKind;
  /** Names from the compared roots to the node (empty: the roots themselves). */
  path: Uint8Array[];
  /** The node before (absent when added). */
  before?: NodeMeta;
  /** The node after (absent when removed). */
  after?: NodeMeta;
}

/** Options of {@linkcode diffTrees}. */
export interface DiffOptions {
  /** Also report nodes whose attributes only changed (default false). */
  metadata?: boolean;
  /** Directory pairs read ahead per directory (default 16). */
  prefetch?: number;
}

/** Both sides' children that differ, matched by name, in name order. */
interface Listing {
  pairs: { before?: TreeNode; after?: TreeNode }[];
}

function compareBytes(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && compareBytes(a, b) === 0;
}

/** Whether the attributes other than the name, content and target differ. */
function attributesDiffer(a: NodeMeta, b: NodeMeta): boolean {
  return a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.mtimeNs !== b.mtimeNs;
}

function byName(a: TreeNode, b: TreeNode): number {
  return compareBytes(a.meta.name, b.meta.name) || (a.metaKey < b.metaKey ? -1 : 1);
}

/** Reads the children two directories do not share and pairs them by name. */
async function readListing(
  reader: TreeReader,
  refBefore: string,
  refAfter: string,
): Promise<Listing> {
  const [keysBefore, keysAfter] = await Promise.all([
    reader.readDir(refBefore),
    reader.readDir(refAfter),
  ]);
  const inBefore = new Set(keysBefore);
  const inAfter = new Set(keysAfter);
  const read = (keys: string[]) =>
    Promise.all(keys.map(async (metaKey) => ({ metaKey, meta: await reader.readMeta(metaKey) })));
  const [before, after] = await Promise.all([
    read(keysBefore.filter((k) => !inAfter.has(k))),
    read(keysAfter.filter((k) => !inBefore.has(k))),
  ]);
  before.sort(byName);
  after.sort(byName);
  // Merge by name; equal names (only in crafted metadata) pair up in key order.
  const pairs: Listing["pairs"] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const order = i >= before.length
      ? 1
      : j >= after.length
      ? -1
      : compareBytes(before[i].meta.name, after[j].meta.name);
    if (order < 0) pairs.push({ before: before[i++] });
    else if (order > 0) pairs.push({ after: after[j++] });
    else pairs.push({ before: before[i++], after: after[j++] });
  }
  return { pairs };
}

class Differ {
  readonly #reader: TreeReader;
  readonly #metadata: boolean;
  readonly #prefetch: number;

  constructor(reader: TreeReader, options: DiffOptions) {
    this.#reader = reader;
    this.#metadata = options.metadata ?? false;
    this.#prefetch = Math.max(1, options.prefetch ?? 16);
  }

  /** Every node below `node` (not itself) as `kind`. */
  async *below(
    kind: "added" | "removed",
    path: Uint8Array[],
    node: TreeNode,
  ): AsyncGenerator<Change> {
    if (node.meta.type !== "dir") return;
    for await (const entry of walkTree(this.#reader, node.metaKey)) {
      if (entry.path.length === 0) continue;
      const change: Change = { kind, path: [...path, ...entry.path] };
      if (kind === "added") change.after = entry.meta;
      else change.before = entry.meta;
      yield change;
    }
  }

  /** The changes from `a` to `b` at `path` (the same name on both sides). */
  async *node(
    path: Uint8Array[],
    a: TreeNode,
    b: TreeNode,
    listing?: Promise<Listing>,
  ): AsyncGenerator<Change> {
    if (a.metaKey === b.metaKey) return;
    const before = a.meta;
    const after = b.meta;
    if (before.type !== after.type) {
      yield { kind: "type", path, before, after };
      yield* this.below("removed", path, a);
      yield* this.below("added", path, b);
      return;
    }
    const metadataChange = this.#metadata && attributesDiffer(before, after);
    switch (before.type) {
      case "dir":
        if (metadataChange) yield { kind: "metadata", path, before, after };
        if (before.ref !== after.ref) {
          yield* this.dir(path, await (listing ?? this.#list(before.ref!, after.ref!)));
        }
        return;
      case "file":
        if (before.ref !== after.ref || before.size !== after.size) {
          yield { kind: "modified", path, before, after };
        } else if (metadataChange) yield { kind: "metadata", path, before, after };
        return;
      case "symlink":
        if (!sameBytes(before.target, after.target)) {
          yield { kind: "modified", path, before, after };
        } else if (metadataChange) yield { kind: "metadata", path, before, after };
        return;
      default:
        if (metadataChange) yield { kind: "metadata", path, before, after };
    }
  }

  #list(refBefore: string, refAfter: string): Promise<Listing> {
    return readListing(this.#reader, refBefore, refAfter);
  }

  /** The changes among a directory's differing children. */
  async *dir(path: Uint8Array[], listing: Listing): AsyncGenerator<Change> {
    // Read ahead the listings of the next few child directory pairs to compare.
    const pending = listing.pairs.map((pair) => {
      const { before, after } = pair;
      const both = before !== undefined && after !== undefined &&
        before.meta.type === "dir" && after.meta.type === "dir" &&
        before.meta.ref !== after.meta.ref;
      return { ...pair, both, listing: undefined as Promise<Listing> | undefined };
    });
    const toLoad = pending.filter((p) => p.both);
    let started = 0;
    const startMore = (upTo: number) => {
      for (; started < Math.min(upTo, toLoad.length); started++) {
        const p = toLoad[started];
        p.listing = this.#list(p.before!.meta.ref!, p.after!.meta.ref!);
        p.listing.catch(() => {}); // Awaited (and thrown) in order below.
      }
    };
    startMore(this.#prefetch);
    let loadsPassed = 0;
    for (const p of pending) {
      const name = (p.before ?? p.after)!.meta.name;
      const childPath = [...path, name];
      if (p.before === undefined) {
        yield { kind: "added", path: childPath, after: p.after!.meta };
        yield* this.below("added", childPath, p.after!);
      } else if (p.after === undefined) {
        yield { kind: "removed", path: childPath, before: p.before.meta };
        yield* this.below("removed", childPath, p.before);
      } else {
        if (p.both) startMore(++loadsPassed + this.#prefetch);
        yield* this.node(childPath, p.before, p.after, p.listing);
      }
    }
  }
}

/**
 * Yields the changes from the tree at meta key `before` to the tree at meta
 * key `after`, in path order. The roots are compared as nodes (their names
 * are ignored).
 *
 * @throws the reader's errors (a missing meta or directory set).
 */
export async function* diffTrees(
  reader: TreeReader,
  before: string,
  after: string,
  options: DiffOptions = {},
): AsyncGenerator<Change, void, undefined> {
  if (before === after) return;
  const [a, b] = await Promise.all([reader.readMeta(before), reader.readMeta(after)]);
  // Give the roots one name, so that only their contents and attributes count.
  const rootA: TreeNode = { metaKey: before, meta: { ...a, name: new Uint8Array() } };
  const rootB: TreeNode = { metaKey: after, meta: { ...b, name: new Uint8Array() } };
  yield* new Differ(reader, options).node([], rootA, rootB);
}
