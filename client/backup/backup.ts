/**
 * The backup engine: walks one path, chunks files with the content-defined
 * chunker, uploads only the chunks the server lacks, writes the metadata
 * (client/snapshot/schema.ts) and finally commits the snapshot in one
 * durable transaction — a backup stopped at any moment leaves no snapshot,
 * and the next run uploads only what is still missing.
 *
 * Ports (file system, repository, cache, clock, reporting) are parameters.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename } from "node:path";
import { chunkBuffer, chunkStream } from "../chunker/mod.ts";
import { type ChunkerParams, DEFAULT_PARAMS } from "../chunker/params.ts";
import {
  type ChunkRef,
  contentRefOf,
  dirKeyOf,
  metaFields,
  metaKeyOfFields,
  type NodeMeta,
  type Snapshot,
} from "../snapshot/schema.ts";
import type { SourceFs, SourceStat } from "./source_fs.ts";
import { READ_ALONG_SLAB_BYTES, type ScanOptions } from "./dir_scanner.ts";
import { Semaphore } from "../concurrency/semaphore.ts";
import { ExistsBatcher } from "./exists_batcher.ts";
import { VERSION } from "../../version.ts";

/** The repository operations a backup needs (implemented by Repository). */
export interface BackupRepository {
  /** For each id, whether the server has the blob. */
  hasBlobs(ids: readonly string[]): Promise<boolean[]>;
  /** Uploads a blob with a known id. */
  putBlob(id: string, data: Uint8Array): Promise<void>;
  /** Writes a file's chunk list. */
  writeContent(key: string, chunks: readonly ChunkRef[]): Promise<unknown>;
  /** Writes a meta hash. */
  writeMeta(key: string, fields: ReadonlyMap<string, Uint8Array>): Promise<unknown>;
  /** Writes a directory set. */
  writeDir(key: string, members: readonly string[]): Promise<unknown> | undefined;
  /** Commits a snapshot; returns its key. */
  commitSnapshot(snapshot: Snapshot): Promise<string>;
}

/** What the cache remembers of a file. */
export interface CachedFile {
  /** `c:<K>`. */
  contentKey: string;
  /** Number of chunks. */
  chunks: number;
  /** Content size. */
  size: number;
  /** The meta key written for it last time. */
  metaKey?: string;
}

/** The incremental cache as the engine uses it. */
export interface BackupCache {
  /** The cached content of `path` if its stat is unchanged. */
  lookup(path: string, stat: SourceStat): CachedFile | undefined;
  /** Remembers the content of `path` for the next run. */
  record(path: string, stat: SourceStat, entry: CachedFile): void;
  /** True when no lookup can hit (nothing committed yet): every file will be read. */
  readonly empty?: boolean;
}

/** Counters of a backup, reported while it runs and at the end. */
export interface BackupStats {
  /** Files backed up. */
  files: number;
  /** Directories backed up. */
  dirs: number;
  /** Other entries (symlinks, fifos, …). */
  others: number;
  /** Logical bytes of files. */
  bytes: number;
  /** Bytes read from files (cache misses). */
  bytesRead: number;
  /** Files whose content came from the cache, unread. */
  filesUnchanged: number;
  /** Chunks uploaded. */
  newChunks: number;
  /** Bytes uploaded. */
  newBytes: number;
  /** Entries that could not be read (skipped). */
  errors: number;
}

/** Options of one backup. */
export interface BackupOptions {
  /** Absolute path to back up. */
  path: string;
  /** Host name recorded in the snapshot. */
  host: string;
  /** Tags recorded in the snapshot. */
  tags: string[];
  /**
   * Whether an absolute path should be left out. Leave it undefined when
   * nothing is excluded: only then are small files read along with their
   * directory's scan (the scan cannot tell an excluded file).
   */
  exclude?: (path: string, isDir: boolean) => boolean;
  /** Stay on the file system of `path`. */
  oneFileSystem?: boolean;
  /** Read and compare, but write nothing. */
  dryRun?: boolean;
  /** Files read at once. */
  fileConcurrency?: number;
  /** Bytes of chunks held between reading and uploading, at most (32 MiB; chunks weigh at least 256 KiB). */
  memoryBudget?: number;
  /** Chunker parameters (tests use small ones). */
  chunkParams?: Readonly<ChunkerParams>;
}

/** The ports a backup works through. */
export interface BackupPorts {
  /** The file system to read. */
  fs: SourceFs;
  /** The repository to write. */
  repo: BackupRepository;
  /** The incremental cache, if any. */
  cache?: BackupCache;
  /** The clock. */
  now: () => Date;
  /** Called often with the counters so far and the current path. */
  progress?: (stats: BackupStats, currentPath: string) => void;
  /** Called for each entry that could not be read. */
  warn?: (path: string, message: string) => void;
}

/** The outcome of a backup. */
export interface BackupResult {
  /** The committed snapshot's key (undefined for a dry run). */
  snapshotKey?: string;
  /** The snapshot record. */
  snapshot: Snapshot;
  /** Counters. */
  stats: BackupStats;
}

/**
 * An entry of the source could not be read. The backup skips it, reports it
 * and goes on; any other error (the server, the network) stops the backup.
 */
export class SourceReadError extends Error {
  /** The path that could not be read. */
  readonly path: string;
  /** Builds the error for `path`. */
  constructor(path: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "SourceReadError";
    this.path = path;
  }
}

async function reading<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw error instanceof SourceReadError ? error : new SourceReadError(path, error);
  }
}

async function* readingStream(
  path: string,
  stream: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const piece of stream) yield piece;
  } catch (error) {
    throw new SourceReadError(path, error);
  }
}

/** Files up to this size are read in one call instead of streamed. */
const SMALL_FILE = 4 * 1024 * 1024;
/** Entries of one directory stat'ed or worked on at once. */
const CHILDREN_AT_ONCE = 32;
/** Directories worked on in parallel with their parents, in the whole run. */
const DIRS_IN_PARALLEL = 8;

/** `fn` over `items` with at most `limit` calls running; results in order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * The least weight a chunk takes of the memory budget. Small chunks weigh
 * more than their bytes so that the budget also bounds how many chunks (and
 * files, with their promises and buffers) wait for the server at once: at
 * most 512 in the 32 MiB budget. With small files the server's round trips
 * set the pace, so enough of them must be in flight to fill its packs and
 * group commits: 128 (a 256 KiB weight) left both processes idle a third of
 * the time; 512 and 1,024 were both 10–15% faster, and 1,024 took the
 * client's peak RSS over 300 MiB (316) where 512 stays under 280 (session 4).
 */
const MIN_CHUNK_WEIGHT = 64 * 1024;

function budgetWeight(bytes: number): number {
  return Math.max(bytes, MIN_CHUNK_WEIGHT);
}

/** Chunks checked with one BMULTIEXISTS at most. */
const CHECK_BATCH = 32;
/** Chunk ids remembered as present on the server, at most. */
const KNOWN_LIMIT = 500_000;

const encoder = new TextEncoder();

/** Backs up one path and commits its snapshot. */
export async function backup(options: BackupOptions, ports: BackupPorts): Promise<BackupResult> {
  const run = new BackupRun(options, ports);
  return await run.run();
}

interface NodeResult {
  key: string;
  size: number;
}

class BackupRun {
  readonly stats: BackupStats = {
    files: 0,
    dirs: 0,
    others: 0,
    bytes: 0,
    bytesRead: 0,
    filesUnchanged: 0,
    newChunks: 0,
    newBytes: 0,
    errors: 0,
  };
  readonly #options: BackupOptions;
  readonly #ports: BackupPorts;
  readonly #files: Semaphore;
  readonly #stats = new Semaphore(64);
  /** Subdirectories worked on in parallel with their parent, at most (see #dir). */
  readonly #dirTokens = new Semaphore(DIRS_IN_PARALLEL);
  readonly #budget: Semaphore;
  readonly #params: Readonly<ChunkerParams>;
  #known = new Set<string>();
  readonly #exists: ExistsBatcher;
  /**
   * Scans read small files along, as much as the scanner takes per directory
   * (see {@linkcode ScanOptions.readUpTo}). Read on the scan worker, a small
   * file costs the main thread no call of its own, each of which wakes a
   * thread of the runtime's pool and waits for it (measured: ~13 µs of
   * main-thread time per file when the data is cached).
   */
  readonly #readAlong: boolean;
  readonly #uploads = new Map<string, Promise<void>>();
  readonly #writes: Promise<unknown>[] = [];
  #rootDev = 0;

  constructor(options: BackupOptions, ports: BackupPorts) {
    this.#options = options;
    this.#ports = ports;
    this.#files = new Semaphore(options.fileConcurrency ?? 32);
    this.#budget = new Semaphore(options.memoryBudget ?? 32 * 1024 * 1024);
    this.#params = options.chunkParams ?? DEFAULT_PARAMS;
    this.#exists = new ExistsBatcher((ids) => ports.repo.hasBlobs(ids));
    // Only when no file can come from the cache (an unchanged run reads no
    // contents) and nothing is excluded (the worker cannot tell, and an
    // excluded file is never opened).
    this.#readAlong = options.exclude === undefined &&
      (ports.cache === undefined || ports.cache.empty === true);
  }

  async run(): Promise<BackupResult> {
    const { path } = this.#options;
    const startedAt = this.#ports.now();
    const stat = await this.#ports.fs.lstat(path);
    this.#rootDev = stat.dev;
    const name = path === "/" ? "/" : basename(path);
    const root = await this.#node(path, name, stat);
    if (root === undefined) throw new Error(`Cannot back up "${path}": it could not be read`);
    await this.#flushWrites();
    const snapshot: Snapshot = {
      ref: root.key,
      host: this.#options.host,
      path,
      timeUs: BigInt(startedAt.getTime()) * 1000n,
      tags: this.#options.tags,
      files: this.stats.files,
      dirs: this.stats.dirs,
      bytes: this.stats.bytes,
      newBytes: this.stats.newBytes,
      newChunks: this.stats.newChunks,
      errors: this.stats.errors,
      client: VERSION,
    };
    if (this.#options.dryRun) return { snapshot, stats: this.stats };
    const snapshotKey = await this.#ports.repo.commitSnapshot(snapshot);
    return { snapshotKey, snapshot, stats: this.stats };
  }

  #warn(path: string, error: unknown): void {
    this.stats.errors++;
    this.#ports.warn?.(path, error instanceof Error ? error.message : String(error));
  }

  #write(promise: Promise<unknown> | undefined): void {
    if (promise === undefined) return;
    // Marked handled now; a failure still surfaces when the writes are awaited.
    promise.catch(() => {});
    this.#writes.push(promise);
    if (this.#writes.length >= 4096) {
      const all = Promise.all(this.#writes.splice(0));
      all.catch(() => {});
      this.#writes.push(all);
    }
  }

  async #flushWrites(): Promise<void> {
    while (this.#writes.length > 0) await Promise.all(this.#writes.splice(0));
  }

  /**
   * Backs up one entry; undefined when it is skipped. `content` is a small
   * file's content read along with the scan of its directory, if it was.
   */
  async #node(
    path: string,
    name: string,
    stat: SourceStat,
    content?: Uint8Array,
  ): Promise<NodeResult | undefined> {
    try {
      if (stat.type === "dir") return await this.#dir(path, name, stat);
      if (stat.type === "file") {
        return await this.#files.run(() => this.#file(path, name, stat, content));
      }
      return await this.#other(path, name, stat);
    } catch (error) {
      if (!(error instanceof SourceReadError)) throw error;
      this.#warn(path, error);
      return undefined;
    }
  }

  #meta(name: string, stat: SourceStat, extra: Partial<NodeMeta>): NodeMeta {
    return {
      name: encoder.encode(name),
      type: stat.type,
      size: stat.type === "file" ? stat.size : 0,
      mode: stat.mode & 0o7777,
      uid: stat.uid,
      gid: stat.gid,
      mtimeNs: stat.mtimeNs,
      ...(stat.type === "file" && stat.nlink > 1 ? { links: `${stat.dev}:${stat.ino}` } : {}),
      ...extra,
    };
  }

  #writeMeta(meta: NodeMeta): string {
    const fields = metaFields(meta);
    const key = metaKeyOfFields(fields);
    if (!this.#options.dryRun) this.#write(this.#ports.repo.writeMeta(key, fields));
    return key;
  }

  async #dir(path: string, name: string, stat: SourceStat): Promise<NodeResult> {
    const fs = this.#ports.fs;
    const prefix = path.endsWith("/") ? path : path + "/";
    let names: string[];
    let stats: (SourceStat | undefined)[];
    let contents: (Uint8Array | undefined)[] = [];
    if (fs.scanDir !== undefined) {
      const options: ScanOptions = this.#readAlong ? { readUpTo: READ_ALONG_SLAB_BYTES } : {};
      const entries = await reading(path, () => fs.scanDir!(path, options));
      names = entries.map((e) => e.name);
      contents = entries.map((e) => {
        // Counted as read now, whether used or not (an unchanged run reads nothing).
        if (e.content !== undefined) this.stats.bytesRead += e.content.length;
        return e.content;
      });
      stats = entries.map((e) => {
        const childPath = prefix + e.name;
        if (!this.#readableName(childPath)) return undefined;
        if (e.stat === undefined) {
          this.#warn(childPath, new Error(e.error ?? "cannot stat"));
          return undefined;
        }
        return this.#admit(childPath, e.stat);
      });
    } else {
      names = (await reading(path, () => fs.readDir(path))).sort();
      // Every child's lstat first (a bounded number at a time), then the work.
      stats = await mapLimit(names, CHILDREN_AT_ONCE, (child) => this.#childStat(prefix + child));
    }
    const children: (NodeResult | undefined)[] = new Array(names.length);
    const dirs: number[] = [];
    const others: number[] = [];
    stats.forEach((childStat, i) => {
      if (childStat !== undefined) (childStat.type === "dir" ? dirs : others).push(i);
    });
    // Files of this directory: a bounded number at a time. Subdirectories:
    // in parallel only while the run has a free directory token, else one
    // after the other here. Never waiting for a token keeps deep trees from
    // deadlocking, and the tokens keep the work in flight (each waiting file
    // holds promises and closures) proportional to the tokens, not to the
    // tree: 32 files per directory at every level of 50 × 40 directories
    // were 25,000 waiting files and most of the client's collection time.
    const parallel: Promise<void>[] = [];
    const subdirs = (async () => {
      for (const i of dirs) {
        const work = async () => {
          children[i] = await this.#node(prefix + names[i], names[i], stats[i]!);
        };
        if (this.#dirTokens.tryAcquire()) {
          const running = work().finally(() => this.#dirTokens.release());
          running.catch(() => {});
          parallel.push(running);
        } else {
          await work();
        }
      }
    })();
    const files = mapLimit(others, CHILDREN_AT_ONCE, async (i) => {
      const content = contents[i];
      contents[i] = undefined;
      children[i] = await this.#node(prefix + names[i], names[i], stats[i]!, content);
    });
    await Promise.all([subdirs, files]);
    await Promise.all(parallel);
    const present = children.filter((c): c is NodeResult => c !== undefined);
    const members = present.map((c) => c.key);
    const dirKey = dirKeyOf(members);
    const size = present.reduce((sum, c) => sum + c.size, 0);
    this.stats.dirs++;
    const fields = metaFields(this.#meta(name, stat, { ref: dirKey, size }));
    const metaKey = metaKeyOfFields(fields);
    // The cache also remembers directories: a set and meta the last committed
    // snapshot holds need not be sent again (an unchanged tree of 50,000
    // files re-sent 2,000 sets, 50,000 members).
    const cached = this.#ports.cache?.lookup(path, stat);
    const knownSet = cached?.contentKey === dirKey;
    const knownMeta = knownSet && cached?.metaKey === metaKey;
    if (!this.#options.dryRun) {
      if (!knownSet) this.#write(this.#ports.repo.writeDir(dirKey, members));
      if (!knownMeta) this.#write(this.#ports.repo.writeMeta(metaKey, fields));
    }
    if (!knownMeta) {
      this.#ports.cache?.record(path, stat, { contentKey: dirKey, chunks: 0, size, metaKey });
    }
    return { key: metaKey, size };
  }

  /** The lstat of a child to back up; undefined when it is skipped (warned if unreadable). */
  async #childStat(childPath: string): Promise<SourceStat | undefined> {
    if (!this.#readableName(childPath)) return undefined;
    let childStat: SourceStat;
    try {
      childStat = await this.#stats.run(() =>
        reading(childPath, () => this.#ports.fs.lstat(childPath))
      );
    } catch (error) {
      this.#warn(childPath, error);
      return undefined;
    }
    return this.#admit(childPath, childStat);
  }

  /** Whether the name can be backed up (warned if not). */
  #readableName(childPath: string): boolean {
    if (!childPath.includes("\uFFFD")) return true;
    this.#warn(childPath, new Error("name is not valid UTF-8; such names are not supported yet"));
    return false;
  }

  /** `childStat` if the child is to be backed up: not excluded, on the file system. */
  #admit(childPath: string, childStat: SourceStat): SourceStat | undefined {
    if (this.#options.exclude?.(childPath, childStat.type === "dir")) return undefined;
    if (
      this.#options.oneFileSystem && childStat.type === "dir" && childStat.dev !== this.#rootDev
    ) {
      return undefined;
    }
    return childStat;
  }

  async #other(path: string, name: string, stat: SourceStat): Promise<NodeResult> {
    const extra: Partial<NodeMeta> = {};
    if (stat.type === "symlink") {
      extra.target = encoder.encode(await reading(path, () => this.#ports.fs.readLink(path)));
    }
    this.stats.others++;
    return { key: this.#writeMeta(this.#meta(name, stat, extra)), size: 0 };
  }

  async #file(
    path: string,
    name: string,
    stat: SourceStat,
    readAlong?: Uint8Array,
  ): Promise<NodeResult> {
    let cached = this.#ports.cache?.lookup(path, stat);
    // A directory's entry (d:<D>) at this path, which a file replaced: a miss.
    if (cached?.contentKey.startsWith("d:")) cached = undefined;
    let content: { key: string; size: number; chunks: number };
    if (cached !== undefined) {
      content = { key: cached.contentKey, size: cached.size, chunks: cached.chunks };
      this.stats.filesUnchanged++;
    } else {
      content = await this.#readContent(path, stat, readAlong);
    }
    const fields = metaFields(this.#meta(name, stat, { ref: content.key, size: content.size }));
    const metaKey = metaKeyOfFields(fields);
    if (cached?.metaKey !== metaKey && !this.#options.dryRun) {
      this.#write(this.#ports.repo.writeMeta(metaKey, fields));
    }
    // A cache hit is remembered by the lookup itself.
    if (cached === undefined) {
      this.#ports.cache?.record(path, stat, {
        contentKey: content.key,
        chunks: content.chunks,
        size: content.size,
        metaKey,
      });
    }
    this.stats.files++;
    this.stats.bytes += content.size;
    this.#ports.progress?.(this.stats, path);
    return { key: metaKey, size: content.size };
  }

  async #readContent(
    path: string,
    stat: SourceStat,
    readAlong?: Uint8Array,
  ): Promise<{ key: string; size: number; chunks: number }> {
    const chunks: ChunkRef[] = [];
    const uploads = new ChunkUploader(this);
    let size = 0;
    const take = async (chunk: Uint8Array) => {
      const weight = budgetWeight(chunk.length);
      if (!this.#budget.tryAcquire(weight)) {
        // Send what this file holds before waiting, so that every file
        // waiting for memory has its chunks on the way (no deadlock).
        await uploads.flush();
        await this.#budget.acquire(weight);
      }
      const id = createHash("sha256").update(chunk).digest("hex");
      chunks.push({ id, size: chunk.length });
      size += chunk.length;
      if (readAlong === undefined) this.stats.bytesRead += chunk.length;
      await uploads.add(id, chunk);
    };
    try {
      if (stat.size <= SMALL_FILE) {
        const data = readAlong ?? await reading(path, () => this.#ports.fs.readFile(path));
        for (const chunk of chunkBuffer(data, this.#params)) await take(chunk);
      } else {
        const stream = await reading(path, () => this.#ports.fs.open(path));
        for await (const chunk of chunkStream(readingStream(path, stream), this.#params)) {
          await take(chunk);
          this.#ports.progress?.(this.stats, path);
        }
      }
      // The file's slot is free once it is read; its uploads finish in the
      // background (bounded by the memory budget) and the snapshot commit
      // waits for them.
      this.#write(uploads.finish());
    } catch (error) {
      // The chunks read before the error are good: other files may share
      // them, so they are uploaded all the same (a repository error there wins).
      await uploads.finish();
      throw error;
    }
    // One chunk: the file's ref names its blob, no list (schema version 3).
    const key = contentRefOf(chunks);
    if (!this.#options.dryRun && chunks.length > 1) {
      this.#write(this.#ports.repo.writeContent(key, chunks));
    }
    return { key, size, chunks: chunks.length };
  }

  // Used by ChunkUploader.
  knows(id: string): boolean {
    return this.#known.has(id);
  }

  /** The upload of `id` another file has started and not finished, if any. */
  uploading(id: string): Promise<void> | undefined {
    return this.#uploads.get(id);
  }

  /** Registers the upload of `id` until it settles. */
  track(id: string, upload: Promise<void>): void {
    this.#uploads.set(id, upload);
    upload.finally(() => this.#uploads.delete(id)).catch(() => {});
  }

  /** Whether the server has the blob `id` (asked in batches shared by all files). */
  exists(id: string): Promise<boolean> {
    return this.#exists.has(id);
  }

  remember(id: string): void {
    if (this.#known.size >= KNOWN_LIMIT) this.#known = new Set();
    this.#known.add(id);
  }

  release(bytes: number): void {
    this.#budget.release(budgetWeight(bytes));
  }

  get repo(): BackupRepository {
    return this.#ports.repo;
  }

  get dryRun(): boolean {
    return this.#options.dryRun === true;
  }
}

/**
 * Uploads the chunks of one file: asks the server which of a batch it lacks
 * (one BMULTIEXISTS per batch) and uploads only those, several at once.
 */
class ChunkUploader {
  readonly #run: BackupRun;
  #batch: { id: string; data: Uint8Array; done: PromiseWithResolvers<void> }[] = [];
  #batchBytes = 0;
  readonly #inFlight: Promise<void>[] = [];

  constructor(run: BackupRun) {
    this.#run = run;
  }

  async add(id: string, data: Uint8Array): Promise<void> {
    const other = this.#run.uploading(id);
    if (this.#run.knows(id) || other !== undefined) {
      // Another file is uploading the same chunk: this file is complete only when that upload is.
      if (other !== undefined) this.#inFlight.push(other);
      this.#run.release(data.length);
      return;
    }
    // Claimed from now on, so that no other file checks or uploads it meanwhile.
    const done = Promise.withResolvers<void>();
    this.#run.track(id, done.promise);
    this.#batch.push({ id, data, done });
    this.#batchBytes += data.length;
    if (this.#batch.length >= CHECK_BATCH || this.#batchBytes >= 16 * 1024 * 1024) {
      await this.#send();
    }
  }

  async #send(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    if (batch.length === 0) return;
    const uploads = batch.map(async ({ id, data, done }) => {
      try {
        const present = await this.#run.exists(id);
        if (!present) {
          if (!this.#run.dryRun) await this.#run.repo.putBlob(id, data);
          this.#run.stats.newChunks++;
          this.#run.stats.newBytes += data.length;
        }
        this.#run.remember(id);
        done.resolve();
      } catch (error) {
        done.reject(error);
        throw error;
      } finally {
        this.#run.release(data.length);
      }
    });
    this.#inFlight.push(Promise.all(uploads).then(() => {}));
    // Keep at most two batches of this file in flight.
    if (this.#inFlight.length >= 2) await this.#inFlight.shift();
  }

  /** Sends the pending batch without waiting for it. */
  async flush(): Promise<void> {
    await this.#send();
  }

  async finish(): Promise<void> {
    await this.#send();
    await Promise.all(this.#inFlight.splice(0));
  }
}
