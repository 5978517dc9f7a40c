/**
 * Crash durability of `ddb serve`: a stream of BPUTs and TXINIT…TXCOMMIT
 * transactions is cut by `kill -9`, the server is restarted on the same data
 * directory, and every acknowledged write must be there, whole:
 *
 * - every acknowledged blob exists and reads back byte for byte;
 * - every acknowledged transaction is there in full, and an unacknowledged
 *   one is there in full or not at all;
 * - every file in the blob storage's shards hashes to its name;
 * - the SQLite database passes `PRAGMA integrity_check`.
 *
 * The kill comes at a different moment in each of three rounds, on the same
 * data directory, so later rounds also crash a recovered server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import {
  concat,
  encodeCommand,
  Random,
  RawConnection,
  showReply,
  startServer,
  type TestServer,
} from "./_server.ts";

/** The shared PRNG, plus blob sizes from 1 byte to MAX_BLOB, log-distributed. */
class BlobRandom extends Random {
  blobSize(): number {
    const roll = this.int(20);
    if (roll === 0) return 1;
    if (roll === 1) return MAX_BLOB;
    return Math.max(1, Math.min(MAX_BLOB, Math.floor(Math.exp(this.next() * Math.log(MAX_BLOB)))));
  }
}

const MiB = 1024 * 1024;
const MAX_BLOB = 2 * MiB;
const ROUNDS = 3;
const WORKERS = 3;

/** The content of a blob, rebuilt from its seed and size (xorshift32). */
function blobContent(seed: number, size: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, size);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A BPUT sent to the server. */
interface BlobRecord {
  readonly hash: string;
  readonly seed: number;
  readonly size: number;
  /** Whether the server replied with the hash. */
  acked: boolean;
}

/** A TXINIT … TXCOMMIT sent to the server: one record of three writes. */
interface TxRecord {
  /** `<round>:<worker>:<seq>`, unique. */
  readonly id: string;
  /** The list and set keys (per round and worker) and the list index. */
  readonly listKey: string;
  readonly setKey: string;
  readonly seq: number;
  readonly hash: string;
  readonly size: number;
  /** Whether TXCOMMIT replied with its array of replies. */
  acked: boolean;
}

/** Everything sent over all rounds. */
interface Journal {
  readonly blobs: BlobRecord[];
  readonly txs: TxRecord[];
  /** Replies that are wrong whatever the timing of the kill. */
  readonly unexpected: string[];
}

/**
 * Writes blobs and transactions over one connection until the server goes
 * away, recording what was sent and what was acknowledged.
 */
async function worker(
  port: number,
  round: number,
  index: number,
  journal: Journal,
): Promise<void> {
  const random = new BlobRandom(round * 1000 + index + 1);
  const client = await RawConnection.open(port);
  const listKey = `log:${round}:${index}`;
  const setKey = `set:${round}:${index}`;
  try {
    for (let seq = 0;; seq++) {
      const seed = random.int(2 ** 31);
      const size = random.blobSize();
      const content = blobContent(seed, size);
      const blob: BlobRecord = { hash: sha256(content), seed, size, acked: false };
      journal.blobs.push(blob);
      await client.send(encodeCommand(["BPUT", content]));
      const put = await client.read(30_000);
      if (put === undefined) return;
      if (showReply(put) !== `$${blob.hash}`) {
        journal.unexpected.push(`BPUT of ${size} bytes: ${showReply(put)}`);
        return;
      }
      blob.acked = true;

      const tx: TxRecord = {
        id: `${round}:${index}:${seq}`,
        listKey,
        setKey,
        seq,
        hash: blob.hash,
        size,
        acked: false,
      };
      journal.txs.push(tx);
      await client.send(concat([
        encodeCommand(["TXINIT"]),
        encodeCommand(["HSET", `rec:${tx.id}`, "blob", tx.hash, "size", String(size)]),
        encodeCommand(["LADD", listKey, String(seq), tx.hash]),
        encodeCommand(["SADD", setKey, `${seq}:${tx.hash}`]),
        encodeCommand(["TXCOMMIT"]),
      ]));
      const expected = ["+OK", "+QUEUED", "+QUEUED", "+QUEUED", "[:2, +OK, :1]"];
      for (const want of expected) {
        const reply = await client.read(30_000);
        if (reply === undefined) return;
        if (showReply(reply) !== want) {
          journal.unexpected.push(
            `transaction ${tx.id}: expected ${want}, got ${showReply(reply)}`,
          );
          return;
        }
      }
      tx.acked = true;
    }
  } catch (error) {
    // The kill may also surface as a failed write.
    if (
      !(error instanceof Deno.errors.ConnectionReset) &&
      !(error instanceof Deno.errors.BrokenPipe) &&
      !(error instanceof Deno.errors.NotConnected)
    ) throw error;
  } finally {
    client.close();
  }
}

/** Checks that every blob file in the local storage `dir` hashes to its name. */
async function assertBlobFilesIntact(dir: string): Promise<number> {
  let files = 0;
  for await (const shard of Deno.readDir(dir)) {
    if (shard.name === "tmp" || shard.name === "ddb-storage.json") continue;
    assert.ok(shard.isDirectory && /^[0-9a-f]{2}$/.test(shard.name), `stray entry ${shard.name}`);
    for await (const entry of Deno.readDir(join(dir, shard.name))) {
      assert.ok(entry.isFile, `stray entry ${shard.name}/${entry.name}`);
      assert.match(entry.name, new RegExp(`^${shard.name}[0-9a-f]{62}$`));
      const content = await Deno.readFile(join(dir, shard.name, entry.name));
      assert.equal(sha256(content), entry.name, `blob file ${entry.name} has other content`);
      files++;
    }
  }
  return files;
}

/** Checks every record of the journal against a restarted server. */
async function assertJournal(server: TestServer, journal: Journal): Promise<void> {
  const client = await RawConnection.open(server.port);
  try {
    for (const blob of journal.blobs) {
      const exists = showReply(await client.command("BEXISTS", blob.hash));
      if (blob.acked) assert.equal(exists, ":1", `acknowledged blob ${blob.hash} is missing`);
      if (exists === ":0") continue;
      assert.equal(exists, ":1");
      const reply = await client.command("BGET", blob.hash);
      assert.ok(reply.kind === "bulk", `BGET ${blob.hash}: ${showReply(reply)}`);
      assert.equal(reply.value.length, blob.size, `blob ${blob.hash} size`);
      assert.ok(
        Buffer.from(reply.value).equals(blobContent(blob.seed, blob.size)),
        `blob ${blob.hash} has other bytes`,
      );
    }
    for (const tx of journal.txs) {
      await client.send(concat([
        encodeCommand(["HGETALL", `rec:${tx.id}`]),
        encodeCommand(["LINDEX", tx.listKey, String(tx.seq)]),
        encodeCommand(["SISMEMBER", tx.setKey, `${tx.seq}:${tx.hash}`]),
        encodeCommand(["BEXISTS", tx.hash]),
      ]));
      const [record, entry, member, blob] = [
        showReply(await client.read()),
        showReply(await client.read()),
        showReply(await client.read()),
        showReply(await client.read()),
      ];
      const present = [
        record === `[$blob, $${tx.hash}, $size, $${tx.size}]`,
        entry === `$${tx.hash}`,
        member === ":1",
      ];
      const absent = [record === "[]", entry === "nil", member === ":0"];
      const state = `record ${record}, list entry ${entry}, set member ${member}`;
      if (tx.acked) {
        assert.deepEqual(present, [true, true, true], `acknowledged tx ${tx.id}: ${state}`);
      } else {
        assert.ok(
          present.every(Boolean) || absent.every(Boolean),
          `unacknowledged tx ${tx.id} is partly applied: ${state}`,
        );
      }
      if (present.every(Boolean)) assert.equal(blob, ":1", `tx ${tx.id} names a missing blob`);
    }
  } finally {
    client.close();
  }
}

function integrityCheck(path: string): string {
  const db = new DatabaseSync(path);
  try {
    const rows = db.prepare("PRAGMA integrity_check").all();
    return rows.map((row) => String(Object.values(row)[0])).join("\n");
  } finally {
    db.close();
  }
}

Deno.test("ddb serve keeps every acknowledged write across kill -9", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "ddb-crash-" });
  const journal: Journal = { blobs: [], txs: [], unexpected: [] };
  const random = new BlobRandom(0xc0ffee);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const delay = 500 + random.int(1500);
      await t.step(`round ${round + 1}: kill -9 after ${delay} ms`, async () => {
        const blobsBefore = journal.blobs.length;
        const txsBefore = journal.txs.length;
        const server = await startServer({ dataDir });
        const workers = Array.from(
          { length: WORKERS },
          (_, i) => worker(server.port, round, i, journal),
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
        const status = await server.stop("SIGKILL");
        assert.equal(status.signal, "SIGKILL", server.log());
        await Promise.all(workers);
        assert.deepEqual(journal.unexpected, []);

        const blobs = journal.blobs.slice(blobsBefore);
        const txs = journal.txs.slice(txsBefore);
        const ackedBlobs = blobs.filter((b) => b.acked).length;
        const ackedTxs = txs.filter((tx) => tx.acked).length;
        console.log(
          `round ${round + 1}: ${blobs.length} BPUTs sent, ${ackedBlobs} acknowledged; ` +
            `${txs.length} transactions sent, ${ackedTxs} acknowledged`,
        );
        assert.ok(ackedBlobs > 0 && ackedTxs > 0, "nothing was acknowledged before the kill");

        // Every stored object (a large blob, or a pack of small ones) is whole;
        // assertJournal below reads every acknowledged blob back.
        const files = await assertBlobFilesIntact(join(dataDir, "blobs", "default"));
        if (journal.blobs.some((b) => b.acked)) assert.ok(files > 0, "no blob files");

        const restarted = await startServer({ dataDir });
        try {
          await assertJournal(restarted, journal);
        } finally {
          const stopped = await restarted.stop("SIGTERM");
          assert.equal(stopped.code, 0, restarted.log());
        }
        assert.equal(integrityCheck(join(dataDir, "db", "default.sqlite")), "ok");
      });
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
