import { canRun } from "../../tests/_skip.ts";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { KV_APPLICATION_ID, KvFormatError, SqliteKvStore } from "./sqlite_kv_store.ts";
import type { KvStore, ScanOptions } from "./kv_store.ts";

const b = (...bytes: number[]) => Uint8Array.from(bytes);
const hexKeys = (kv: KvStore, options?: ScanOptions) =>
  [...kv.scan(options)].map((e) => e.key.toHex());

function withTempDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = Deno.makeTempDirSync({ prefix: "ddb_kv_test_" });
    try {
      await fn(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

function memory(): SqliteKvStore {
  return SqliteKvStore.open(":memory:");
}

Deno.test("get, set, delete, empty keys and values, views as arguments", () => {
  const kv = memory();
  assert.equal(kv.get(b(1)), undefined);
  kv.set(b(1), b(10));
  kv.set(b(1), b(11));
  kv.set(b(), b());
  assert.deepEqual(kv.get(b(1)), b(11));
  assert.deepEqual(kv.get(b()), b());
  const buf = b(7, 1, 2, 3, 9);
  kv.set(buf.subarray(1, 3), buf.subarray(3, 4));
  assert.deepEqual(kv.get(b(1, 2)), b(3));
  assert.deepEqual(kv.get(buf.subarray(1, 3)), b(3));
  assert.equal(kv.delete(b(1)), true);
  assert.equal(kv.delete(b(1)), false);
  assert.equal(kv.get(b(1)), undefined);
  kv.close();
});

Deno.test("keys are ordered by memcmp, shorter first", () => {
  const kv = memory();
  const keys = [
    b(0xff),
    b(0x80),
    b(0x7f),
    b(0),
    b(0, 0),
    b(),
    b(0x7f, 0),
    b(0x7f, 0xff),
    b(0x80, 0),
  ];
  for (const key of keys) kv.set(key, b(1));
  assert.deepEqual(hexKeys(kv), ["", "00", "0000", "7f", "7f00", "7fff", "80", "8000", "ff"]);
  assert.deepEqual(hexKeys(kv, { reverse: true }), [
    "ff",
    "8000",
    "80",
    "7fff",
    "7f00",
    "7f",
    "0000",
    "00",
    "",
  ]);
  kv.close();
});

Deno.test("scan honours every combination of bounds, limit and direction", () => {
  const kv = memory();
  for (let i = 0; i < 10; i++) kv.set(b(i), b(i * 2));
  const all = [...Array(10).keys()].map((i) => b(i).toHex());
  for (const start of [undefined, b(3)]) {
    for (const end of [undefined, b(7)]) {
      for (const limit of [undefined, 0, 2, 100]) {
        for (const reverse of [false, true]) {
          let expected = all.filter((k) =>
            (start === undefined || k >= start.toHex()) && (end === undefined || k < end.toHex())
          );
          if (reverse) expected.reverse();
          if (limit) expected = expected.slice(0, limit);
          assert.deepEqual(hexKeys(kv, { start, end, limit, reverse }), expected);
        }
      }
    }
  }
  const [entry] = kv.scan({ start: b(4), limit: 1 });
  assert.deepEqual(entry.key, b(4));
  assert.deepEqual(entry.value, b(8));
  assert.deepEqual(hexKeys(kv, { start: b(5), end: b(5) }), []);
  assert.deepEqual(hexKeys(kv, { start: b(6), end: b(5) }), []);
  assert.throws(() => kv.scan({ limit: -1 }), RangeError);
  assert.throws(() => kv.scan({ limit: 1.5 }), RangeError);
  kv.close();
});

Deno.test("scan is lazy and scans of the same shape can nest", () => {
  const kv = memory();
  for (let i = 0; i < 5; i++) kv.set(b(i), b(i));
  const outer = kv.scan({ start: b(0), end: b(5) });
  const pairs: string[] = [];
  for (const a of outer) {
    for (const c of kv.scan({ start: a.key, end: b(5) })) pairs.push(`${a.key[0]}${c.key[0]}`);
  }
  assert.equal(pairs.length, 15);
  assert.deepEqual(pairs.slice(0, 6), ["00", "01", "02", "03", "04", "11"]);
  // Leaving a loop early releases the statement for the next scan.
  for (const _ of kv.scan({ start: b(0) })) break;
  assert.equal(hexKeys(kv, { start: b(3) }).length, 2);
  // Nothing is read before the first next().
  const lazy = kv.scan();
  kv.set(b(9), b(9));
  assert.equal([...lazy].length, 6);
  kv.close();
});

Deno.test("count and deleteRange work on half-open ranges", () => {
  const kv = memory();
  for (let i = 0; i < 10; i++) kv.set(b(1, i), b());
  kv.set(b(1), b());
  kv.set(b(2), b());
  assert.equal(kv.count(b(1), b(2)), 11);
  assert.equal(kv.count(b(1, 0), b(1, 5)), 5);
  assert.equal(kv.count(b(2), b(1)), 0);
  assert.equal(kv.deleteRange(b(1, 3), b(1, 6)), 3);
  assert.equal(kv.count(b(1), b(3)), 9);
  assert.equal(kv.deleteRange(b(1, 3), b(1, 6)), 0);
  kv.close();
});

Deno.test("transaction commits, rolls back on throw and nests with savepoints", () => {
  const kv = memory();
  assert.equal(kv.inTransaction, false);
  const result = kv.transaction(() => {
    assert.equal(kv.inTransaction, true);
    kv.set(b(1), b(1));
    return 42;
  });
  assert.equal(result, 42);
  assert.equal(kv.inTransaction, false);
  assert.deepEqual(kv.get(b(1)), b(1));

  const boom = new Error("boom");
  assert.throws(() =>
    kv.transaction(() => {
      kv.set(b(2), b(2));
      throw boom;
    }), (e) => e === boom);
  assert.equal(kv.get(b(2)), undefined);
  assert.equal(kv.inTransaction, false);

  kv.transaction(() => {
    kv.set(b(3), b(3));
    assert.throws(() =>
      kv.transaction(() => {
        kv.set(b(4), b(4));
        kv.transaction(() => kv.set(b(5), b(5)));
        throw boom;
      })
    );
    assert.equal(kv.inTransaction, true);
    kv.transaction(() => kv.set(b(6), b(6)));
  });
  assert.deepEqual(hexKeys(kv), ["01", "03", "06"]);

  assert.throws(() =>
    kv.transaction(() => {
      kv.transaction(() => kv.set(b(7), b(7)));
      throw boom;
    })
  );
  assert.equal(kv.get(b(7)), undefined);
  kv.close();
});

Deno.test("transaction refuses a function that returns a promise", () => {
  const kv = memory();
  assert.throws(
    () =>
      kv.transaction(() => {
        kv.set(b(1), b(1));
        return Promise.resolve();
      }),
    TypeError,
  );
  assert.equal(kv.get(b(1)), undefined);
  kv.transaction(() => {
    assert.throws(() => kv.transaction(() => Promise.resolve()), TypeError);
  });
  assert.equal(kv.inTransaction, false);
  kv.close();
});

Deno.test(
  "durable transactions restore synchronous=NORMAL; data persists across reopen",
  withTempDir((dir) => {
    const path = `${dir}/kv.sqlite`;
    const kv = SqliteKvStore.open(path);
    kv.transaction(() => kv.set(b(1), b(1)), { durable: true });
    kv.transaction(() => kv.transaction(() => kv.set(b(2), b(2)), { durable: true }));
    assert.throws(() =>
      kv.transaction(() => {
        kv.set(b(), b());
        throw new Error("rolled back");
      }, { durable: true })
    );
    kv.set(b(3), b(3));
    kv.close();
    kv.close(); // idempotent
    assert.throws(() => kv.get(b(1)));

    const again = SqliteKvStore.open(path);
    assert.deepEqual(hexKeys(again), ["01", "02", "03"]);
    again.close();
    const raw = new DatabaseSync(path);
    assert.equal(raw.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    assert.equal(raw.prepare("PRAGMA application_id").get()?.application_id, KV_APPLICATION_ID);
    assert.equal(raw.prepare("PRAGMA user_version").get()?.user_version, 1);
    raw.close();
  }),
);

Deno.test(
  "open refuses files that are not ddb kv stores",
  withTempDir((dir) => {
    const text = `${dir}/text`;
    Deno.writeTextFileSync(
      text,
      "hello, this is not a database at all, it is just text ".repeat(20),
    );
    assert.throws(() => SqliteKvStore.open(text), KvFormatError);
    assert.equal(Deno.readTextFileSync(text).startsWith("hello"), true);

    const foreign = `${dir}/foreign.sqlite`;
    let raw = new DatabaseSync(foreign);
    raw.exec("CREATE TABLE t (x)");
    raw.close();
    assert.throws(() => SqliteKvStore.open(foreign), /not a ddb kv store/);

    const otherId = `${dir}/other_id.sqlite`;
    raw = new DatabaseSync(otherId);
    raw.exec("PRAGMA application_id = 7");
    raw.close();
    assert.throws(() => SqliteKvStore.open(otherId), /application_id 0x7/);

    const extra = `${dir}/extra.sqlite`;
    SqliteKvStore.open(extra).close();
    raw = new DatabaseSync(extra);
    raw.exec("CREATE TABLE more (x)");
    raw.close();
    assert.throws(() => SqliteKvStore.open(extra), /unexpected schema/);

    const newer = `${dir}/newer.sqlite`;
    SqliteKvStore.open(newer).close();
    raw = new DatabaseSync(newer);
    raw.exec("PRAGMA user_version = 99");
    raw.close();
    assert.throws(() => SqliteKvStore.open(newer), /format version 99/);

    assert.throws(() => SqliteKvStore.open(`${dir}/missing/dir/kv.sqlite`), KvFormatError);
  }),
);

Deno.test(
  "committed writes survive kill -9 of the process",
  withTempDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const module = new URL("./sqlite_kv_store.ts", import.meta.url).href;
    const script = `
      import { SqliteKvStore } from ${JSON.stringify(module)};
      const kv = SqliteKvStore.open(${JSON.stringify(path)});
      for (let i = 0; i < 100; i++) kv.transaction(() => kv.set(Uint8Array.of(i), Uint8Array.of(i)));
      kv.set(Uint8Array.of(200), Uint8Array.of(1));
      try {
        kv.transaction(() => { kv.set(Uint8Array.of(201), Uint8Array.of(1)); throw new Error("x"); });
      } catch { /* rolled back */ }
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script + "console.log('ready'); setInterval(() => {}, 1000);"],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /ready/);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();

    const kv = SqliteKvStore.open(path);
    assert.equal(kv.count(b(0), b(0xff)), 101);
    assert.equal(kv.get(b(201)), undefined);
    kv.close();
  }),
);

const strace = (() => {
  try {
    // Present and allowed to trace (containers may forbid ptrace).
    const args = ["-f", "-o", "/dev/null", "true"];
    return new Deno.Command("strace", { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "only durable commits fsync the WAL (strace)",
  ignore: !canRun(strace, "strace is missing or cannot trace (apt-get install strace)"),
  fn: withTempDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const module = new URL("./sqlite_kv_store.ts", import.meta.url).href;
    const marker = (name: string) => `Deno.statSync(${JSON.stringify(`${dir}/@${name}`)}).isFile`;
    // stat() of a missing file marks the phases in the trace.
    const script = `
      import { SqliteKvStore } from ${JSON.stringify(module)};
      const kv = SqliteKvStore.open(${JSON.stringify(path)});
      const m = (f) => { try { f(); } catch { /* marker */ } };
      // The first commit creates the WAL and syncs its header: not measured.
      kv.set(Uint8Array.of(100), Uint8Array.of(1));
      m(() => ${marker("plain")});
      for (let i = 0; i < 5; i++) kv.transaction(() => kv.set(Uint8Array.of(i), Uint8Array.of(i)));
      kv.set(Uint8Array.of(9), Uint8Array.of(9));
      m(() => ${marker("durable")});
      kv.transaction(() => kv.set(Uint8Array.of(10), Uint8Array.of(1)), { durable: true });
      m(() => ${marker("plain_again")});
      kv.transaction(() => kv.set(Uint8Array.of(11), Uint8Array.of(1)));
      m(() => ${marker("nested_durable")});
      kv.transaction(() => kv.transaction(() => kv.set(Uint8Array.of(12), Uint8Array.of(1)), { durable: true }));
      m(() => ${marker("end")});
      Deno.exit(0);
    `;
    const trace = `${dir}/trace.txt`;
    const out = await new Deno.Command("strace", {
      args: [
        "-f",
        "-e",
        "trace=fsync,fdatasync,statx,newfstatat,stat",
        "-o",
        trace,
        Deno.execPath(),
      ]
        .concat(["eval", script]),
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const syncs: Record<string, number> = {};
    let phase = "";
    let thread = "";
    // Only the main thread's syncs count (Deno's own threads may sync caches).
    for (const line of Deno.readTextFileSync(trace).split("\n")) {
      const tid = line.split(" ", 1)[0];
      const mark = line.match(/\/@(\w+)"/);
      if (mark) [phase, thread] = [mark[1], tid];
      else if (tid === thread && /\b(fsync|fdatasync)\(/.test(line)) {
        syncs[phase] = (syncs[phase] ?? 0) + 1;
      }
    }
    assert.equal(syncs.plain ?? 0, 0, "plain commits must not fsync");
    assert.equal(syncs.durable, 1, "a durable commit fsyncs the WAL once");
    assert.equal(
      syncs.plain_again ?? 0,
      0,
      "synchronous=NORMAL is restored after a durable commit",
    );
    assert.equal(syncs.nested_durable, 1, "a nested durable request makes the commit durable");
  }),
});

Deno.test("writes held back in a transaction are seen by reads, scans, counts and savepoints", () => {
  const kv = memory();
  const big = new Uint8Array(4096).fill(7);
  kv.transaction(() => {
    kv.set(b(1), b(10));
    kv.set(b(1), b(11));
    assert.deepEqual(kv.get(b(1)), b(11));
    assert.deepEqual(hexKeys(kv), ["01"]);
    assert.equal(kv.count(b(0), b(9)), 1);
    kv.set(b(2), b(20));
    kv.set(b(2), big); // a large value is written through and replaces the held one
    kv.set(b(3), b(30));
    assert.equal(kv.delete(b(3)), true, "a held-back key existed");
    assert.equal(kv.get(b(3)), undefined);
    assert.throws(() =>
      kv.transaction(() => {
        kv.set(b(4), b(40));
        kv.set(b(1), b(12));
        throw new Error("inner");
      })
    );
    assert.deepEqual(kv.get(b(1)), b(11), "the savepoint's write is undone");
    assert.equal(kv.get(b(4)), undefined);
  });
  assert.deepEqual(kv.get(b(2)), big);
  assert.deepEqual([...kv.scan()].map((e) => [e.key.toHex(), e.value.length]), [
    ["01", 1],
    ["02", 4096],
  ]);
  assert.throws(() =>
    kv.transaction(() => {
      kv.set(b(5), b(50));
      throw new Error("outer");
    })
  );
  assert.equal(kv.get(b(5)), undefined, "a rolled-back held-back write is gone");
  assert.deepEqual(hexKeys(kv), ["01", "02"]);
  kv.close();
});

Deno.test(
  "a held-back write reaches the file at commit",
  withTempDir((dir) => {
    const path = `${dir}/kv.sqlite`;
    const kv = SqliteKvStore.open(path);
    kv.transaction(() => {
      for (let i = 0; i < 1000; i++) kv.set(b(1), b(i & 255));
    });
    kv.close();
    const reopened = SqliteKvStore.open(path);
    assert.deepEqual(reopened.get(b(1)), b(999 & 255));
    reopened.close();
  }),
);

Deno.test("readBatch reads one snapshot and refuses writes and transactions inside", () => {
  const dir = Deno.makeTempDirSync();
  const kv = SqliteKvStore.open(`${dir}/kv.sqlite`);
  try {
    const k = new Uint8Array([1]);
    kv.transaction(() => kv.set(k, new Uint8Array([2])));
    assert.deepEqual(kv.readBatch(() => [kv.get(k), kv.count(k, new Uint8Array([2]))]), [
      new Uint8Array([2]),
      1,
    ]);
    assert.throws(() => kv.readBatch(() => kv.set(k, k)), /Cannot write inside a read batch/);
    assert.throws(() => kv.readBatch(() => kv.delete(k)), /Cannot write inside a read batch/);
    assert.throws(
      () => kv.readBatch(() => kv.transaction(() => 1)),
      /Cannot start a transaction inside a read batch/,
    );
    // Nothing is left open: a write transaction works afterwards.
    kv.transaction(() => kv.set(k, new Uint8Array([3])));
    assert.deepEqual(kv.get(k), new Uint8Array([3]));
    // Inside a transaction a read batch simply runs.
    kv.transaction(() => assert.equal(kv.readBatch(() => kv.get(k)?.[0]), 3));
  } finally {
    kv.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test(
  "a reopened store of many keys finds every one, before and after it knows its keys",
  withTempDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const key = (i: number) => new TextEncoder().encode(`key ${i}`);
    const kv = SqliteKvStore.open(path);
    kv.transaction(() => {
      for (let i = 0; i < 20_000; i += 2) kv.set(key(i), b(i & 255));
    });
    kv.close();
    const reopened = SqliteKvStore.open(path);
    try {
      // Its filter of keys is built over several tasks: meanwhile, and
      // after, every stored key is found and no other.
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 20_000; i += 1000) {
          assert.deepEqual(reopened.get(key(i)), b(i & 255));
          assert.equal(reopened.get(key(i + 20_001)), undefined);
        }
        // Written in a transaction while the filter is being built.
        reopened.transaction(() => reopened.set(key(round * 2 + 1), b(7)));
        assert.deepEqual(reopened.get(key(round * 2 + 1)), b(7));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      for (let i = 0; i < 20_000; i += 2) assert.deepEqual(reopened.get(key(i)), b(i & 255));
      assert.deepEqual(reopened.get(key(1)), b(7));
      assert.deepEqual(reopened.get(key(3)), b(7));
    } finally {
      reopened.close();
    }
  }),
);

Deno.test(
  "forgetCached lets the store see what another connection wrote",
  withTempDir((dir) => {
    const path = `${dir}/kv.sqlite`;
    const kv = SqliteKvStore.open(path);
    try {
      assert.equal(kv.get(b(1, 2)), undefined);
      const other = new DatabaseSync(path);
      other.prepare("INSERT INTO kv (k, v) VALUES (?, ?)").run(b(1, 2), b(3));
      other.close();
      // Neither its cache nor its filter of keys knows yet.
      assert.equal(kv.get(b(1, 2)), undefined);
      kv.forgetCached();
      assert.deepEqual(kv.get(b(1, 2)), b(3));
      assert.throws(() => kv.transaction(() => kv.forgetCached()), TypeError);
    } finally {
      kv.close();
    }
  }),
);
