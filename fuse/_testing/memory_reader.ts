/**
 * Test helper: an in-memory {@linkcode SnapshotReader} holding trees and
 * snapshots built from the same specs and key schema as
 * client/snapshot/_testing/write_tree.ts, with hooks to count, hold and
 * fail reads.
 *
 * @module
 */

import type { PlacedChunk, SnapshotEntry } from "../../client/repo/repository.ts";
import {
  type ChunkRef,
  contentId,
  contentKey,
  dirKeyOf,
  metaKeyOf,
  type NodeMeta,
  SchemaError,
  type Snapshot,
  snapshotKeyOf,
} from "../../client/snapshot/schema.ts";
import {
  sha256,
  specMeta,
  testSnapshot,
  type TreeSpec,
} from "../../client/snapshot/_testing/write_tree.ts";
import type { SnapshotReader } from "../snapshot_fs.ts";

/** A repository in memory. */
export class MemoryReader implements SnapshotReader {
  readonly metas = new Map<string, NodeMeta>();
  readonly dirs = new Map<string, string[]>();
  readonly contents = new Map<string, PlacedChunk[]>();
  readonly blobs = new Map<string, Uint8Array>();
  readonly snapshots = new Map<string, SnapshotEntry>();
  /** Calls made, by method name. */
  readonly calls = new Map<string, number>();
  /** Blob fetches, by id. */
  readonly blobFetches = new Map<string, number>();
  /** Keys and blob ids whose reads fail. */
  readonly failing = new Set<string>();
  /** When set, every blob fetch waits for it. */
  blobGate: Promise<void> | undefined;

  #count(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
  }

  /** Adds `spec` and everything below it; returns its meta key. */
  addTree(spec: TreeSpec): string {
    let ref: string | undefined;
    let end = 0;
    if (spec.type === "file") {
      const refs: ChunkRef[] = spec.chunks.map((c) => ({ id: sha256(c), size: c.length }));
      const missing = new Set(spec.missing);
      refs.forEach((r, i) => {
        if (!missing.has(r.id)) this.blobs.set(r.id, spec.chunks[i]);
      });
      ref = contentKey(contentId(refs));
      this.contents.set(ref, refs.map((r) => ({ ...r, end: end += r.size })));
    } else if (spec.type === "dir") {
      const keys = spec.children.map((child) => this.addTree(child));
      ref = dirKeyOf(keys);
      this.dirs.set(ref, keys);
    }
    const meta = specMeta(spec, ref, end, { uid: 1000, gid: 1000 });
    const key = metaKeyOf(meta);
    this.metas.set(key, meta);
    return key;
  }

  /** Adds a snapshot (test defaults for unset fields); returns it. */
  addSnapshot(fields: Partial<Snapshot> & { ref: string }): SnapshotEntry {
    const snapshot = testSnapshot(fields);
    const entry = { key: snapshotKeyOf(snapshot), ...snapshot };
    this.snapshots.set(entry.key, entry);
    return entry;
  }

  #check(key: string): void {
    if (this.failing.has(key)) throw new Error(`Cannot read "${key}": injected failure`);
  }

  /** Every snapshot, oldest first. */
  listSnapshots(): Promise<SnapshotEntry[]> {
    this.#count("listSnapshots");
    return Promise.resolve().then(() => {
      this.#check("ddb:snapshots");
      return [...this.snapshots.values()].sort((a, b) =>
        a.timeUs < b.timeUs ? -1 : a.timeUs > b.timeUs ? 1 : a.key < b.key ? -1 : 1
      );
    });
  }

  /** A node's metadata. */
  readMeta(key: string): Promise<NodeMeta> {
    this.#count("readMeta");
    return Promise.resolve().then(() => {
      this.#check(key);
      const meta = this.metas.get(key);
      if (meta === undefined) throw new SchemaError(`Cannot find meta "${key}"`);
      return meta;
    });
  }

  /** The meta keys of a directory's children. */
  readDir(key: string): Promise<string[]> {
    this.#count("readDir");
    return Promise.resolve().then(() => {
      this.#check(key);
      return [...this.dirs.get(key) ?? []];
    });
  }

  /** A file's chunks. */
  readContent(key: string): Promise<PlacedChunk[]> {
    this.#count("readContent");
    return Promise.resolve().then(() => {
      this.#check(key);
      return (this.contents.get(key) ?? []).map((c) => ({ ...c }));
    });
  }

  /** A blob's bytes. */
  async getBlob(id: string): Promise<Uint8Array> {
    this.#count("getBlob");
    this.blobFetches.set(id, (this.blobFetches.get(id) ?? 0) + 1);
    await this.blobGate;
    this.#check(id);
    const data = this.blobs.get(id);
    if (data === undefined) throw new Error(`Cannot read blob ${id}: the server does not have it`);
    return data;
  }
}
