/**
 * End-to-end tests of metadata dumps against a real `ddb serve`: export and
 * import through the server (`ddb db export|import`), refusal of damaged and
 * truncated dumps with nothing changed, scheduled metadata backups, and the
 * recovery of a lost server from its blob storage alone (`ddb db recover`)
 * followed by a byte-for-byte restore.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DumpDecoder } from "../server/dump/dump_format.ts";
import {
  concat,
  RawConnection,
  type RespReply,
  runDdb,
  showReply,
  startServer,
  type TestServer,
} from "./_server.ts";
import { seededBytes } from "./_seeded_bytes.ts";
import { isolatedEnv } from "./_client_env.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KiB = 1024;

interface KvRecord {
  key: Uint8Array;
  value: Uint8Array;
}

/** The header's database name and the records of the dump file at `path`. */
async function readDumpFile(path: string): Promise<{ database: string; records: KvRecord[] }> {
  const dump = new DumpDecoder();
  const records: KvRecord[] = [];
  let database = "";
  dump.push(await Deno.readFile(path));
  for (let item = dump.next(); item !== undefined; item = dump.next()) {
    if (item.kind === "header") database = item.header.database;
    if (item.kind === "record") records.push({ key: item.key, value: item.value });
  }
  dump.finish();
  return { database, records };
}

async function command(conn: RawConnection, ...args: (string | Uint8Array)[]): Promise<RespReply> {
  return await conn.command(...args);
}

async function ok(conn: RawConnection, ...args: (string | Uint8Array)[]): Promise<RespReply> {
  const reply = await conn.command(...args);
  assert.notEqual(reply.kind, "error", `${args[0]}: ${showReply(reply)}`);
  return reply;
}

/** Deterministic bytes. */

const KEYS = ["str", "big", "bin\0\xff", "hash", "set", "list"];

/** Writes keys of every type, and blobs packed and standalone, into the selected database. */
async function populate(conn: RawConnection): Promise<string[]> {
  await ok(conn, "SET", "str", "hello");
  await ok(conn, "SET", "big", seededBytes(2500 * KiB, 1)); // The dump spans several pages.
  await ok(conn, "SET", encoder.encode("bin\0\xff"), Uint8Array.of(0, 0xff, 0x80));
  for (let i = 0; i < 300; i++) await ok(conn, "HSET", "hash", `field-${i}`, `value-${i}`);
  await ok(conn, "SADD", "set", "a", "b", Uint8Array.of(0, 1));
  await ok(conn, "LADD", "list", "5", "five");
  await ok(conn, "LADD", "list", "18446744073709551615", "last");
  const blobs: string[] = [];
  for (const [size, seed] of [[100, 2], [10 * KiB, 3], [700 * KiB, 4]]) {
    const reply = await ok(conn, "BPUT", seededBytes(size, seed));
    assert.equal(reply.kind, "bulk");
    if (reply.kind === "bulk") blobs.push(decoder.decode(reply.value));
  }
  return blobs;
}

/** Everything RESP shows of the keys and blobs of the selected database, as text. */
async function view(conn: RawConnection, blobs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const name of KEYS) {
    const key = encoder.encode(name);
    const type = await command(conn, "TYPE", key);
    out.push(`${name}: ${showReply(type)}`);
    const read = { string: "GET", hash: "HGETALL", set: "SMEMBERS", list: "LITER" } as const;
    if (type.kind === "simple" && type.value in read) {
      const verb = read[type.value as keyof typeof read];
      const reply = verb === "LITER"
        ? await command(conn, verb, key, "WITH", "INDEX")
        : await command(conn, verb, key);
      out.push(showReply(reply));
    }
  }
  for (const verb of ["DBSIZE", "BCNT", "BSIZE"]) out.push(showReply(await command(conn, verb)));
  for (const id of blobs) {
    const reply = await command(conn, "BGET", id);
    out.push(reply.kind === "bulk" ? `${id} ${reply.value.length}` : `${id} ${showReply(reply)}`);
  }
  return out;
}

interface Setup {
  dir: string;
  server: TestServer;
  env: Record<string, string>;
}

/** A server whose databases `default`, `copy` and `bad` share one blob storage. */
async function withServer(fn: (s: Setup) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-dump-test-" });
  const shared = join(dir, "shared-blobs");
  const config = join(dir, "config.json");
  const databases = Object.fromEntries(
    ["default", "copy", "bad", "bad2"].map((n) => [n, { storage: shared }]),
  );
  await Deno.writeTextFile(config, JSON.stringify({ databases }));
  const server = await startServer({ dataDir: join(dir, "data"), args: ["--config", config] });
  try {
    await fn({ dir, server, env: { DDB_SERVER: `127.0.0.1:${server.port}` } });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ddb db export and import reproduce a database exactly through the server", () =>
  withServer(async ({ dir, server, env }) => {
    const conn = await RawConnection.open(server.port);
    try {
      const blobs = await populate(conn);
      const file = join(dir, "default.dump");
      const exported = await runDdb(["db", "export", "default", file], env);
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stdout, /Exported database "default" \(\d+ records/);

      const imported = await runDdb(["db", "import", file, "copy"], env);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /Imported \d+ records into database "copy"/);

      // Byte-identical records: the export of the copy holds the same ones.
      const again = join(dir, "copy.dump");
      assert.equal((await runDdb(["db", "export", "copy", again], env)).code, 0);
      const original = await readDumpFile(file);
      const copy = await readDumpFile(again);
      assert.equal(original.database, "default");
      assert.equal(copy.database, "copy");
      assert.ok(original.records.length > 300);
      assert.deepEqual(copy.records, original.records);

      // And as a client sees them, blobs included (the storage is shared).
      await ok(conn, "SELECT", "default");
      const before = await view(conn, blobs);
      await ok(conn, "SELECT", "copy");
      assert.deepEqual(await view(conn, blobs), before);

      // The copy is no longer empty.
      const twice = await runDdb(["db", "import", file, "copy"], env);
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /not empty/);

      // Paging by hand: each cursor serves once, and only for its database.
      const first = await ok(conn, "DBEXPORT", "default", "0");
      assert.equal(first.kind, "array");
      const cursor = first.kind === "array" && first.items[0].kind === "bulk"
        ? decoder.decode(first.items[0].value)
        : "";
      assert.match(cursor, /^[0-9a-f]{32}$/);
      assert.match(
        showReply(await command(conn, "DBEXPORT", "copy", cursor)),
        /no export at cursor/,
      );
      assert.equal((await command(conn, "DBEXPORT", "default", cursor)).kind, "array");
      assert.match(
        showReply(await command(conn, "DBEXPORT", "default", cursor)),
        /no export at cursor/,
      );

      // Standard output works too.
      const piped = await runDdb(["db", "export", "default", "-"], env);
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stderr, /Exported database "default"/);
      const unknown = await runDdb(["db", "export", "nosuchdb", join(dir, "x.dump")], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no such database 'nosuchdb'/);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "config.json",
        "copy.dump",
        "data",
        "default.dump",
        "shared-blobs",
      ]);
    } finally {
      conn.close();
    }
  }));

Deno.test("damaged and truncated dumps are refused and change nothing", () =>
  withServer(async ({ dir, server, env }) => {
    const conn = await RawConnection.open(server.port);
    try {
      await populate(conn);
      const file = join(dir, "default.dump");
      assert.equal((await runDdb(["db", "export", "default", file], env)).code, 0);
      const good = await Deno.readFile(file);

      const flipped = good.slice();
      flipped[Math.floor(good.length / 2)] ^= 0x10;
      await Deno.writeFile(join(dir, "flipped.dump"), flipped);
      await Deno.writeFile(join(dir, "cut.dump"), good.subarray(0, good.length - 100));
      for (const [name, error] of [["flipped", /checksum mismatch/], ["cut", /truncated/]]) {
        const result = await runDdb(["db", "import", join(dir, `${name}.dump`), "bad"], env);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, error as RegExp);
      }

      // The server checks on its own, whatever the client does.
      const damaged: [Uint8Array, RegExp][] = [
        [flipped, /checksum mismatch/],
        [
          good.subarray(0, good.length - 100),
          /truncated inside record|truncated inside the trailer/,
        ],
        [good.subarray(0, 1500 * KiB), /truncated/],
        [concat([good, Uint8Array.of(0)]), /unexpected bytes after the trailer/],
      ];
      for (const [dump, error] of damaged) {
        const begin = await ok(conn, "DBIMPORT", "BEGIN", "bad2");
        assert.equal(begin.kind, "bulk");
        const token = begin.kind === "bulk" ? decoder.decode(begin.value) : "";
        let failure: RespReply | undefined;
        for (let at = 0; at < dump.length && failure === undefined; at += 1024 * KiB) {
          const reply = await command(
            conn,
            "DBIMPORT",
            "PUT",
            token,
            dump.subarray(at, at + 1024 * KiB),
          );
          if (reply.kind === "error") failure = reply;
        }
        failure ??= await command(conn, "DBIMPORT", "COMMIT", token);
        assert.equal(failure.kind, "error");
        assert.match(showReply(failure), error);
        // The session is over.
        assert.match(
          showReply(await command(conn, "DBIMPORT", "COMMIT", token)),
          /no import session/,
        );
      }
      for (const name of ["bad", "bad2"]) {
        await ok(conn, "SELECT", name);
        assert.deepEqual(await command(conn, "DBSIZE"), { kind: "int", value: 0 });
        assert.deepEqual(await command(conn, "BCNT"), { kind: "int", value: 0 });
      }

      // A database that is not empty is refused, before and after the upload.
      await ok(conn, "SELECT", "default");
      const size = await command(conn, "DBSIZE");
      const refused = await runDdb(["db", "import", file, "default"], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /database 'default' is not empty/);
      const token = await ok(conn, "DBIMPORT", "BEGIN", "bad2");
      assert.equal(token.kind, "bulk");
      const id = token.kind === "bulk" ? decoder.decode(token.value) : "";
      await ok(conn, "DBIMPORT", "PUT", id, good);
      await ok(conn, "SELECT", "bad2");
      await ok(conn, "SET", "meanwhile", "1");
      const late = await command(conn, "DBIMPORT", "COMMIT", id);
      assert.match(showReply(late), /not empty/);
      assert.deepEqual(await command(conn, "DBSIZE"), { kind: "int", value: 1 });
      await ok(conn, "SELECT", "default");
      assert.deepEqual(await command(conn, "DBSIZE"), size);
      // No temporary files are left behind.
      const leftovers = [...Deno.readDirSync(join(server.dataDir, "db"))]
        .map((e) => e.name).filter((n) => n.startsWith("."));
      assert.deepEqual(leftovers, []);
    } finally {
      conn.close();
    }
  }));

function pseudoTree(root: string): Promise<void>[] {
  const files: [string, number][] = [
    ["empty", 0],
    ["small.txt", 100],
    ["dir/packed-a", 40 * KiB],
    ["dir/packed-b", 300 * KiB],
    ["dir/sub/large", 3 * 1024 * KiB + 17],
    ["dir/sub/exactly-512K", 512 * KiB],
  ];
  return files.map(async ([path, size], i) => {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeFile(join(root, path), seededBytes(size, 100 + i));
  });
}

Deno.test("a lost server's metadata is rebuilt from its blob storage alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-recover-e2e-" });
  const dataDir = join(dir, "data");
  const src = join(dir, "src");
  const env = (port: number) => ({
    DDB_SERVER: `127.0.0.1:${port}`,
    ...isolatedEnv(dir),
  });
  try {
    await Promise.all(pseudoTree(src));
    await Deno.mkdir(join(src, "empty-dir"));
    await Deno.symlink("dir/sub/large", join(src, "link"));

    let server = await startServer({ dataDir });
    try {
      const backup = await runDdb(["backup", src], env(server.port));
      assert.equal(backup.code, 0, backup.stderr);
      const conn = await RawConnection.open(server.port);
      try {
        const reply = await ok(conn, "METABACKUP");
        assert.match(showReply(reply), /^\[\$manifest, \$[0-9a-f]{64}, \$records, :\d+/);
      } finally {
        conn.close();
      }
    } finally {
      await server.stop();
    }
    assert.match(server.log(), /meta_backup\.done db=default manifest=[0-9a-f]{64}/);

    // The metadata is lost; the blob storage survives.
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(join(dataDir, "db", `default.sqlite${suffix}`)).catch(() => {});
    }
    const storage = join(dataDir, "blobs", "default");
    const listed = await runDdb(["db", "backups", "--from-storage", storage]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /default {2}\d+ records/);
    const recovered = await runDdb(["db", "recover", "--from-storage", storage, "--data", dataDir]);
    assert.equal(recovered.code, 0, recovered.stderr);
    assert.match(
      recovered.stdout,
      /Recovered database "default" from the metadata backup .*records, [1-9]\d* blobs indexed/,
    );
    assert.doesNotMatch(recovered.stderr, /dropped/);

    server = await startServer({ dataDir });
    try {
      const target = join(dir, "restored");
      const restored = await runDdb(["restore", "--verify", "latest", target], env(server.port));
      assert.equal(restored.code, 0, restored.stderr);
      const diff = await new Deno.Command("diff", { args: ["-r", "--no-dereference", src, target] })
        .output();
      assert.equal(diff.code, 0, decoder.decode(diff.stdout));
      // A second recovery into the now populated data directory is refused.
      await server.stop();
      const again = await runDdb(["db", "recover", "--from-storage", storage, "--data", dataDir]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /not empty/);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ddb serve --meta-backup-every backs up on schedule and keeps the newest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-meta-schedule-" });
  const dataDir = join(dir, "data");
  const server = await startServer({ dataDir, args: ["--meta-backup-every", "1s"] });
  try {
    const conn = await RawConnection.open(server.port);
    try {
      await ok(conn, "SET", "k", "v");
      await ok(conn, "SELECT", "second");
      await ok(conn, "SET", "k2", "v2");
    } finally {
      conn.close();
    }
    const deadline = Date.now() + 60_000;
    const rounds = () => server.log().match(/meta_backup\.done db=second/g)?.length ?? 0;
    while (rounds() < 5) {
      assert.ok(Date.now() < deadline, `too few backups:\n${server.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.match(server.log(), /meta_backup\.scheduled every_ms=1000/);
    assert.doesNotMatch(server.log(), /meta_backup\.failed/);
    for (const db of ["default", "second"]) {
      const listed = await runDdb(["db", "backups", "--from-storage", join(dataDir, "blobs", db)]);
      assert.equal(listed.code, 0, listed.stderr);
      const lines = listed.stdout.trim().split("\n");
      assert.ok(lines.length >= 1 && lines.length <= 3, listed.stdout);
      for (const line of lines) assert.match(line, new RegExp(` ${db} `));
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ddb serve refuses a malformed --meta-backup-every", async () => {
  const result = await runDdb(["serve", "--meta-backup-every", "soon", "--data", "/nonexistent"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /Cannot parse duration "soon"/);
});
