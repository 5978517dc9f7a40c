/**
 * Restoring a tree of a snapshot into a local directory.
 *
 * A directory root is restored *into* the target (its children become the
 * target's children; the target gets the root's attributes only when this
 * restore created it). Any other root (a file, a symlink) is restored as
 * `<target>/<its name>`. Missing parts of the target path are created.
 *
 * What is written:
 * - files: contents fetched chunk by chunk (several chunks and several files
 *   in flight; every chunk verified against its hash by the repository and
 *   against its listed size; the total against the meta's size), into a
 *   temporary name in the same directory, given their mode, mtime and owner,
 *   then moved to their name — an interrupted restore never leaves a partial
 *   file under a real name (only `.ddb-restore-*.tmp` files);
 * - files sharing a `links` id and content: hard links to the first;
 * - directories (merged with existing ones); their mode and mtime are set
 *   after their children, deepest first;
 * - symlinks with their target bytes and mtime; fifos (with `mkfifo`).
 *   Sockets and devices are skipped with a warning.
 * - owners (uid, gid) only when running as root.
 *
 * How it keeps the server and the disk busy: files are taken in batches (in
 * walk order, up to {@linkcode RestoreOptions.batch}); the chunk lists of a
 * batch are requested in one pipeline, then the single chunk of each small
 * file in another, so a batch costs a few round trips instead of two per
 * file. A directory's attributes are set by a task that waits for its
 * entries, while the walk goes on with the next directories. Memory stays
 * bounded: by the files in flight ({@linkcode RestoreOptions.concurrency}),
 * the byte budget of chunk data ({@linkcode RestoreOptions.memory}, which a
 * large file shares chunk by chunk) and the directories read ahead.
 *
 * Safety against crafted metadata (a snapshot is data from the server):
 * - a name that is empty, `.`, `..`, contains `/` or NUL, or is not valid
 *   UTF-8 (Deno's file APIs take strings) is an error; the entry and its
 *   subtree are skipped;
 * - a second entry of the same name in a directory is an error and skipped;
 * - every directory written into is one this restore created or found as a
 *   real directory (checked with `lstat`); a symlink in its place is never
 *   followed — without `overwrite` it is an error, with `overwrite` the
 *   symlink is replaced by a directory. So `x -> /etc` followed by a
 *   directory `x` cannot redirect writes out of the target;
 * - new files, symlinks and fifos never replace an existing entry unless
 *   `overwrite` is set; then they replace it atomically by `rename` (which
 *   replaces a symlink, never writes through it); a directory is never
 *   replaced by a non-directory.
 *
 * The checks guard against the snapshot's content, not against another
 * process changing the target directory at the same time.
 *
 * Errors are counted and reported through {@linkcode RestoreOptions.onError}
 * and the restore goes on; it throws only when it cannot start (bad target)
 * or cannot go on (the connection to the server is lost).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { lchown, lutimes, unlink } from "node:fs/promises";
import { IntegrityError, type PlacedChunk, type Repository } from "../repo/repository.ts";
import type { NodeMeta } from "../snapshot/schema.ts";
import { type TreeNode, walkTree } from "../snapshot/walk.ts";
import { copyChunks } from "./copy_chunks.ts";
import { FileWriter } from "./file_writer.ts";
import { SharedFetches } from "./shared_fetches.ts";
import { checkEntryName, displayPath, UnsafeNameError } from "./entry_name.ts";
import { Semaphore } from "../concurrency/semaphore.ts";

/** What a restore reads (a `Repository` has it). */
export type RestoreSource =
  & Pick<Repository, "readMeta" | "readDir" | "readContent" | "getBlob">
  & Partial<Pick<Repository, "readMetas">>;

/** Options of {@linkcode restore}. */
export interface RestoreOptions {
  /**
   * When given, only entries for which it (or any ancestor) returns true are
   * restored, with the directories leading to them. `path` is relative to
   * the restore root, `/`-separated (`dir/file`). Called for every entry
   * that is not excluded, possibly more than once; should be pure.
   */
  include?: (path: string, meta: NodeMeta) => boolean;
  /** Entries for which it returns true are skipped with their subtree. Should be pure. */
  exclude?: (path: string, meta: NodeMeta) => boolean;
  /** Replace existing files, symlinks and fifos (atomically). Default: an existing one is an error. */
  overwrite?: boolean;
  /** Re-read every written file and check each chunk's hash before moving it into place. */
  verify?: boolean;
  /** Called after each restored entry with the running totals. */
  onProgress?: (stats: Readonly<RestoreStats>) => void;
  /** Called for things skipped on purpose (sockets, devices). */
  onWarning?: (issue: RestoreIssue) => void;
  /** Called for each error (each counts in {@linkcode RestoreStats.errors}). */
  onError?: (issue: RestoreIssue) => void;
  /**
   * Files (and symlinks, fifos) restored at once (default 256); a small
   * file in flight holds at most its bytes, within `memory`.
   */
  concurrency?: number;
  /** Files of several chunks (each an open file and a window of chunks) restored at once (default 16). */
  largeConcurrency?: number;
  /** Files whose chunk lists and small contents are requested together (default 64). */
  batch?: number;
  /** Chunks requested ahead within a file (default 8). */
  chunkWindow?: number;
  /**
   * Bytes of chunk data held in memory at most, across files (default 64 MiB;
   * up to 16 MiB more of recent chunks are kept for files sharing them).
   */
  memory?: number;
  /** Directories of the snapshot read ahead (default 256). */
  prefetch?: number;
}

/** Totals of a restore. */
export interface RestoreStats {
  /** Files written (hard links included). */
  files: number;
  /** Directories created or merged (the target not counted). */
  dirs: number;
  /** Symlinks created. */
  symlinks: number;
  /** Fifos created. */
  specials: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Warnings (entries skipped on purpose). */
  warnings: number;
  /** Errors: entries not restored, or restored without all their attributes. */
  errors: number;
}

/** An error or warning about one entry. */
export interface RestoreIssue {
  /** The entry's path relative to the target (names escaped for display). */
  path: string;
  /** A sentence for the user, naming the path. */
  message: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/** The restore cannot start (for example, the target is not a directory). */
export class RestoreError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RestoreError";
  }
}

/** A failure of one entry, with a message for the user. */
class EntryError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EntryError";
  }
}

/** A directory on the way down: the target itself, or one of the snapshot. */
interface DirFrame {
  /** Components from the target (0: the target). */
  depth: number;
  /** Absolute path. */
  abs: string;
  /** Path relative to the target ("" for the target; kept only with filters). */
  rel: string;
  /** Names from the target, for messages. */
  path: readonly Uint8Array[];
  /** Its metadata (none for the target of a non-directory root). */
  meta?: NodeMeta;
  /** Not created yet / created or found as a real directory / could not be. */
  state: "pending" | "ready" | "failed";
  /** Whether the include filter selected it or an ancestor. */
  included: boolean;
  /** Whether to set its attributes when done. */
  applyMeta: boolean;
  /** Work on its entries still running (files, links, subdirectories being finished). */
  tasks: Set<Promise<void>>;
  /** The batch whose completion is in `tasks` already (one entry per batch). */
  batch?: Batch;
  /**
   * Whether this restore created it (mode 0700 until its children are done):
   * nothing else is expected in it, which allows a cheaper path per file
   * (no existence checks, attributes set at creation, a plain rename) and
   * per subdirectory (a plain mkdir).
   */
  fresh: boolean;
  /** The previous child's name (children come sorted: duplicates are adjacent). */
  lastName?: Uint8Array;
}

/** A file waiting in a batch. */
interface FileJob {
  parent: DirFrame;
  /** Its checked name. */
  name: string;
  meta: NodeMeta;
  /** Names from the target, for messages. */
  path: readonly Uint8Array[];
}

/** Files whose chunk lists and small contents are requested together. */
interface Batch {
  jobs: FileJob[];
  /** Resolves when every job of the batch is done (never rejects). */
  done: Promise<void>;
  resolve: () => void;
}

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function lstatOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function describe(info: Deno.FileInfo): string {
  return info.isSymlink ? "a symlink" : info.isFile ? "a file" : "not a directory";
}

/**
 * Temporary names: a random prefix per restore and a counter, so that a
 * name is unguessable by others yet costs no random bytes per file. Created
 * with `createNew` (O_EXCL), so an entry already there is never reused.
 */
function tempNames(): () => string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  const prefix = `.ddb-restore-${
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")
  }-`;
  let counter = 0;
  return () => `${prefix}${(counter++).toString(36)}.tmp`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function mtimeOf(meta: NodeMeta): Date {
  // A Date, not float seconds: Deno truncates float seconds to the ms below
  // (…06.789 would become …06.788).
  return new Date(Number(meta.mtimeNs / 1_000_000n));
}

/** Sets owner (if `chown`), mode and mtime of `path` without following a symlink there. */
async function setAttributes(path: string, meta: NodeMeta, chown: boolean): Promise<void> {
  if (chown) {
    try {
      await lchown(path, meta.uid, meta.gid);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== "EPERM" && code !== "EINVAL") throw error;
    }
  }
  // Linux has no lchmod: a symlink's mode is always 0777.
  if (meta.type !== "symlink") await Deno.chmod(path, meta.mode);
  const time = mtimeOf(meta);
  await lutimes(path, time, time);
}

/** Creates the target if missing; its real absolute path and whether it was created. */
async function prepareTarget(target: string): Promise<{ abs: string; created: boolean }> {
  let created = false;
  try {
    const info = await lstatOrUndefined(target);
    if (info === undefined) {
      await Deno.mkdir(target, { recursive: true });
      created = true;
    }
    const abs = await Deno.realPath(target);
    if (!(await Deno.stat(abs)).isDirectory) {
      throw new RestoreError(`Cannot restore to "${target}": it is not a directory`);
    }
    return { abs, created };
  } catch (cause) {
    if (cause instanceof RestoreError) throw cause;
    throw new RestoreError(`Cannot restore to "${target}": ${errorText(cause)}`, { cause });
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Restores the tree at `root` into `target` (see the module documentation).
 *
 * @returns the totals; `errors` > 0 means the target is not a full copy.
 * @throws {RestoreError} when the target cannot be used; the connection's
 *   errors when the server cannot be reached any more.
 */
export async function restore(
  source: RestoreSource,
  root: TreeNode,
  target: string,
  options: RestoreOptions = {},
): Promise<RestoreStats> {
  const { include, exclude, overwrite = false, verify = false } = options;
  const filtered = include !== undefined || exclude !== undefined;
  const stats: RestoreStats = {
    files: 0,
    dirs: 0,
    symlinks: 0,
    specials: 0,
    bytes: 0,
    warnings: 0,
    errors: 0,
  };
  const progress = () => options.onProgress?.(stats);
  const report = (display: string, message: string, cause?: unknown) => {
    stats.errors++;
    options.onError?.({ path: display, message, cause });
  };
  const reportEntry = (path: readonly Uint8Array[], error: unknown) => {
    const display = displayPath(path);
    report(
      display,
      error instanceof EntryError
        ? error.message
        : `Cannot restore "${display}": ${errorText(error)}`,
      error,
    );
  };
  const warn = (display: string, message: string) => {
    stats.warnings++;
    options.onWarning?.({ path: display, message });
  };
  const files = new Semaphore(Math.max(1, options.concurrency ?? 256));
  const largeFiles = new Semaphore(Math.max(1, options.largeConcurrency ?? 16));
  const batchSize = Math.max(1, options.batch ?? 64);
  const budget = new Semaphore(Math.max(1, options.memory ?? 64 * 1024 * 1024));
  const chunkWindow = options.chunkWindow ?? 8;
  const chown = Deno.uid() === 0;
  const ownUid = Deno.uid();
  const ownGid = Deno.gid();
  const umask = Deno.umask();
  const tempName = tempNames();
  // Files of several chunks share downloads (a file and its near copy side
  // by side); the recent ones kept add at most this much to the budget.
  const shared = new SharedFetches(source, 16 * 1024 * 1024);
  const writer = new FileWriter();
  /** First restored file of each `links` id. */
  const links = new Map<string, { abs: string; ref: string; done: Promise<boolean> }>();

  const base = await prepareTarget(target);
  const rootIsDir = root.meta.type === "dir";
  const stack: DirFrame[] = [{
    depth: 0,
    abs: base.abs,
    rel: "",
    path: [],
    meta: rootIsDir ? root.meta : undefined,
    state: "ready",
    included: include === undefined,
    applyMeta: base.created,
    tasks: new Set(),
    fresh: base.created,
  }];

  /** Runs `task` as work of `frame` (its attributes wait for it). */
  const track = (frame: DirFrame, task: Promise<void>): void => {
    const tracked = task.finally(() => frame.tasks.delete(tracked));
    frame.tasks.add(tracked);
  };

  /** Creates or checks the directory of `frame`, whose parent is ready. */
  const makeDir = async (frame: DirFrame, parent: DirFrame): Promise<void> => {
    const display = () => displayPath(frame.path);
    if (parent.fresh) {
      // In a directory this restore made, nothing is in the way (duplicate
      // names were refused), and mkdir never follows a symlink. Synchronous:
      // one cheap call, where an await could cost a turn of a busy loop.
      try {
        Deno.mkdirSync(frame.abs, { mode: 0o700 });
        frame.fresh = true;
        frame.state = "ready";
        stats.dirs++;
        progress();
        return;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
    }
    let info = await lstatOrUndefined(frame.abs);
    if (info !== undefined && !info.isDirectory) {
      if (!overwrite) {
        throw new EntryError(
          `Cannot restore directory "${display()}": ${describe(info)} is in its place` +
            (info.isSymlink ? " (not followed)" : ""),
        );
      }
      await unlink(frame.abs);
      info = undefined;
    }
    if (info === undefined) {
      try {
        await Deno.mkdir(frame.abs, { mode: 0o700 });
        frame.fresh = true;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      info = await Deno.lstat(frame.abs);
      if (!info.isDirectory) {
        throw new EntryError(`Cannot restore directory "${display()}": it changed meanwhile`);
      }
    }
    frame.state = "ready";
    stats.dirs++;
    progress();
  };

  /** Makes every pending directory on the stack; false when one fails. */
  const materialize = async (): Promise<boolean> => {
    // A frame is made only after its parent: a ready top means all are.
    if (stack[stack.length - 1].state === "ready") return true;
    for (let i = 1; i < stack.length; i++) {
      const frame = stack[i];
      if (frame.state === "ready") continue;
      if (frame.state === "failed") return false;
      try {
        await makeDir(frame, stack[i - 1]);
      } catch (error) {
        frame.state = "failed";
        const display = displayPath(frame.path);
        report(
          display,
          error instanceof EntryError
            ? error.message
            : `Cannot restore directory "${display}": ${errorText(error)}`,
          error,
        );
        return false;
      }
    }
    return true;
  };

  /** Waits for a directory's entries, then sets its attributes. */
  const finish = async (frame: DirFrame): Promise<void> => {
    while (frame.tasks.size > 0) await Promise.all(frame.tasks);
    const meta = frame.meta;
    if (frame.state !== "ready" || meta === undefined || !frame.applyMeta) return;
    try {
      if (frame.fresh && (!chown || (meta.uid === ownUid && meta.gid === ownGid))) {
        // Made by this restore (so ours, and a real directory): its mode and
        // times on the writer's thread, after the files it wrote there.
        await writer.setAttributes({
          path: frame.abs,
          mode: meta.mode,
          mtimeMs: Number(meta.mtimeNs / 1_000_000n),
        });
      } else {
        await setAttributes(frame.abs, meta, chown);
      }
    } catch (error) {
      const display = displayPath(frame.path) || ".";
      report(
        display,
        `Cannot set the attributes of directory "${display}": ${errorText(error)}`,
        error,
      );
    }
  };

  /** Moves a finished temporary entry to its name. */
  const commit = async (
    tmp: string,
    abs: string,
    path: readonly Uint8Array[],
    fresh = false,
  ): Promise<void> => {
    const exists = () =>
      new EntryError(`Cannot restore "${displayPath(path)}": it exists (not overwritten)`);
    if (fresh) {
      // A directory this restore made: only its own entries are in it, and
      // duplicate names were refused before.
      await Deno.rename(tmp, abs);
      return;
    }
    if (overwrite) {
      const info = await lstatOrUndefined(abs);
      if (info?.isDirectory) {
        throw new EntryError(`Cannot restore "${displayPath(path)}": a directory is in its place`);
      }
      await Deno.rename(tmp, abs);
      return;
    }
    try {
      // link() fails if the name exists (even as a dangling symlink): no race with a check.
      await Deno.link(tmp, abs);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) throw exists();
      // A file system without hard links.
      if (await lstatOrUndefined(abs) !== undefined) throw exists();
      await Deno.rename(tmp, abs);
      return;
    }
    await Deno.remove(tmp);
  };

  /**
   * Calls `use` with the bytes of a file of at most one chunk: `blob` when
   * the batch requested it already (and holds its budget), else fetched
   * here within the budget.
   */
  const withSmallContent = async (
    chunks: readonly PlacedChunk[],
    blob: Promise<Uint8Array> | undefined,
    use: (data: Uint8Array) => Promise<void>,
  ): Promise<void> => {
    if (chunks.length === 0) return await use(EMPTY);
    const { id, size } = chunks[0];
    const held = blob === undefined ? size : 0;
    if (held > 0) await budget.acquire(held);
    try {
      const data = await (blob ?? source.getBlob(id, size));
      if (data.length !== size) {
        throw new IntegrityError(
          `Cannot use chunk ${id}: it has ${data.length} bytes, the content list says ${size}`,
        );
      }
      await use(data);
    } finally {
      if (held > 0) budget.release(held);
    }
  };

  /** Writes a file's content to `tmp` (verifying it if asked). */
  const writeContent = async (
    tmp: string,
    job: FileJob,
    chunks: readonly PlacedChunk[],
    blob: Promise<Uint8Array> | undefined,
  ): Promise<void> => {
    if (chunks.length <= 1 && !verify) {
      // A small file (one chunk): one writeFile (create, write, close on the
      // thread pool) instead of three calls.
      await withSmallContent(chunks, blob, async (data) => {
        await Deno.writeFile(tmp, data, { createNew: true, mode: 0o600 });
      });
      return;
    }
    await largeFiles.acquire();
    try {
      using file = await Deno.open(tmp, {
        read: true,
        write: true,
        createNew: true,
        mode: 0o600,
      });
      await copyChunks(shared, chunks, async (data) => {
        for (let at = 0; at < data.length;) at += await file.write(data.subarray(at));
      }, { window: chunkWindow, budget });
      if (verify) {
        await file.seek(0, Deno.SeekMode.Start);
        for (const chunk of chunks) {
          const data = new Uint8Array(chunk.size);
          for (let at = 0; at < data.length;) {
            const n = await file.read(data.subarray(at));
            if (n === null) break;
            at += n;
          }
          if (createHash("sha256").update(data).digest("hex") !== chunk.id) {
            throw new EntryError(
              `Cannot restore "${displayPath(job.path)}": verifying failed, the bytes written at ${
                chunk.end - chunk.size
              } differ from chunk ${chunk.id}`,
            );
          }
        }
      }
    } finally {
      largeFiles.release();
    }
  };

  /**
   * Restores one file from its chunk list (as read by its batch); never
   * rejects (errors are reported).
   */
  const restoreFile = async (
    job: FileJob,
    list: PromiseSettledResult<PlacedChunk[]>,
    blob: Promise<Uint8Array> | undefined,
  ): Promise<void> => {
    const { parent, name, meta, path } = job;
    const abs = `${parent.abs}/${name}`;
    const tmp = `${parent.abs}/${tempName()}`;
    let link: { resolve(ok: boolean): void } | undefined;
    const fresh = parent.fresh;
    try {
      if (!fresh && !overwrite && await lstatOrUndefined(abs) !== undefined) {
        throw new EntryError(`Cannot restore "${displayPath(path)}": it exists (not overwritten)`);
      }
      if (meta.links !== undefined) {
        const first = links.get(meta.links);
        if (first !== undefined && first.ref === meta.ref && await first.done) {
          await Deno.link(first.abs, tmp);
          await commit(tmp, abs, path, fresh);
          stats.files++;
          return;
        }
        if (first === undefined) {
          const { promise, resolve } = Promise.withResolvers<boolean>();
          links.set(meta.links, { abs, ref: meta.ref!, done: promise });
          link = { resolve };
        }
      }
      if (list.status === "rejected") throw list.reason;
      const chunks = list.value;
      const total = chunks.at(-1)?.end ?? 0;
      if (total !== meta.size) {
        throw new EntryError(
          `Cannot restore "${
            displayPath(path)
          }": its content has ${total} bytes, its meta says ${meta.size}`,
        );
      }
      if (
        fresh && chunks.length <= 1 && !verify && (meta.mode & ~0o777) === 0 &&
        (meta.mode & umask) === 0 && (!chown || (meta.uid === ownUid && meta.gid === ownGid))
      ) {
        // A small plain file in a directory this restore made: it gets its
        // mode at creation (the umask keeps every bit), is ours already, and
        // its creation, times and rename are done on the writer's thread.
        await withSmallContent(chunks, blob, (data) =>
          writer.write({
            tmp,
            path: abs,
            data,
            mode: meta.mode,
            mtimeMs: Number(meta.mtimeNs / 1_000_000n),
          }));
      } else {
        await writeContent(tmp, job, chunks, blob);
        await setAttributes(tmp, meta, chown);
        await commit(tmp, abs, path, fresh);
      }
      stats.files++;
      stats.bytes += meta.size;
      link?.resolve(true);
    } catch (error) {
      link?.resolve(false);
      await Deno.remove(tmp).catch(() => {});
      reportEntry(path, error);
    } finally {
      progress();
    }
  };

  /**
   * Restores the files of a batch: their chunk lists are requested in one
   * pipeline, then the single chunks of the small ones in another (as the
   * byte budget allows), so a batch costs a few round trips, not two per
   * file. Each job holds a slot of `files`, given back when it is done.
   */
  const runBatch = async (jobs: readonly FileJob[]): Promise<void> => {
    const lists = await Promise.allSettled(
      jobs.map((job) => source.readContent(job.meta.ref!, job.meta.size)),
    );
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i];
      const list = lists[i];
      let blob: Promise<Uint8Array> | undefined;
      let weight = 0;
      if (
        !verify && list.status === "fulfilled" && list.value.length === 1 &&
        list.value[0].end === job.meta.size && job.meta.links === undefined
      ) {
        // Requested now, in the same turn as the others of the batch. The
        // files before it release their bytes without waiting for anything,
        // so waiting here for budget cannot deadlock.
        weight = list.value[0].size;
        if (!budget.tryAcquire(weight)) await budget.acquire(weight);
        blob = source.getBlob(list.value[0].id, weight);
        blob.catch(() => {});
      }
      // The file's slot, and the budget of its blob once that has settled too
      // (restoreFile reports its own errors; a blob's failure is its error).
      const release = () => {
        if (weight > 0) budget.release(weight);
        files.release();
      };
      const fail = (error: unknown) => {
        release();
        throw error;
      };
      const task = restoreFile(job, list, blob);
      const fetched = blob;
      tasks.push(
        fetched === undefined
          ? task.then(release, fail)
          : task.then(() => fetched.then(release, release), fail),
      );
    }
    await Promise.all(tasks);
  };

  let batch: Batch | undefined;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Batches started and not done. */
  let running = 0;
  /** Whether the walk waits for a slot of `files` (freed by running batches). */
  let waitingForSlot = false;
  /** Starts the pending batch. */
  const flush = (): void => {
    if (flushTimer !== undefined) {
      clearTimeout(flushTimer);
      flushTimer = undefined;
    }
    const ready = batch;
    if (ready === undefined) return;
    batch = undefined;
    running++;
    runBatch(ready.jobs).then(ready.resolve, (error) => {
      // Not expected (each file reports its own errors): do not hang on it.
      report(".", `Cannot restore: ${errorText(error)}`, error);
      ready.resolve();
    }).finally(() => running--);
  };
  /**
   * When the walk waits for the server before the batch is full, the batch
   * goes anyway; not while it only waits for running batches to free slots
   * (it goes on filling the batch then).
   */
  const armFlushTimer = (): void => {
    flushTimer ??= setTimeout(() => {
      flushTimer = undefined;
      if (!(waitingForSlot && running > 0)) flush();
    }, 0);
  };
  /** Adds a file to the pending batch (its caller holds a slot of `files`). */
  const enqueue = (job: FileJob): void => {
    if (batch === undefined) {
      const { promise, resolve } = Promise.withResolvers<void>();
      batch = { jobs: [], done: promise, resolve };
      armFlushTimer();
    }
    batch.jobs.push(job);
    if (job.parent.batch !== batch) {
      job.parent.batch = batch;
      track(job.parent, batch.done);
    }
    if (batch.jobs.length >= batchSize) flush();
  };
  /**
   * A slot of `files`. Slots are freed by running batches; with none
   * running, the pending batch is started before waiting.
   */
  const fileSlot = async (): Promise<void> => {
    if (files.tryAcquire()) return;
    if (running === 0) flush();
    waitingForSlot = true;
    await files.acquire();
    waitingForSlot = false;
    if (batch !== undefined) armFlushTimer();
  };

  /**
   * Creates an entry with `make` at a temp name beside `abs`, sets its
   * attributes and moves it into place; the temp entry is removed on failure.
   */
  const placeViaTemp = async (
    parent: DirFrame,
    abs: string,
    meta: NodeMeta,
    path: readonly Uint8Array[],
    make: (tmp: string) => Promise<void>,
  ) => {
    const tmp = `${parent.abs}/${tempName()}`;
    try {
      await make(tmp);
      await setAttributes(tmp, meta, chown);
      await commit(tmp, abs, path);
    } catch (error) {
      await Deno.remove(tmp).catch(() => {});
      throw error;
    }
  };

  /** Restores a symlink or fifo; errors are thrown. */
  const restoreOther = async (
    parent: DirFrame,
    name: string,
    meta: NodeMeta,
    path: readonly Uint8Array[],
  ) => {
    const abs = `${parent.abs}/${name}`;
    if (meta.type === "symlink") {
      let linkTarget: string;
      try {
        linkTarget = strict.decode(meta.target ?? EMPTY);
      } catch (cause) {
        throw new EntryError(
          `Cannot restore "${displayPath(path)}": its target is not valid UTF-8`,
          { cause },
        );
      }
      if (linkTarget === "" || linkTarget.includes("\0")) {
        throw new EntryError(
          `Cannot restore "${displayPath(path)}": its target is empty or contains NUL`,
        );
      }
      if (!overwrite) {
        try {
          await Deno.symlink(linkTarget, abs);
        } catch (error) {
          if (error instanceof Deno.errors.AlreadyExists) {
            throw new EntryError(
              `Cannot restore "${displayPath(path)}": it exists (not overwritten)`,
            );
          }
          throw error;
        }
        await setAttributes(abs, meta, chown);
      } else {
        await placeViaTemp(parent, abs, meta, path, (tmp) => Deno.symlink(linkTarget, tmp));
      }
      stats.symlinks++;
      return;
    }
    // A fifo.
    await placeViaTemp(parent, abs, meta, path, async (tmp) => {
      const made = await new Deno.Command("mkfifo", {
        args: ["-m", "600", "--", tmp],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!made.success) throw new Error(new TextDecoder().decode(made.stderr).trim());
    });
    stats.specials++;
  };

  const pathText = (path: readonly Uint8Array[]): string | undefined => {
    try {
      return path.map(checkEntryName).join("/");
    } catch {
      return undefined;
    }
  };
  const walk = walkTree(source, root.metaKey, {
    // Deep: while large files keep the server busy, a round trip can take
    // long, and small files wait for the walk.
    prefetch: options.prefetch ?? 256,
    descend: (entry) => {
      if (entry.path.length === 0) return true;
      const rel = pathText(entry.path);
      return rel !== undefined && !(exclude?.(rel, entry.meta) ?? false);
    },
    onError: (error) => {
      const shown = displayPath(error.path) || ".";
      report(shown, error.message, error);
    },
  });

  /** Leaves the top directory: its attributes are set once its entries are done. */
  const leave = (): void => {
    const frame = stack.pop()!;
    track(stack[stack.length - 1], finish(frame));
  };

  /** Entries deeper than this are skipped (the subtree of a skipped directory). */
  let skipBelow: number | undefined;
  try {
    for await (const entry of walk) {
      const path = rootIsDir ? entry.path : [entry.meta.name];
      const depth = path.length;
      if (depth === 0) continue;
      while (stack[stack.length - 1].depth >= depth) leave();
      if (skipBelow !== undefined) {
        if (depth > skipBelow) continue;
        skipBelow = undefined;
      }
      const parent = stack[stack.length - 1];
      const meta = entry.meta;
      if (parent.lastName !== undefined && sameBytes(parent.lastName, meta.name)) {
        const display = displayPath(path);
        report(
          display,
          `Cannot restore "${display}": its directory has another entry of this name`,
        );
        skipBelow = depth;
        continue;
      }
      parent.lastName = meta.name;
      let name: string;
      try {
        name = checkEntryName(meta.name);
      } catch (error) {
        const reason = error instanceof UnsafeNameError
          ? `unsafe name, ${error.reason}`
          : errorText(error);
        const display = displayPath(path);
        report(display, `Cannot restore "${display}": ${reason}`, error);
        skipBelow = depth;
        continue;
      }
      const rel = !filtered ? "" : parent.rel === "" ? name : `${parent.rel}/${name}`;
      if (exclude?.(rel, meta)) {
        skipBelow = depth;
        continue;
      }
      const included = parent.included || (include?.(rel, meta) ?? true);
      if (meta.type === "dir") {
        stack.push({
          depth,
          abs: `${parent.abs}/${name}`,
          rel,
          path,
          meta,
          state: "pending",
          included,
          applyMeta: true,
          tasks: new Set(),
          fresh: false,
        });
        if (included && !(await materialize())) skipBelow = depth;
        continue;
      }
      if (!included) continue;
      if (!(await materialize())) {
        skipBelow = stack.find((f) => f.state === "failed")!.depth;
        continue;
      }
      if (meta.type === "file") {
        await fileSlot();
        enqueue({ parent, name, meta, path });
      } else if (meta.type === "symlink" || meta.type === "fifo") {
        await fileSlot();
        track(
          parent,
          restoreOther(parent, name, meta, path)
            .catch((error) => reportEntry(path, error))
            .finally(() => {
              files.release();
              progress();
            }),
        );
      } else {
        const display = displayPath(path);
        warn(display, `Skipped "${display}": cannot restore a ${meta.type}`);
      }
    }
  } finally {
    flush();
    while (stack.length > 1) leave();
    await finish(stack[0]);
    writer.close();
  }
  return stats;
}
