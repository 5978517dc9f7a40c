import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type CachedFile,
  FILE_CACHE_BATCH,
  FileCache,
  FileCacheError,
  type FileStat,
} from "./file_cache.ts";

const STAT: FileStat = {
  size: 1234,
  mtimeNs: 1_700_000_000_123_456_789n,
  ctimeNs: 1_700_000_001_000_000_001n,
  ino: 42,
  dev: 2049,
};
const ENTRY: CachedFile = { contentKey: `c:${"a".repeat(64)}`, chunks: 3, size: 1234 };
const WITH_META: CachedFile = { ...ENTRY, metaKey: `m:${"b".repeat(64)}` };

/** Runs `fn` with a fresh temporary directory. */
async function withDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens, runs `fn`, closes. */
function session<T>(path: string, fn: (cache: FileCache) => T): T {
  const cache = FileCache.open(path, { onWarning: (m) => assert.fail(`unexpected warning: ${m}`) });
  try {
    return fn(cache);
  } finally {
    cache.close();
  }
}

Deno.test("FileCache.open creates the directories and an empty cache", async () => {
  await withDir((dir) => {
    const path = `${dir}/a/b/cache.sqlite`;
    session(path, (cache) => {
      assert.equal(cache.snapshotKey, undefined);
      assert.equal(cache.lookup("/f", STAT), undefined);
    });
    assert.equal(Deno.statSync(`${dir}/a/b`).mode! & 0o777, 0o700);
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  });
});

Deno.test("FileCache hits after a commit, in the same and in a later session", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    session(path, (cache) => {
      cache.record("/f", STAT, ENTRY);
      cache.record("/g", STAT, WITH_META);
      // Not committed yet: not trusted.
      assert.equal(cache.lookup("/f", STAT), undefined);
      cache.commit("s:1");
      assert.equal(cache.snapshotKey, "s:1");
      assert.deepEqual(cache.lookup("/f", STAT), ENTRY);
    });
    session(path, (cache) => {
      assert.equal(cache.snapshotKey, "s:1");
      assert.deepEqual(cache.lookup("/f", STAT), ENTRY);
      assert.deepEqual(cache.lookup("/g", STAT), WITH_META);
      assert.equal(cache.lookup("/h", STAT), undefined);
    });
  });
});

Deno.test("FileCache misses when any stat field changes", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    session(path, (cache) => {
      cache.record("/f", STAT, ENTRY);
      cache.commit("s:1");
      const changes: [string, FileStat][] = [
        ["size", { ...STAT, size: STAT.size + 1 }],
        ["mtimeNs", { ...STAT, mtimeNs: STAT.mtimeNs + 1n }],
        ["ctimeNs", { ...STAT, ctimeNs: STAT.ctimeNs - 1n }],
        ["ino", { ...STAT, ino: STAT.ino + 1 }],
        ["dev", { ...STAT, dev: STAT.dev + 1 }],
      ];
      for (const [field, stat] of changes) {
        assert.equal(cache.lookup("/f", stat), undefined, field);
      }
      assert.deepEqual(cache.lookup("/f", STAT), ENTRY);
      assert.equal(cache.lookup("/F", STAT), undefined);
    });
  });
});

Deno.test("FileCache does not trust the entries of a run that was never committed", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    session(path, (cache) => {
      cache.record("/old", STAT, ENTRY);
      cache.commit("s:1");
    });
    // A run that writes more than a batch (so rows reach the file) and dies.
    session(path, (cache) => {
      for (let i = 0; i < FILE_CACHE_BATCH + 10; i++) cache.record(`/new${i}`, STAT, ENTRY);
      cache.record("/old", { ...STAT, size: 1 }, { ...ENTRY, size: 1 });
    });
    // Another run: the abandoned run's rows are invisible, its change of
    // "/old" hides the old entry (safe), and its rows vanish at the commit.
    session(path, (cache) => {
      assert.equal(cache.snapshotKey, "s:1");
      assert.equal(cache.lookup("/new0", STAT), undefined);
      assert.equal(cache.lookup(`/new${FILE_CACHE_BATCH + 9}`, STAT), undefined);
      assert.equal(cache.lookup("/old", { ...STAT, size: 1 }), undefined);
      cache.record("/new1", STAT, ENTRY);
      cache.commit("s:2");
    });
    const db = new DatabaseSync(path);
    try {
      const rows = db.prepare("SELECT path FROM files ORDER BY path").all().map((r) => r.path);
      assert.deepEqual(rows, ["/new1"]);
    } finally {
      db.close();
    }
    session(path, (cache) => {
      assert.deepEqual(cache.lookup("/new1", STAT), ENTRY);
      assert.equal(cache.lookup("/new0", STAT), undefined);
    });
  });
});

Deno.test("FileCache keeps committed entries hit by an uncommitted run", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    session(path, (cache) => {
      for (let i = 0; i < 10; i++) cache.record(`/f${i}`, STAT, ENTRY);
      cache.commit("s:1");
    });
    session(path, (cache) => {
      for (let i = 0; i < FILE_CACHE_BATCH + 10; i++) cache.lookup(`/f${i % 10}`, STAT);
      // Recording the same data again is harmless too.
      cache.record("/f0", STAT, ENTRY);
      for (let i = 0; i < FILE_CACHE_BATCH; i++) cache.record(`/x${i}`, STAT, ENTRY);
    });
    session(path, (cache) => {
      for (let i = 0; i < 10; i++) assert.deepEqual(cache.lookup(`/f${i}`, STAT), ENTRY, `/f${i}`);
    });
  });
});

Deno.test("FileCache.commit replaces the generation: unseen entries are dropped", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    const changed = { ...STAT, mtimeNs: STAT.mtimeNs + 5n };
    const newEntry = { ...ENTRY, contentKey: `c:${"c".repeat(64)}` };
    session(path, (cache) => {
      cache.record("/kept", STAT, ENTRY);
      cache.record("/changed", STAT, ENTRY);
      cache.record("/gone", STAT, ENTRY);
      cache.commit("s:1");
    });
    session(path, (cache) => {
      assert.deepEqual(cache.lookup("/kept", STAT), ENTRY);
      assert.equal(cache.lookup("/changed", changed), undefined);
      cache.record("/changed", changed, newEntry);
      cache.record("/added", STAT, ENTRY);
      cache.commit("s:2");
      assert.equal(cache.snapshotKey, "s:2");
    });
    session(path, (cache) => {
      assert.deepEqual(cache.lookup("/kept", STAT), ENTRY);
      assert.deepEqual(cache.lookup("/changed", changed), newEntry);
      assert.equal(cache.lookup("/changed", STAT), undefined);
      assert.deepEqual(cache.lookup("/added", STAT), ENTRY);
      assert.equal(cache.lookup("/gone", STAT), undefined);
    });
  });
});

Deno.test("FileCache can commit several runs in one session", async () => {
  await withDir((dir) => {
    session(`${dir}/c.sqlite`, (cache) => {
      cache.record("/a", STAT, ENTRY);
      cache.commit("s:1");
      assert.deepEqual(cache.lookup("/a", STAT), ENTRY);
      cache.record("/b", STAT, ENTRY);
      assert.equal(cache.lookup("/b", STAT), undefined);
      cache.commit("s:2");
      // "/a" was hit in the second run, so it stays.
      assert.deepEqual(cache.lookup("/a", STAT), ENTRY);
      assert.deepEqual(cache.lookup("/b", STAT), ENTRY);
      cache.commit("s:3");
      // Both hit in the third run.
      assert.deepEqual(cache.lookup("/a", STAT), ENTRY);
      assert.equal(cache.snapshotKey, "s:3");
      cache.commit("s:4");
      // "/b" was not seen in the fourth run.
      assert.equal(cache.lookup("/b", STAT), undefined);
      assert.deepEqual(cache.lookup("/a", STAT), ENTRY);
    });
  });
});

Deno.test("FileCache.reset empties the cache and forgets the snapshot", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    session(path, (cache) => {
      cache.record("/a", STAT, ENTRY);
      cache.commit("s:1");
    });
    session(path, (cache) => {
      cache.record("/pending", STAT, ENTRY);
      cache.reset();
      assert.equal(cache.snapshotKey, undefined);
      assert.equal(cache.lookup("/a", STAT), undefined);
      cache.record("/b", STAT, ENTRY);
      cache.commit("s:2");
    });
    session(path, (cache) => {
      assert.equal(cache.snapshotKey, "s:2");
      assert.equal(cache.lookup("/a", STAT), undefined);
      assert.equal(cache.lookup("/pending", STAT), undefined);
      assert.deepEqual(cache.lookup("/b", STAT), ENTRY);
      cache.reset();
    });
    session(path, (cache) => {
      assert.equal(cache.snapshotKey, undefined);
      assert.equal(cache.lookup("/b", STAT), undefined);
    });
  });
});

Deno.test("FileCache moves a corrupt or foreign file aside and starts anew", async () => {
  await withDir((dir) => {
    const cases: [string, (path: string) => void, RegExp][] = [
      ["garbage", (p) => Deno.writeFileSync(p, new Uint8Array(8192).fill(7)), /not a database/],
      ["text", (p) => Deno.writeTextFileSync(p, "hello"), /not a database/],
      ["foreign", (p) => {
        const db = new DatabaseSync(p);
        db.exec("CREATE TABLE other (x)");
        db.close();
      }, /application_id is 0/],
      ["other version", (p) => {
        session(p, () => {});
        const db = new DatabaseSync(p);
        db.exec("PRAGMA user_version = 99");
        db.close();
      }, /format version 99/],
      ["wrong columns", (p) => {
        session(p, () => {});
        const db = new DatabaseSync(p);
        db.exec("ALTER TABLE files DROP COLUMN meta_key");
        db.close();
      }, /no such column/],
      ["bad counters", (p) => {
        session(p, () => {});
        const db = new DatabaseSync(p);
        db.exec("DELETE FROM state");
        db.close();
      }, /generation counters/],
    ];
    for (const [name, damage, reason] of cases) {
      const path = `${dir}/${name}.sqlite`;
      damage(path);
      const before = Deno.readFileSync(path);
      const warnings: string[] = [];
      const cache = FileCache.open(path, { onWarning: (m) => warnings.push(m) });
      try {
        assert.equal(warnings.length, 1, name);
        assert.match(warnings[0], reason, name);
        assert.ok(warnings[0].includes(`moved it to "${path}.corrupt"`), name);
        assert.equal(cache.snapshotKey, undefined);
        cache.record("/a", STAT, ENTRY);
        cache.commit("s:1");
        assert.deepEqual(cache.lookup("/a", STAT), ENTRY);
      } finally {
        cache.close();
      }
      assert.deepEqual(Deno.readFileSync(`${path}.corrupt`), before, name);
      session(path, (again) => assert.equal(again.snapshotKey, "s:1"));
    }
  });
});

Deno.test("FileCache refuses a cache in use by another connection", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    const first = FileCache.open(path);
    try {
      assert.throws(() => FileCache.open(path), {
        name: "FileCacheError",
        message: `Cannot open file cache "${path}": it is in use by another process`,
      });
    } finally {
      first.close();
    }
    session(path, () => {});
    assert.equal(Deno.statSync(path).isFile, true);
  });
});

Deno.test("FileCache reports a path it cannot create", async () => {
  await withDir((dir) => {
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(() => FileCache.open(`${dir}/file/sub/c.sqlite`), FileCacheError);
  });
});

Deno.test("FileCache rejects bad input and use after close", async () => {
  await withDir((dir) => {
    const cache = FileCache.open(`${dir}/c.sqlite`);
    assert.throws(() => cache.record("/a", STAT, { ...ENTRY, contentKey: "s:x" }), TypeError);
    assert.throws(() => cache.record("/a", STAT, { ...ENTRY, contentKey: "b:x" }), TypeError);
    assert.throws(() => cache.record("/a", STAT, { ...ENTRY, metaKey: "x" }), TypeError);
    assert.throws(() => cache.record("/a", STAT, { ...ENTRY, chunks: -1 }), TypeError);
    assert.throws(() => cache.record("/a", STAT, { ...ENTRY, size: 1.5 }), TypeError);
    assert.throws(() => cache.lookup("/a", { ...STAT, size: Number.NaN }), TypeError);
    cache.close();
    cache.close();
    assert.throws(() => cache.lookup("/a", STAT), /Cannot use file cache ".*": it is closed/);
    assert.throws(() => cache.commit("s:1"), FileCacheError);
  });
});

Deno.test("FileCache handles unusual paths and large stat values", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    const names = ["/a\nb", "/é/😀", "/with 'quote\"", "/" + "x".repeat(4000)];
    const big: FileStat = {
      size: Number.MAX_SAFE_INTEGER,
      mtimeNs: -1n,
      ctimeNs: 2n ** 62n,
      ino: 2 ** 52,
      dev: 0,
    };
    session(path, (cache) => {
      for (const name of names) cache.record(name, big, ENTRY);
      cache.commit("s:1");
    });
    session(path, (cache) => {
      for (const name of names) assert.deepEqual(cache.lookup(name, big), ENTRY, name);
      assert.equal(cache.lookup(names[0], { ...big, ctimeNs: 2n ** 62n + 1n }), undefined);
    });
  });
});

Deno.test("FileCache answers 50,000 lookups of one generation (speed: file_cache_bench.ts)", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    const n = 50_000;
    session(path, (cache) => {
      for (let i = 0; i < n; i++) {
        cache.record(`/home/user/data/dir${i % 100}/file${i}`, STAT, ENTRY);
      }
      cache.commit("s:1");
    });
    session(path, (cache) => {
      let hits = 0;
      for (let i = 0; i < n; i++) {
        if (cache.lookup(`/home/user/data/dir${i % 100}/file${i}`, STAT) !== undefined) hits++;
      }
      assert.equal(hits, n);
    });
  });
});

Deno.test("FileCache turns itself off when a query finds damage", async () => {
  await withDir((dir) => {
    const path = `${dir}/c.sqlite`;
    const paths = Array.from({ length: 20_000 }, (_, i) => `/d${i % 50}/f${i}`);
    session(path, (cache) => {
      for (const p of paths) cache.record(p, STAT, ENTRY);
      cache.commit("s:1");
    });
    // Overwrite the second half of the file, keeping the header and schema.
    const bytes = Deno.readFileSync(path);
    bytes.fill(0xff, bytes.length / 2);
    Deno.writeFileSync(path, bytes);
    const warnings: string[] = [];
    const cache = FileCache.open(path, { onWarning: (m) => warnings.push(m) });
    try {
      let hits = 0;
      for (const p of paths) if (cache.lookup(p, STAT) !== undefined) hits++;
      assert.ok(hits < paths.length, `${hits} hits`);
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0],
        /is damaged \(.*malformed.*\); moved it to ".*\.corrupt"; continuing/,
      );
      assert.equal(cache.snapshotKey, undefined);
      assert.equal(cache.lookup(paths[0], STAT), undefined);
      cache.record("/x", STAT, ENTRY);
      cache.commit("s:2");
      cache.reset();
    } finally {
      cache.close();
    }
    // The damaged file was moved aside (its header changed at the open).
    assert.equal(Deno.statSync(`${path}.corrupt`).size, bytes.length);
    session(path, (fresh) => {
      assert.equal(fresh.snapshotKey, undefined);
      assert.equal(fresh.lookup(paths[0], STAT), undefined);
    });
  });
});
