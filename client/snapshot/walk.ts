/**
 * Walking the tree of a snapshot: every node depth-first (pre-order), the
 * children of each directory in name order (bytes; equal names by meta key),
 * and finding one node by its path.
 *
 * Reading is pipelined: a directory's set and all its children's metas are
 * requested at once, and up to {@linkcode WalkOptions.prefetch} directories
 * ahead of the consumer (in walk order) are read while it works, so a walk
 * costs about one round trip per `prefetch` directories rather than one per
 * node. Memory stays bounded by the directories read ahead and those on the
 * path to the current node: a directory's listing is let go once walked.
 *
 * Crafted metadata can make a directory contain itself; such a cycle is
 * reported as an error and not entered.
 *
 * @module
 */

import type { NodeMeta } from "./schema.ts";

/** What the walk reads (a `Repository` has it). */
export interface TreeReader {
  /** A node's metadata. */
  readMeta(key: string): Promise<NodeMeta>;
  /** The meta keys of a directory's children. */
  readDir(key: string): Promise<string[]>;
  /**
   * Several metas at once, each settled on its own; optional (a walk reads
   * them with {@linkcode readMeta} otherwise).
   */
  readMetas?(keys: readonly string[]): Promise<PromiseSettledResult<NodeMeta>[]>;
}

/** A node and its meta key. */
export interface TreeNode {
  /** Its metadata. */
  meta: NodeMeta;
  /** `m:<M>`. */
  metaKey: string;
}

/** A node met by {@linkcode walkTree}. */
export interface TreeEntry extends TreeNode {
  /** Names from the walk's root to the node (empty for the root itself). */
  path: Uint8Array[];
}

/** Options of {@linkcode walkTree}. */
export interface WalkOptions {
  /**
   * Whether to enter a directory (default: all). Called once per directory,
   * possibly before earlier entries are yielded, so it should be a pure
   * function of the entry. The directory itself is yielded either way.
   */
  descend?: (entry: TreeEntry) => boolean;
  /** Directories read ahead of the consumer (default 64; at least 1). */
  prefetch?: number;
  /**
   * Receives errors reading the tree below the root (a missing or malformed
   * meta, a cycle); the walk goes on without the unreadable nodes. Without
   * it, the walk throws the first such error.
   */
  onError?: (error: WalkError) => void;
}

/** A node of the tree could not be read. */
export class WalkError extends Error {
  /** Path of the directory where it happened. */
  readonly path: Uint8Array[];
  /** Builds the error. */
  constructor(message: string, path: Uint8Array[], options?: ErrorOptions) {
    super(message, options);
    this.name = "WalkError";
    this.path = path;
  }
}

/** {@linkcode resolvePath} found no node at a path. */
export class NodeNotFoundError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeNotFoundError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Byte order of names; equal names by meta key, so the order is total. */
function compareEntries(a: TreeNode, b: TreeNode): number {
  const x = a.meta.name;
  const y = b.meta.name;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  if (x.length !== y.length) return x.length - y.length;
  return a.metaKey < b.metaKey ? -1 : a.metaKey > b.metaKey ? 1 : 0;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function showPath(path: readonly Uint8Array[]): string {
  return "/" + path.map((p) => decoder.decode(p)).join("/");
}

/** A directory's children, sorted, and the errors reading some of them. */
interface Listing {
  children: Child[];
  errors: WalkError[];
}

/** Reads a directory's children, sorted; a child that cannot be read becomes an error. */
async function readChildren(
  reader: TreeReader,
  dirRef: string,
  path: Uint8Array[],
  errors: WalkError[],
): Promise<TreeEntry[]> {
  const keys = await reader.readDir(dirRef);
  const results = reader.readMetas !== undefined
    ? await reader.readMetas(keys)
    : await Promise.allSettled(keys.map((key) => reader.readMeta(key)));
  const children: TreeEntry[] = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") {
      children.push({ meta: result.value, metaKey: keys[i], path: [...path, result.value.name] });
    } else {
      errors.push(
        new WalkError(
          `Cannot read entry "${keys[i]}" of ${showPath(path)}: ${result.reason.message}`,
          path,
          { cause: result.reason },
        ),
      );
    }
  });
  return children.sort(compareEntries);
}

type Outcome = { ok: true; listing: Listing } | { ok: false; error: unknown };

/** A child in a listing; `dir` is set for directories the walk will enter. */
interface Child {
  entry: TreeEntry;
  dir?: DirLoad;
}

/** The (lazily started) read of one directory. */
class DirLoad {
  readonly entry: TreeEntry;
  readonly parent: DirLoad | undefined;
  started = false;
  outcome: Outcome | undefined;
  /** The children that are directories to enter, in walk order. */
  dirs: Child[] = [];
  #promise: Promise<Outcome> | undefined;

  constructor(entry: TreeEntry, parent: DirLoad | undefined) {
    this.entry = entry;
    this.parent = parent;
  }

  start(load: (dir: DirLoad) => Promise<Listing>, done: () => void): Promise<Outcome> {
    this.started = true;
    this.#promise ??= load(this).then(
      (listing): Outcome => ({ ok: true, listing }),
      (error): Outcome => ({ ok: false, error }),
    ).then((outcome) => {
      this.outcome = outcome;
      if (outcome.ok) this.dirs = outcome.listing.children.filter((c) => c.dir !== undefined);
      done();
      return outcome;
    });
    return this.#promise;
  }

  /** Lets go of the listing once the directory is walked (its parent's listing still names it). */
  release(): void {
    this.outcome = undefined;
    this.dirs = [];
    this.#promise = undefined;
  }
}

/** A directory being walked: its children and the next one to yield. */
interface Frame {
  children: Child[];
  index: number;
  /** How many of the children's directories were passed. */
  dirsPassed: number;
  load: DirLoad;
}

/**
 * Yields every node under `rootMetaKey` (the root first, with an empty
 * path), depth-first, children in name order.
 *
 * @throws the error reading the root meta; errors below it go to
 *   {@linkcode WalkOptions.onError}, or are thrown without it.
 */
export async function* walkTree(
  reader: TreeReader,
  rootMetaKey: string,
  options: WalkOptions = {},
): AsyncGenerator<TreeEntry, void, undefined> {
  const descend = options.descend ?? (() => true);
  const limit = Math.max(1, options.prefetch ?? 64);
  const scanLimit = limit * 4 + 64;
  const onError = options.onError ?? ((error: WalkError) => {
    throw error;
  });
  const root: TreeEntry = {
    meta: await reader.readMeta(rootMetaKey),
    metaKey: rootMetaKey,
    path: [],
  };
  yield root;
  if (root.meta.type !== "dir" || !descend(root)) return;

  const load = async (dir: DirLoad): Promise<Listing> => {
    const errors: WalkError[] = [];
    const entries = await readChildren(reader, dir.entry.meta.ref!, dir.entry.path, errors);
    const children = entries.map((entry): Child => {
      if (entry.meta.type !== "dir" || !descend(entry)) return { entry };
      for (let up: DirLoad | undefined = dir; up; up = up.parent) {
        if (up.entry.meta.ref === entry.meta.ref) {
          errors.push(
            new WalkError(
              `Cannot enter ${showPath(entry.path)}: it contains itself (${entry.meta.ref})`,
              dir.entry.path,
            ),
          );
          return { entry };
        }
      }
      return { entry, dir: new DirLoad(entry, dir) };
    });
    return { children, errors };
  };

  const stack: Frame[] = [];
  // Directories started but not yet entered: bounded by `limit`.
  let ahead = 0;
  const prefetch = (): void => {
    let scanned = 0;
    const visit = (dirs: Child[], from: number): boolean => {
      for (let i = from; i < dirs.length; i++) {
        if (ahead >= limit || ++scanned > scanLimit) return true;
        const dir = dirs[i].dir!;
        if (!dir.started) {
          ahead++;
          dir.start(load, prefetch);
        } else if (dir.outcome?.ok && visit(dir.dirs, 0)) {
          return true;
        }
      }
      return false;
    };
    for (let f = stack.length - 1; f >= 0; f--) {
      if (visit(stack[f].load.dirs, stack[f].dirsPassed)) return;
    }
  };
  const enter = async (dir: DirLoad): Promise<void> => {
    if (dir.started) ahead--;
    const outcome = await dir.start(load, prefetch);
    if (!outcome.ok) {
      onError(
        new WalkError(
          `Cannot read directory ${showPath(dir.entry.path)}: ${(outcome.error as Error).message}`,
          dir.entry.path,
          { cause: outcome.error },
        ),
      );
    } else {
      for (const error of outcome.listing.errors) onError(error);
    }
    stack.push({
      children: outcome.ok ? outcome.listing.children : [],
      index: 0,
      dirsPassed: 0,
      load: dir,
    });
    prefetch();
  };

  await enter(new DirLoad(root, undefined));
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.index >= top.children.length) {
      stack.pop()!.load.release();
      continue;
    }
    const child = top.children[top.index++];
    yield child.entry;
    if (child.dir) {
      top.dirsPassed++;
      await enter(child.dir);
    }
  }
}

/**
 * Finds the node at `path` (name components) under `rootMetaKey`. Among
 * children of equal names (only in crafted metadata) the first in walk
 * order is taken.
 *
 * @throws {NodeNotFoundError} when a component is missing or not a directory.
 */
export async function resolvePath(
  reader: TreeReader,
  rootMetaKey: string,
  path: readonly (string | Uint8Array)[],
): Promise<TreeNode> {
  let node: TreeNode = { meta: await reader.readMeta(rootMetaKey), metaKey: rootMetaKey };
  const walked: Uint8Array[] = [];
  for (const part of path) {
    const name = typeof part === "string" ? encoder.encode(part) : part;
    if (node.meta.type !== "dir") {
      throw new NodeNotFoundError(
        `Cannot find ${showPath([...walked, name])}: ${showPath(walked)} is not a directory`,
      );
    }
    const keys = await reader.readDir(node.meta.ref!);
    const metas = await Promise.all(keys.map((key) => reader.readMeta(key)));
    const matches = keys
      .map((metaKey, i) => ({ metaKey, meta: metas[i] }))
      .filter((c) => sameBytes(c.meta.name, name))
      .sort(compareEntries);
    walked.push(name);
    if (matches.length === 0) throw new NodeNotFoundError(`Cannot find ${showPath(walked)}`);
    node = matches[0];
  }
  return node;
}
