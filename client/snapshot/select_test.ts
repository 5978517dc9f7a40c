import assert from "node:assert/strict";
import type { SnapshotEntry } from "../repo/repository.ts";
import {
  AmbiguousSnapshotError,
  parseSnapshotSpec,
  selectSnapshot,
  SnapshotNotFoundError,
  SnapshotSpecError,
} from "./select.ts";
import { testSnapshot } from "./_testing/write_tree.ts";

function snap(key: string, host: string, path: string, timeUs: bigint): SnapshotEntry {
  return { key: `s:${key.padEnd(64, "0")}`, ...testSnapshot({ host, path, timeUs }) };
}

const LIST = [
  snap("aaaa1111", "alpha", "/home", 100n),
  snap("aaaa2222", "beta", "/home", 300n),
  snap("bbbb1111", "alpha", "/etc", 200n),
  snap("cccc1111", "alpha", "/mnt/a:b", 50n),
  snap("dddd1111", "alpha", "/mnt/a", 40n),
  snap("eeee1111", "alpha", "/", 10n),
];

Deno.test("parseSnapshotSpec() reads latest, ids and inner paths", () => {
  assert.deepEqual(parseSnapshotSpec("latest"), { kind: "latest", path: [] });
  assert.deepEqual(parseSnapshotSpec("latest:/"), { kind: "latest", path: [] });
  assert.deepEqual(parseSnapshotSpec("latest:"), { kind: "latest", path: [] });
  assert.deepEqual(parseSnapshotSpec("latest:a//b/./c/"), {
    kind: "latest",
    path: ["a", "b", "c"],
  });
  assert.deepEqual(parseSnapshotSpec("ABCD:/x:y"), { kind: "id", prefix: "abcd", path: ["x:y"] });
  assert.deepEqual(parseSnapshotSpec("abcd"), { kind: "id", prefix: "abcd", path: [] });
});

Deno.test("parseSnapshotSpec() refuses bad specs", () => {
  for (const spec of ["abc", "", "latest2", "xyz1", "abcd:../x", "latest:a/../b", "a".repeat(65)]) {
    assert.throws(() => parseSnapshotSpec(spec), SnapshotSpecError, spec);
  }
  assert.throws(() => parseSnapshotSpec("/home:a/.."), SnapshotSpecError);
});

Deno.test("parseSnapshotSpec() splits a path selector at the longest backed-up path", () => {
  const known = new Set(["/mnt/a", "/mnt/a:b", "/home"]);
  const parse = (spec: string) => parseSnapshotSpec(spec, known);
  assert.deepEqual(parse("/home"), { kind: "path", backedUpPath: "/home", path: [] });
  assert.deepEqual(parse("/home/"), { kind: "path", backedUpPath: "/home", path: [] });
  assert.deepEqual(parse("/home:/me/x"), {
    kind: "path",
    backedUpPath: "/home",
    path: ["me", "x"],
  });
  assert.deepEqual(parse("/mnt/a:b"), { kind: "path", backedUpPath: "/mnt/a:b", path: [] });
  assert.deepEqual(parse("/mnt/a:b:/etc"), {
    kind: "path",
    backedUpPath: "/mnt/a:b",
    path: ["etc"],
  });
  assert.deepEqual(parse("/mnt/a:c:d"), { kind: "path", backedUpPath: "/mnt/a", path: ["c:d"] });
  // Nothing known: the first ':' splits.
  assert.deepEqual(parse("/x:y:z"), { kind: "path", backedUpPath: "/x", path: ["y:z"] });
  assert.deepEqual(parse("/nope"), { kind: "path", backedUpPath: "/nope", path: [] });
  assert.deepEqual(parseSnapshotSpec("/:/etc", new Set(["/"])), {
    kind: "path",
    backedUpPath: "/",
    path: ["etc"],
  });
});

Deno.test("selectSnapshot() picks the newest for latest, with a host filter", () => {
  assert.equal(selectSnapshot(LIST, "latest").snapshot.key, LIST[1].key);
  assert.equal(selectSnapshot(LIST, "latest", { host: "alpha" }).snapshot.key, LIST[2].key);
  assert.deepEqual(selectSnapshot(LIST, "latest:/a/b").path, ["a", "b"]);
  assert.throws(
    () => selectSnapshot(LIST, "latest", { host: "gamma" }),
    (e: Error) => e instanceof SnapshotNotFoundError && /host "gamma"/.test(e.message),
  );
  assert.throws(() => selectSnapshot([], "latest"), SnapshotNotFoundError);
});

Deno.test("selectSnapshot() picks a path's newest snapshot", () => {
  assert.equal(selectSnapshot(LIST, "/home").snapshot.key, LIST[1].key);
  assert.equal(selectSnapshot(LIST, "/home", { host: "alpha" }).snapshot.key, LIST[0].key);
  const sel = selectSnapshot(LIST, "/mnt/a:b:/x");
  assert.equal(sel.snapshot.key, LIST[3].key);
  assert.deepEqual(sel.path, ["x"]);
  assert.equal(selectSnapshot(LIST, "/mnt/a:/x").snapshot.key, LIST[4].key);
  assert.equal(selectSnapshot(LIST, "/:etc").snapshot.key, LIST[5].key);
  assert.throws(
    () => selectSnapshot(LIST, "/var:/log"),
    (e: Error) =>
      e instanceof SnapshotNotFoundError && e.message.includes(`no snapshot of path "/var"`),
  );
  // With a host filter, paths of other hosts do not count.
  assert.throws(() => selectSnapshot(LIST, "/etc", { host: "beta" }), SnapshotNotFoundError);
});

Deno.test("selectSnapshot() resolves id prefixes", () => {
  assert.equal(selectSnapshot(LIST, "bbbb").snapshot.key, LIST[2].key);
  assert.equal(selectSnapshot(LIST, "AAAA2:/x").snapshot.key, LIST[1].key);
  // Ids ignore the host filter.
  assert.equal(selectSnapshot(LIST, "bbbb", { host: "beta" }).snapshot.key, LIST[2].key);
  assert.throws(
    () => selectSnapshot(LIST, "ffff"),
    (e: Error) => e instanceof SnapshotNotFoundError && e.message.includes(`"ffff"`),
  );
  assert.throws(() => selectSnapshot(LIST, "aaaa"), (e: Error) => {
    assert.ok(e instanceof AmbiguousSnapshotError);
    assert.deepEqual(e.candidates.map((c) => c.key), [LIST[0].key, LIST[1].key]);
    assert.match(e.message, /matches 2 snapshots/);
    assert.match(e.message, /aaaa11110000 .* alpha:\/home/);
    assert.match(e.message, /aaaa22220000 .* beta:\/home/);
    return true;
  });
});
