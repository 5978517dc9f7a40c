/**
 * `ddb check`: verifies that every snapshot can be restored.
 *
 * Levels:
 *
 * 1. Records (always): each snapshot in `ddb:snapshots` has a record that
 *    parses and hashes to its key, and is in its group list; each group
 *    list names only existing snapshots (when all snapshots are checked).
 * 2. Trees (always): every meta, directory set and content list the
 *    snapshots reference exists, parses and hashes to its key; each file's
 *    size equals its content's length; each snapshot's counters (files,
 *    dirs, bytes) equal its tree's; every chunk's blob is on the server
 *    (BMULTIEXISTS in batches; the server answers from its blob index).
 *    A one-chunk file's `b:<id>` ref (schema version 3) names its blob
 *    directly: there is no list to read, the blob is checked as above.
 * 3. Data (`readData`): the chosen blobs are downloaded; the server verifies
 *    each one's hash as it reads it from its storage, the client hashes the
 *    bytes it receives again. Only this level notices a blob file that the
 *    storage lost or that rotted after it was written.
 *
 * Everything shared is checked once: a directory met again (same meta key,
 * so the same subtree) in a later snapshot is skipped with the counts and
 * verdict of its first visit; each content list and each blob is checked
 * once. Memory: the id of each good blob, the length of each good content
 * list and a summary (counts and verdict) of each directory, held as raw
 * digests and numbers in flat tables (memory/digest_key_map.ts: about 40,
 * 50 and 80 bytes, no JS object each: some 90 MB per million distinct
 * blobs and as many contents); bad ones, as few as the problems, in plain
 * maps. Whatever is in flight is bounded: the walk reads
 * {@linkcode CheckOptions.prefetch} directories ahead and lets go of those
 * walked, at most {@linkcode CheckOptions.contentWindow} content lists are
 * read at once, and a content list's blobs are checked a slice at a time.
 *
 * Problems are then placed: each snapshot whose tree holds a problem is
 * walked again, entering only the directories found bad, and each problem
 * is given the snapshots and paths that lead to it.
 *
 * @module
 */

import { Semaphore } from "../concurrency/semaphore.ts";
import { ServerReplyError } from "../remote/resp_client.ts";
import type { GroupEntry, PlacedChunk, Repository } from "../repo/repository.ts";
import { recordId } from "../snapshot/canonical.ts";
import {
  blobIdOfRef,
  contentId,
  contentKey,
  groupKey,
  type NodeMeta,
  parseSnapshot,
  SchemaError,
  type Snapshot,
} from "../snapshot/schema.ts";
import { type WalkError, walkTree } from "../snapshot/walk.ts";
import { DigestKeyMap } from "../../memory/digest_key_map.ts";
import { BlobChecker } from "./_blob_checker.ts";
import { CheckingReader, RecordError } from "./_checking_reader.ts";
import { type Problem, ProblemLog } from "./problems.ts";

/** What `check` reads (a `Repository` has it). */
export type CheckSource = Pick<
  Repository,
  | "readFields"
  | "readDir"
  | "readContent"
  | "hasBlobs"
  | "getBlob"
  | "listSnapshotKeys"
  | "listGroupKeys"
  | "readGroup"
>;

/** Counts of what was checked. */
export interface CheckCounts {
  /** Snapshots whose trees were checked. */
  snapshots: number;
  /** Distinct directories walked. */
  dirs: number;
  /** Files walked (in directories not seen before). */
  files: number;
  /** Distinct content lists checked. */
  contents: number;
  /** Distinct blobs checked. */
  blobs: number;
  /** Blobs downloaded. */
  blobsRead: number;
  /** Bytes downloaded. */
  bytesRead: number;
  /** Problems found so far. */
  problems: number;
}

/** Options of {@linkcode check}. */
export interface CheckOptions {
  /** Check only these snapshot keys (default: all, and then the group lists too). */
  snapshots?: readonly string[];
  /** Which blobs to download and verify (default none). */
  readData?: (id: string) => boolean;
  /** Receives the counts as the check goes (often: throttle it). */
  onProgress?: (counts: Readonly<CheckCounts>) => void;
  /** Places listed per problem (default 100; all are counted). */
  placeCap?: number;
  /** Content lists read at once (default 256). */
  contentWindow?: number;
  /** Blob ids per BMULTIEXISTS (default 1000). */
  blobBatch?: number;
  /** Blobs downloaded at once (default 8). */
  readConcurrency?: number;
  /** Directories the walk reads ahead (default 16; see `walkTree`). */
  prefetch?: number;
}

/** The outcome of {@linkcode check}. */
export interface CheckResult {
  /** What was checked. */
  counts: CheckCounts;
  /** What is wrong (empty when all is well). */
  problems: Problem[];
}

const EMPTY_CONTENT = contentKey(contentId([]));
/** Blobs of one content list checked at once. */
const BLOB_SLICE = 4096;

/** The fields of a directory's entry in `Checker.#summaries`. */
const FILES = 0;
const DIRS = 1;
const BYTES = 2;
/** 1 when something in the subtree is wrong. */
const BAD = 3;
/** The number of the walk that recorded it (from 1). */
const WALK = 4;
const decoder = new TextDecoder();

/** A subtree's counts and whether anything in it is wrong. */
interface Summary {
  files: number;
  dirs: number;
  bytes: number;
  bad: boolean;
}

/** Bad now, good now, or later. */
type Verdict = boolean | Promise<boolean>;

/** A directory being walked. */
interface Frame {
  depth: number;
  metaKey: string;
  ref: string;
  files: number;
  dirs: number;
  bytes: number;
  bad: boolean;
  pending: Promise<boolean>[];
}

interface ContentVerdict {
  bad: boolean;
  /** The content's length, when its list could be read. */
  length?: number;
}

interface SnapshotRecord {
  key: string;
  snapshot: Snapshot;
}

function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function showPath(path: readonly Uint8Array[]): string {
  return "/" + path.map((p) => decoder.decode(p)).join("/");
}

function oldestFirst(a: SnapshotRecord, b: SnapshotRecord): number {
  const x = a.snapshot.timeUs;
  const y = b.snapshot.timeUs;
  return x !== y ? (x < y ? -1 : 1) : a.key < b.key ? -1 : 1;
}

class Checker {
  readonly #source: CheckSource;
  readonly #options: CheckOptions;
  readonly #problems: ProblemLog;
  readonly #reader: CheckingReader;
  readonly #blobs: BlobChecker;
  readonly #contentSlots: Semaphore;
  /** Directories walked (by meta key): counts, verdict and walk (see FILES…WALK). */
  readonly #summaries = new DigestKeyMap("m:", 5);
  /** Walks started. */
  #walks = 0;
  /** The walk under way (0: none); what it records is not known to it. */
  #walking = 0;
  /** Good content lists and their lengths. */
  readonly #goodContents = new DigestKeyMap("c:", 1);
  /** Bad content lists: their lengths (when readable) and bad blobs. */
  readonly #badContents = new Map<string, { length?: number; blobs: string[] }>();
  readonly #contentsInFlight = new Map<string, Promise<ContentVerdict>>();
  /** Snapshot keys that have a record (parsable or not). */
  readonly #recorded = new Set<string>();
  readonly counts: CheckCounts = {
    snapshots: 0,
    dirs: 0,
    files: 0,
    contents: 0,
    blobs: 0,
    blobsRead: 0,
    bytesRead: 0,
    problems: 0,
  };

  constructor(source: CheckSource, options: CheckOptions) {
    this.#source = source;
    this.#options = options;
    this.#problems = new ProblemLog(options.placeCap ?? 100);
    this.#reader = new CheckingReader(source, this.#problems);
    this.#contentSlots = new Semaphore(options.contentWindow ?? 256);
    this.#blobs = new BlobChecker(source, this.#problems, {
      readData: options.readData,
      batch: options.blobBatch,
      readConcurrency: options.readConcurrency,
      onRead: (bytes) => {
        this.counts.blobsRead++;
        this.counts.bytesRead += bytes;
      },
    });
  }

  #progress(): void {
    this.counts.blobs = this.#blobs.checked;
    this.counts.problems = this.#problems.size;
    this.#options.onProgress?.(this.counts);
  }

  /** The summary of a directory walked before (not in the walk under way), if any. */
  #summary(metaKey: string): Summary | undefined {
    const walk = this.#summaries.get(metaKey, WALK);
    if (walk === undefined || walk === this.#walking) return undefined;
    const field = (f: number) => this.#summaries.get(metaKey, f)!;
    return { files: field(FILES), dirs: field(DIRS), bytes: field(BYTES), bad: field(BAD) === 1 };
  }

  /** Reports a problem at a place. */
  #at(problem: Problem, snapshot: string, path: string): void {
    this.#problems.place(problem, { snapshot, path });
  }

  async run(): Promise<CheckResult> {
    const all = await this.#source.listSnapshotKeys();
    const wanted = this.#options.snapshots ?? all;
    const records = await this.#readRecords(wanted);
    await this.#checkGroups(records, this.#options.snapshots === undefined);
    const roots = new Map<string, Summary | undefined>();
    for (const record of records) {
      roots.set(record.key, await this.#scan(record));
      this.counts.snapshots++;
      this.#progress();
    }
    if (this.#problems.size > 0) {
      for (const record of records) {
        if (roots.get(record.key)?.bad) await this.#place(record);
      }
    }
    this.#progress();
    return { counts: { ...this.counts }, problems: this.#problems.list() };
  }

  /** Reads and verifies the snapshot records; returns the usable ones, oldest first. */
  async #readRecords(keys: readonly string[]): Promise<SnapshotRecord[]> {
    const fields = await Promise.all(keys.map((key) => this.#source.readFields(key)));
    const records: SnapshotRecord[] = [];
    keys.forEach((key, i) => {
      const f = fields[i];
      if (f.size > 0) this.#recorded.add(key);
      if (f.size === 0) {
        const p = this.#problems.report(
          "snapshot-missing",
          key,
          `snapshot record ${key} is missing`,
        );
        this.#at(p, key, "/");
        return;
      }
      let snapshot: Snapshot;
      try {
        snapshot = parseSnapshot(key, f);
      } catch (error) {
        if (!(error instanceof SchemaError)) throw error;
        this.#at(this.#problems.report("snapshot-malformed", key, error.message), key, "/");
        return;
      }
      if (`s:${recordId("snapshot", f)}` !== key) {
        const p = this.#problems.report(
          "snapshot-mismatch",
          key,
          `snapshot record ${key} was altered: its fields do not hash to its key`,
        );
        this.#at(p, key, "/");
      }
      records.push({ key, snapshot });
    });
    return records.sort(oldestFirst);
  }

  /**
   * Each snapshot is in its group list; when every snapshot is checked
   * (`complete`), the lists name only snapshots that have a record.
   */
  async #checkGroups(records: SnapshotRecord[], complete: boolean): Promise<void> {
    const lists = new Map<string, Promise<GroupEntry[]>>();
    const list = (group: string) => {
      let entries = lists.get(group);
      if (entries === undefined) lists.set(group, entries = this.#source.readGroup(group));
      return entries;
    };
    for (const { key, snapshot } of records) {
      let group: string;
      try {
        group = groupKey(snapshot.host, snapshot.path);
      } catch (error) {
        if (!(error instanceof SchemaError)) throw error;
        this.#at(this.#problems.report("snapshot-malformed", key, error.message), key, "/");
        continue;
      }
      const entries = await list(group);
      if (!entries.some((e) => e.key === key && e.timeUs === snapshot.timeUs)) {
        const p = this.#problems.report(
          "snapshot-ungrouped",
          key,
          `snapshot ${key} is not in its group list ${group} (at ${snapshot.timeUs})`,
        );
        this.#at(p, key, "/");
      }
    }
    if (!complete) return;
    const existing = this.#recorded;
    for (const group of await this.#source.listGroupKeys()) {
      for (const entry of await list(group)) {
        if (existing.has(entry.key)) continue;
        const p = this.#problems.report(
          "group-dangling",
          group,
          `group list ${group} names snapshots that do not exist`,
        );
        this.#at(p, entry.key, "/");
      }
    }
  }

  /** Walks a snapshot's tree, checking what was not checked before; returns its root's summary. */
  async #scan({ key, snapshot }: SnapshotRecord): Promise<Summary | undefined> {
    const known = this.#summary(snapshot.ref);
    let root: { summary: Summary; bad: Verdict } | undefined = known &&
      { summary: known, bad: known.bad };
    if (root === undefined) {
      try {
        root = await this.#walk(snapshot.ref);
      } catch (error) {
        if (!(error instanceof RecordError)) throw error;
        this.#at(this.#problems.report(error.kind, error.key, error.message), key, "/");
        return undefined;
      }
    }
    const { summary } = root;
    if (
      summary.files !== snapshot.files || summary.dirs !== snapshot.dirs ||
      summary.bytes !== snapshot.bytes
    ) {
      const p = this.#problems.report(
        "snapshot-counts",
        key,
        `snapshot ${key} records ${snapshot.files} files, ${snapshot.dirs} dirs, ${snapshot.bytes} bytes; its tree has ${summary.files}, ${summary.dirs}, ${summary.bytes}`,
      );
      this.#at(p, key, "/");
    }
    return summary;
  }

  /**
   * Walks the tree at `rootKey`, entering only directories not walked
   * before; resolves once every content and blob below is checked.
   *
   * @throws {RecordError} when the root meta cannot be read.
   */
  async #walk(rootKey: string): Promise<{ summary: Summary; bad: Verdict }> {
    const walk = this.#walking = ++this.#walks;
    try {
      return await this.#walkFrom(rootKey, walk);
    } finally {
      this.#walking = 0;
    }
  }

  /** {@linkcode Checker.#walk}, as walk number `walk`. */
  async #walkFrom(rootKey: string, walk: number): Promise<{ summary: Summary; bad: Verdict }> {
    const summaries = this.#summaries;
    const stack: Frame[] = [];
    let root: { summary: Summary; bad: Verdict } | undefined;
    const give = (files: number, dirs: number, bytes: number, bad: Verdict, summary?: Summary) => {
      const parent = stack.at(-1);
      if (parent === undefined) {
        root = { summary: summary ?? { files, dirs, bytes, bad: bad === true }, bad };
        return;
      }
      parent.files += files;
      parent.dirs += dirs;
      parent.bytes += bytes;
      if (bad === true) parent.bad = true;
      else if (bad !== false) parent.pending.push(bad);
    };
    const close = (frame: Frame) => {
      const key = frame.metaKey;
      if (this.#problems.has(frame.ref)) frame.bad = true;
      // The same directory met earlier in this walk may have been found bad already.
      if (summaries.get(key, WALK) === walk && summaries.get(key, BAD) === 1) frame.bad = true;
      const summary: Summary = {
        files: frame.files,
        dirs: frame.dirs,
        bytes: frame.bytes,
        bad: frame.bad,
      };
      summaries.set(key, frame.files, frame.dirs, frame.bytes, frame.bad ? 1 : 0, walk);
      let bad: Verdict = frame.bad;
      // Waited for even when already bad: every check must end before the result.
      if (frame.pending.length > 0) {
        bad = quiet(
          Promise.all(frame.pending).then((all) => {
            summary.bad = frame.bad || all.includes(true);
            if (summary.bad) summaries.update(key, BAD, 1);
            return summary.bad;
          }),
        );
      }
      give(frame.files, frame.dirs, frame.bytes, bad, summary);
    };
    const onError = (error: WalkError) => {
      const frame = stack.findLast((f) => f.depth === error.path.length);
      if (frame !== undefined) frame.bad = true;
      const cause = error.cause;
      if (cause instanceof RecordError) {
        this.#problems.report(cause.kind, cause.key, cause.message);
      } else if (cause === undefined) {
        // A directory that contains itself (crafted metadata).
        this.#problems.report("cycle", frame?.ref ?? "?", error.message);
      } else if (cause instanceof ServerReplyError || cause instanceof SchemaError) {
        this.#problems.report("dir-unreadable", frame?.ref ?? "?", error.message);
      } else {
        throw cause;
      }
    };
    const entries = walkTree(this.#reader, rootKey, {
      // Pure during the walk: what this walk records is not known to it.
      descend: (entry) => this.#summary(entry.metaKey) === undefined,
      onError,
      prefetch: this.#options.prefetch ?? 16,
    });
    for await (const entry of entries) {
      const depth = entry.path.length;
      while (stack.length > 0 && stack[stack.length - 1].depth >= depth) close(stack.pop()!);
      const meta = entry.meta;
      const own = this.#problems.has(entry.metaKey);
      if (meta.type === "dir") {
        const known = this.#summary(entry.metaKey);
        if (known !== undefined) {
          give(known.files, known.dirs, known.bytes, known.bad);
          continue;
        }
        this.counts.dirs++;
        stack.push({
          depth,
          metaKey: entry.metaKey,
          ref: meta.ref!,
          files: 0,
          dirs: 1,
          bytes: 0,
          bad: own,
          pending: [],
        });
      } else if (meta.type === "file") {
        this.counts.files++;
        // Wrapped: awaiting a bare promise would wait for the content check.
        const { verdict } = await this.#file(entry.metaKey, meta);
        // A file whose meta is bad is bad, once its content is checked too.
        const bad = !own || typeof verdict === "boolean"
          ? own || verdict
          : quiet(verdict.then(() => true));
        give(1, 0, meta.size, bad);
      } else {
        give(0, 0, 0, own);
      }
      this.#progress();
    }
    while (stack.length > 0) close(stack.pop()!);
    const result = root!;
    result.summary.bad = await result.bad;
    return result;
  }

  /** A file's verdict: its content's, and whether its size matches. Waits for a slot to read. */
  async #file(metaKey: string, meta: NodeMeta): Promise<{ verdict: Verdict }> {
    const ref = meta.ref!;
    const sized = (v: ContentVerdict): boolean => {
      if (v.length !== undefined && v.length !== meta.size) {
        this.#problems.report(
          "size-mismatch",
          metaKey,
          `meta ${metaKey} gives ${meta.size} bytes, its content ${ref} has ${v.length}`,
        );
        return true;
      }
      return v.bad;
    };
    const blob = blobIdOfRef(ref);
    if (blob !== undefined) {
      // The file is its one blob (schema version 3): no list to read.
      return { verdict: this.#blobs.check(blob) };
    }
    const started = await this.#content(ref);
    if ("verdict" in started) return { verdict: sized(started.verdict) };
    return { verdict: quiet(started.pending.then(sized)) };
  }

  /** A content's verdict when known; else starts reading it (after a free slot). */
  async #content(
    ref: string,
  ): Promise<{ verdict: ContentVerdict } | { pending: Promise<ContentVerdict> }> {
    const known = ():
      | { verdict: ContentVerdict }
      | { pending: Promise<ContentVerdict> }
      | undefined => {
      if (ref === EMPTY_CONTENT) return { verdict: { bad: false, length: 0 } };
      const good = this.#goodContents.get(ref, 0);
      if (good !== undefined) return { verdict: { bad: false, length: good } };
      const bad = this.#badContents.get(ref);
      if (bad !== undefined) return { verdict: { bad: true, length: bad.length } };
      const pending = this.#contentsInFlight.get(ref);
      return pending && { pending };
    };
    const before = known();
    if (before !== undefined) return before;
    await this.#contentSlots.acquire();
    const after = known();
    if (after !== undefined) {
      this.#contentSlots.release();
      return after;
    }
    const pending = quiet(
      this.#readContent(ref).finally(() => {
        this.#contentSlots.release();
        this.#contentsInFlight.delete(ref);
      }),
    );
    this.#contentsInFlight.set(ref, pending);
    return { pending };
  }

  /** Reads and checks a content list and its blobs. */
  async #readContent(ref: string): Promise<ContentVerdict> {
    this.counts.contents++;
    let chunks: PlacedChunk[];
    try {
      chunks = await this.#source.readContent(ref);
    } catch (error) {
      if (!(error instanceof SchemaError || error instanceof ServerReplyError)) throw error;
      this.#problems.report("content-malformed", ref, `content list ${ref}: ${error.message}`);
      this.#badContents.set(ref, { blobs: [] });
      return { bad: true };
    }
    if (chunks.length === 0) {
      this.#problems.report("content-missing", ref, `content list ${ref} is missing`);
      this.#badContents.set(ref, { blobs: [] });
      return { bad: true };
    }
    let bad = false;
    if (contentKey(contentId(chunks)) !== ref) {
      this.#problems.report(
        "content-mismatch",
        ref,
        `content list ${ref} was altered: its chunks do not hash to its key`,
      );
      bad = true;
    }
    const length = chunks[chunks.length - 1].end;
    const ids = [...new Set(chunks.map((c) => c.id))];
    const badBlobs: string[] = [];
    // A slice at a time: a huge file's blobs are not all pending at once.
    for (let from = 0; from < ids.length; from += BLOB_SLICE) {
      const slice = ids.slice(from, from + BLOB_SLICE);
      const verdicts = await Promise.all(slice.map((id) => this.#blobs.check(id)));
      slice.forEach((id, i) => verdicts[i] && badBlobs.push(id));
    }
    if (bad || badBlobs.length > 0) {
      this.#badContents.set(ref, { length, blobs: badBlobs });
      return { bad: true, length };
    }
    this.#goodContents.set(ref, length);
    return { bad: false, length };
  }

  /** Walks the bad directories of a snapshot and places each problem met. */
  async #place({ key, snapshot }: SnapshotRecord): Promise<void> {
    const here = (problemKey: string, path: string) => {
      for (const p of this.#problems.of(problemKey)) this.#at(p, key, path);
    };
    const walk = walkTree(this.#reader, snapshot.ref, {
      descend: (entry) => this.#summaries.get(entry.metaKey, BAD) === 1,
      onError: (error) => {
        // Unreadable entries are keyed by their own meta key, which no walked
        // node names: place them at their directory. Directory problems
        // (keyed by the directory's ref) are placed with the directory.
        if (error.cause instanceof RecordError) here(error.cause.key, showPath(error.path));
      },
    });
    for await (const entry of walk) {
      const path = showPath(entry.path);
      here(entry.metaKey, path);
      const ref = entry.meta.ref;
      if (ref === undefined) continue;
      here(ref, path);
      const blob = blobIdOfRef(ref);
      if (blob !== undefined) here(blob, path);
      for (const id of this.#badContents.get(ref)?.blobs ?? []) here(id, path);
    }
  }
}

/**
 * Checks the repository (see the module documentation for what).
 *
 * @returns the counts and the problems found, each with its places.
 * @throws when the server cannot be read (connection lost, …).
 */
export function check(source: CheckSource, options: CheckOptions = {}): Promise<CheckResult> {
  return new Checker(source, options).run();
}
