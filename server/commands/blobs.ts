/**
 * Blob commands: BPUT, BGET, BEXISTS, BMULTIEXISTS, BSIZE, BCNT.
 *
 * The server hashes every blob itself (lowercase hex SHA-256) and never
 * trusts a hash from the client. It verifies every blob it reads, unless
 * the client asks it not to (`BGET hash NOVERIFY`) because it hashes what
 * it receives itself: then the bytes are sent as stored. BPUT replies only after the blob is durable
 * in the database's storage and recorded in its blob index, so any later
 * write that references the hash can never point at a blob a crash could
 * still lose.
 *
 * @module
 */

import * as blobIndex from "../blob_index.ts";
import { BlobCorruptError, BlobNotFoundError } from "../../storage/blob_storage.ts";
import { blobIdOf, isBlobId } from "../../storage/blob_id.ts";
import { bulk, int, NULL, type Reply } from "../resp/reply.ts";
import type { CommandContext, CommandSpec } from "./command_spec.ts";
import { keyword, text } from "./args.ts";
import { CommandError } from "./command_error.ts";

function blobId(arg: Uint8Array): string {
  const id = text(arg);
  if (!isBlobId(id)) {
    throw new CommandError(`ERR invalid blob hash '${id.slice(0, 80)}': expected 64 lowercase hex`);
  }
  return id;
}

async function bput({ session }: CommandContext, [content]: Uint8Array[]): Promise<Reply> {
  const db = session.db;
  const id = blobIdOf(content);
  if (!blobIndex.has(db.kv, id)) {
    if (content.length < db.packBelowBytes) {
      // Small blobs share pack objects (see packs/): one storage write for many.
      const location = await db.packer.add(id, content);
      await db.committer.submit(() =>
        blobIndex.add(db.kv, id, content.length, Date.now(), location)
      );
    } else {
      await db.storage.put(id, content);
      // Recorded in the next group transaction with other connections' writes.
      await db.committer.submit(() => blobIndex.add(db.kv, id, content.length, Date.now()));
    }
  }
  return bulk(id);
}

async function bget(
  { session, server }: CommandContext,
  [hash, ...options]: Uint8Array[],
): Promise<Reply> {
  const db = session.db;
  const id = blobId(hash);
  let verify = true;
  for (const option of options) {
    const word = keyword(option);
    if (word !== "NOVERIFY") throw new CommandError(`ERR syntax error: unknown option '${word}'`);
    verify = false;
  }
  const location = blobIndex.locate(db.kv, id);
  if (location === undefined) return NULL;
  try {
    if (location === "standalone") return bulk(await db.storage.get(id, { verify }));
    return bulk(await db.packReader.read(id, location, { verify }));
  } catch (error) {
    if (error instanceof BlobNotFoundError || error instanceof BlobCorruptError) {
      server.logger.error("blob.unreadable", { db: db.name, id, error: error.message });
      throw new CommandError(`ERR ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** The blob commands. */
export const BLOB_COMMANDS: readonly CommandSpec[] = [
  {
    name: "BPUT",
    arity: 2,
    flags: ["notx", "parallel"],
    synopsis: "content",
    summary: "Stores a blob; returns its lowercase hex SHA-256 once it is durable.",
    async: bput,
  },
  {
    name: "BGET",
    arity: -2,
    flags: ["notx", "parallel"],
    synopsis: "hash [NOVERIFY]",
    summary:
      "The content of a blob (verified against its hash; with NOVERIFY as stored, for a caller that hashes it), or nil.",
    async: bget,
  },
  {
    name: "BEXISTS",
    arity: 2,
    flags: [],
    synopsis: "hash",
    summary: "1 if the blob is stored, else 0.",
    sync: ({ session }, [hash]) => int(blobIndex.has(session.db.kv, blobId(hash)) ? 1 : 0),
  },
  {
    name: "BMULTIEXISTS",
    arity: -2,
    flags: [],
    synopsis: "hash [hash ...]",
    summary: "For each hash, 1 if the blob is stored, else 0.",
    sync: ({ session }, hashes) => ({
      kind: "array",
      items: hashes.map((h) => int(blobIndex.has(session.db.kv, blobId(h)) ? 1 : 0)),
    }),
  },
  {
    name: "BSIZE",
    arity: -1,
    flags: [],
    synopsis: "[hash]",
    summary: "Total bytes of all blobs; with a hash, that blob's size or nil.",
    sync: ({ session }, args) => {
      if (args.length > 1) {
        throw new CommandError("ERR wrong number of arguments for 'bsize' command");
      }
      if (args.length === 0) return int(blobIndex.totalBytes(session.db.kv));
      const size = blobIndex.size(session.db.kv, blobId(args[0]));
      return size === undefined ? NULL : int(size);
    },
  },
  {
    name: "BCNT",
    arity: 1,
    flags: [],
    synopsis: "",
    summary: "The number of blobs.",
    sync: ({ session }) => int(blobIndex.count(session.db.kv)),
  },
];
