import assert from "node:assert/strict";
import { join } from "node:path";
import { Repository } from "../repo/repository.ts";
import { startServer, type TestServer } from "../../tests/_server.ts";
import { commitTree, sha256, type TreeSpec, writeTree } from "../snapshot/_testing/write_tree.ts";
import { selectSnapshot } from "../snapshot/select.ts";
import { resolvePath, type TreeNode } from "../snapshot/walk.ts";
import {
  restore,
  RestoreError,
  type RestoreIssue,
  type RestoreOptions,
  type RestoreSource,
} from "./restore.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const IS_ROOT = Deno.uid() === 0;

interface Fixture {
  server: TestServer;
  repo: Repository;
  /** A fresh temporary directory for this test. */
  tmp: string;
}

/** Runs `fn` against a fresh server and temporary directory. */
function withServer(name: string, fn: (f: Fixture) => Promise<void>): void {
  Deno.test(name, async () => {
    const server = await startServer();
    const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port });
    const tmp = await Deno.makeTempDir({ prefix: "ddb-restore-test-" });
    try {
      await fn({ server, repo, tmp });
    } finally {
      await repo.close();
      await server.stop();
      await Deno.remove(server.dataDir, { recursive: true });
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

/** Writes `spec` and returns it as a restore root. */
async function rootOf(repo: Repository, spec: TreeSpec): Promise<TreeNode> {
  const metaKey = await writeTree(repo, spec);
  return { metaKey, meta: await repo.readMeta(metaKey) };
}

/** Restores and collects issues. */
async function run(
  repo: Repository,
  root: TreeNode,
  target: string,
  options: RestoreOptions = {},
) {
  const errors: RestoreIssue[] = [];
  const warnings: RestoreIssue[] = [];
  const stats = await restore(repo, root, target, {
    onError: (issue) => errors.push(issue),
    onWarning: (issue) => warnings.push(issue),
    ...options,
  });
  return { stats, errors, warnings };
}

/** Every path under `dir`, relative, sorted (symlinks not followed). */
async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const rel = prefix + entry.name;
    out.push(rel);
    if (entry.isDirectory) out.push(...await listTree(join(dir, entry.name), `${rel}/`));
  }
  return out.sort();
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function assertAttributes(path: string, mode: number, mtimeNs: bigint): Promise<void> {
  const info = await Deno.lstat(path);
  if (!info.isSymlink) assert.equal((info.mode ?? 0) & 0o7777, mode, `mode of ${path}`);
  assert.equal(info.mtime?.getTime(), Number(mtimeNs / 1_000_000n), `mtime of ${path}`);
}

const A = randomBytes(300_000);
const B = randomBytes(200_000);
const C = encoder.encode("c");
const T0 = 1_500_000_000_111_222_333n;
const T1 = 1_400_000_000_444_555_666n;
const T2 = 1_300_000_000_777_000_001n;

const ROUND_TRIP: TreeSpec = {
  type: "dir",
  name: "data",
  mode: 0o750,
  mtimeNs: T0,
  children: [
    { type: "file", name: "empty", chunks: [], mode: 0o600, mtimeNs: T1 },
    { type: "file", name: "small.txt", chunks: [encoder.encode("hello\n")], mtimeNs: T2 },
    { type: "file", name: "big.bin", chunks: [A, B, A, A, C], mode: 0o755, mtimeNs: T1 },
    { type: "file", name: "copy.bin", chunks: [B, A], mode: 0o640, mtimeNs: T2 },
    { type: "file", name: "setuid", chunks: [C], mode: 0o4755, mtimeNs: T2 },
    { type: "file", name: "hard1", chunks: [B], links: "7:99", mtimeNs: T1 },
    { type: "file", name: "hard2", chunks: [B], links: "7:99", mtimeNs: T1 },
    { type: "fifo", name: "fifo", mode: 0o640, mtimeNs: T2 },
    { type: "socket", name: "sock" },
    { type: "file", name: "owned", chunks: [C], uid: 1234, gid: 5678, mtimeNs: T2 },
    { type: "file", name: "ünïcode ✓", chunks: [C], mtimeNs: T2 },
    {
      type: "dir",
      name: "sub",
      mode: 0o555,
      mtimeNs: T2,
      children: [
        {
          type: "dir",
          name: "deeper",
          mode: 0o700,
          mtimeNs: T1,
          children: [{ type: "file", name: "leaf.txt", chunks: [B, C], mtimeNs: T0 }],
        },
        { type: "symlink", name: "link-rel", target: "../small.txt", mtimeNs: T1 },
        { type: "symlink", name: "link-abs", target: "/nonexistent/target", mtimeNs: T2 },
        { type: "dir", name: "empty-dir", children: [], mode: 0o711, mtimeNs: T0 },
      ],
    },
  ],
};

for (const verify of [false, true]) {
  withServer(`restore() round-trips a tree (verify: ${verify})`, async ({ repo, tmp }) => {
    const root = await rootOf(repo, ROUND_TRIP);
    const target = join(tmp, "out", "nested");
    const progress: number[] = [];
    const { stats, errors, warnings } = await run(repo, root, target, {
      verify,
      onProgress: (s) => progress.push(s.files),
    });
    assert.deepEqual(errors, []);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].path, "sock");
    assert.equal(warnings[0].message, 'Skipped "sock": cannot restore a socket');
    assert.deepEqual(stats, {
      files: 10,
      dirs: 3,
      symlinks: 2,
      specials: 1,
      bytes: 0 + 6 + 1_100_001 + 500_000 + 1 + 200_000 + 1 + 1 + 200_001,
      warnings: 1,
      errors: 0,
    });
    assert.ok(progress.length >= 15 && progress.at(-1) === 10);

    assert.deepEqual(await listTree(target), [
      "big.bin",
      "copy.bin",
      "empty",
      "fifo",
      "hard1",
      "hard2",
      "owned",
      "setuid",
      "small.txt",
      "sub",
      "sub/deeper",
      "sub/deeper/leaf.txt",
      "sub/empty-dir",
      "sub/link-abs",
      "sub/link-rel",
      "ünïcode ✓",
    ]);
    const read = (p: string) => Deno.readFile(join(target, p));
    assert.deepEqual(await read("empty"), new Uint8Array());
    assert.equal(decoder.decode(await read("small.txt")), "hello\n");
    assert.deepEqual(await read("big.bin"), concat(A, B, A, A, C));
    assert.deepEqual(await read("copy.bin"), concat(B, A));
    assert.deepEqual(await read("sub/deeper/leaf.txt"), concat(B, C));
    assert.equal(await Deno.readLink(join(target, "sub/link-rel")), "../small.txt");
    assert.equal(await Deno.readLink(join(target, "sub/link-abs")), "/nonexistent/target");
    assert.equal(decoder.decode(await read("sub/link-rel")), "hello\n");
    assert.ok((await Deno.lstat(join(target, "fifo"))).isFifo);
    const [h1, h2] = [
      await Deno.stat(join(target, "hard1")),
      await Deno.stat(join(target, "hard2")),
    ];
    assert.equal(h1.ino, h2.ino);
    assert.equal(h1.nlink, 2);

    await assertAttributes(target, 0o750, T0); // created by the restore: gets the root's
    await assertAttributes(join(target, "empty"), 0o600, T1);
    await assertAttributes(join(target, "small.txt"), 0o644, T2);
    await assertAttributes(join(target, "big.bin"), 0o755, T1);
    await assertAttributes(join(target, "copy.bin"), 0o640, T2);
    await assertAttributes(join(target, "fifo"), 0o640, T2);
    await assertAttributes(join(target, "sub"), 0o555, T2);
    await assertAttributes(join(target, "sub/deeper"), 0o700, T1);
    await assertAttributes(join(target, "sub/deeper/leaf.txt"), 0o644, T0);
    await assertAttributes(join(target, "sub/empty-dir"), 0o711, T0);
    await assertAttributes(join(target, "sub/link-rel"), 0o777, T1);
    await assertAttributes(join(target, "sub/link-abs"), 0o777, T2);
    if (IS_ROOT) {
      await assertAttributes(join(target, "setuid"), 0o4755, T2);
      const owned = await Deno.lstat(join(target, "owned"));
      assert.equal(owned.uid, 1234);
      assert.equal(owned.gid, 5678);
    }
  });
}

withServer(
  "restore() restores a selected path: a directory into the target, a file by its name",
  async ({ repo, tmp }) => {
    const ref = await writeTree(repo, ROUND_TRIP);
    const key = await commitTree(repo, ref, { path: "/srv/data" });
    const snapshots = await repo.listSnapshots();

    const sub = selectSnapshot(snapshots, `${key.slice(2, 10)}:/sub/deeper`);
    const dirNode = await resolvePath(repo, sub.snapshot.ref, sub.path);
    const { stats } = await run(repo, dirNode, join(tmp, "a"));
    assert.equal(stats.files, 1);
    assert.deepEqual(await listTree(join(tmp, "a")), ["leaf.txt"]);
    await assertAttributes(join(tmp, "a"), 0o700, T1);

    const file = selectSnapshot(snapshots, "/srv/data:small.txt");
    const fileNode = await resolvePath(repo, file.snapshot.ref, file.path);
    await Deno.mkdir(join(tmp, "b"), { mode: 0o701 });
    await run(repo, fileNode, join(tmp, "b"));
    assert.deepEqual(await listTree(join(tmp, "b")), ["small.txt"]);
    assert.equal(await Deno.readTextFile(join(tmp, "b", "small.txt")), "hello\n");
    // An existing target keeps its own attributes.
    assert.equal((await Deno.stat(join(tmp, "b"))).mode! & 0o777, 0o701);
  },
);

withServer(
  "restore() reports a corrupt blob by file name and leaves no partial file",
  async ({ server, repo, tmp }) => {
    // Large enough (≥ 512 KiB) to be stored on its own, not inside a pack.
    const bad = randomBytes(600_000);
    const root = await rootOf(repo, {
      type: "dir",
      name: "data",
      children: [
        { type: "file", name: "good.txt", chunks: [encoder.encode("fine")] },
        { type: "file", name: "bad.bin", chunks: [A, bad, B] },
      ],
    });
    const id = sha256(bad);
    const blobPath = join(server.dataDir, "blobs", "default", id.slice(0, 2), id);
    await Deno.chmod(blobPath, 0o644);
    const flipped = bad.slice();
    flipped[5000] ^= 1;
    await Deno.writeFile(blobPath, flipped);

    const target = join(tmp, "out");
    const { stats, errors } = await run(repo, root, target, { verify: true });
    assert.equal(stats.errors, 1);
    assert.equal(stats.files, 1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].path, "bad.bin");
    assert.match(errors[0].message, /^Cannot restore "bad\.bin": .*blob/);
    assert.deepEqual(await listTree(target), ["good.txt"]);
  },
);

withServer("restore() with verify re-reads what it wrote", async ({ repo, tmp }) => {
  const root = await rootOf(repo, {
    type: "dir",
    name: "data",
    children: [{ type: "file", name: "f.bin", chunks: [A, B] }],
  });
  // A source whose blobs arrive damaged but unnoticed (as if written badly).
  const lying: RestoreSource = {
    readMeta: (key) => repo.readMeta(key),
    readDir: (key) => repo.readDir(key),
    readContent: (key, size) => repo.readContent(key, size),
    getBlob: async (id) => {
      const data = (await repo.getBlob(id)).slice();
      if (id === sha256(B)) data[7] ^= 0xff;
      return data;
    },
  };
  const errors: RestoreIssue[] = [];
  const unverified = await restore(lying, root, join(tmp, "plain"));
  assert.equal(unverified.errors, 0);
  const verified = await restore(lying, root, join(tmp, "verified"), {
    verify: true,
    onError: (issue) => errors.push(issue),
  });
  assert.equal(verified.errors, 1);
  assert.equal(
    errors[0].message,
    `Cannot restore "f.bin": verifying failed, the bytes written at 300000 differ from chunk ${
      sha256(B)
    }`,
  );
  assert.deepEqual(await listTree(join(tmp, "verified")), []);
});

withServer(
  "restore() interrupted by a lost server leaves no partial file",
  async ({ server, repo, tmp }) => {
    const chunks = Array.from({ length: 8 }, () => randomBytes(256 * 1024));
    const files: TreeSpec[] = Array.from({ length: 40 }, (_, i) => ({
      type: "file",
      name: `f${String(i).padStart(2, "0")}`,
      chunks: [chunks[i % 8], ...chunks.slice(0, 4), chunks[(i + 3) % 8]],
    }));
    const root = await rootOf(repo, { type: "dir", name: "data", children: files });
    const target = join(tmp, "out");
    let killed: Promise<unknown> | undefined;
    const outcome = await restore(repo, root, target, {
      concurrency: 2,
      onProgress: (stats) => {
        if (stats.files >= 3) killed ??= server.stop("SIGKILL");
      },
    }).then((stats) => stats, (error: Error) => error);
    await killed;
    if (outcome instanceof Error) assert.equal(outcome.name, "ConnectionClosedError");
    else assert.ok(outcome.errors > 0 && outcome.files < 40, JSON.stringify(outcome));
    const names = await listTree(target);
    assert.ok(names.length >= 3 && names.length < 40, names.join());
    for (const name of names) {
      const i = Number(name.slice(1));
      const expected = concat(chunks[i % 8], ...chunks.slice(0, 4), chunks[(i + 3) % 8]);
      assert.deepEqual(await Deno.readFile(join(target, name)), expected, name);
    }
  },
);

withServer(
  "restore() reports a missing blob and a size that does not match",
  async ({ repo, tmp }) => {
    const lost = randomBytes(1000);
    const root = await rootOf(repo, {
      type: "dir",
      name: "data",
      children: [
        { type: "file", name: "lost", chunks: [A, lost], missing: [sha256(lost)] },
        { type: "file", name: "liar", chunks: [A], size: 10 },
      ],
    });
    const target = join(tmp, "out");
    const { stats, errors } = await run(repo, root, target);
    assert.equal(stats.errors, 2);
    assert.equal(errors[0].path, "liar");
    assert.equal(
      errors[0].message,
      'Cannot restore "liar": its content has 300000 bytes, its meta says 10',
    );
    assert.equal(errors[1].path, "lost");
    assert.match(errors[1].message, /Cannot restore "lost": .*does not have it/);
    assert.deepEqual(await listTree(target), []);
  },
);

withServer(
  "restore() refuses unsafe names and writes nothing outside the target",
  async ({ repo, tmp }) => {
    const pwned = (name: string): TreeSpec => ({ type: "file", name, chunks: [C] });
    const root = await rootOf(repo, {
      type: "dir",
      name: "data",
      children: [
        pwned(""),
        pwned("../x"),
        pwned("a/b"),
        pwned("/tmp/ddb-restore-pwned"),
        pwned("x\0y"),
        { type: "file", name: new Uint8Array([0x61, 0xff, 0xfe]), chunks: [C] },
        { type: "dir", name: "..", children: [pwned("pwned")] },
        { type: "dir", name: ".", children: [pwned("dot-pwned")] },
        { type: "symlink", name: "../evil-link", target: "/" },
        pwned("ok"),
      ],
    });
    const target = join(tmp, "target");
    const { stats, errors } = await run(repo, root, target);
    assert.equal(stats.errors, 9);
    assert.equal(stats.files, 1);
    const messages = errors.map((e) => e.message).sort();
    assert.deepEqual(messages, [
      'Cannot restore "": unsafe name, it is empty',
      'Cannot restore ".": unsafe name, it is a relative path component',
      'Cannot restore "..": unsafe name, it is a relative path component',
      'Cannot restore "..\\x2fevil-link": unsafe name, it contains "/"',
      'Cannot restore "..\\x2fx": unsafe name, it contains "/"',
      'Cannot restore "\\x2ftmp\\x2fddb-restore-pwned": unsafe name, it contains "/"',
      'Cannot restore "a\\x2fb": unsafe name, it contains "/"',
      'Cannot restore "a\\xff\\xfe": unsafe name, it is not valid UTF-8',
      'Cannot restore "x\\x00y": unsafe name, it contains NUL',
    ]);
    assert.deepEqual(await listTree(tmp), ["target", "target/ok"]);
    await assert.rejects(() => Deno.lstat("/tmp/ddb-restore-pwned"), Deno.errors.NotFound);
  },
);

withServer(
  "restore() never follows a symlink of the snapshot to write a directory's children",
  async ({ repo, tmp }) => {
    const outside = join(tmp, "outside");
    await Deno.mkdir(outside);
    // Two entries named "x": whichever comes first (equal names are ordered
    // by meta key), the other is refused. Vary the symlink's mtime (so its
    // key) until both orders were seen.
    const orders = new Set<string>();
    for (let i = 0; orders.size < 2; i++) {
      assert.ok(i < 64, "only one order of the two entries occurred");
      const root = await rootOf(repo, {
        type: "dir",
        name: "data",
        children: [
          { type: "symlink", name: "x", target: outside, mtimeNs: BigInt(i) },
          {
            type: "dir",
            name: "x",
            children: [{ type: "file", name: "pwned", chunks: [C] }],
          },
        ],
      });
      for (const overwrite of [false, true]) {
        const target = join(tmp, `target-${i}-${overwrite}`);
        const { stats, errors } = await run(repo, root, target, { overwrite });
        assert.equal(stats.errors, 1);
        assert.equal(errors[0].path, "x");
        assert.match(errors[0].message, /another entry of this name/);
        assert.deepEqual(await listTree(outside), []);
        const info = await Deno.lstat(join(target, "x"));
        if (info.isDirectory) {
          orders.add("dir first");
          assert.deepEqual(await listTree(target), ["x", "x/pwned"]);
        } else {
          orders.add("symlink first");
          assert.equal(await Deno.readLink(join(target, "x")), outside);
        }
      }
    }
  },
);

withServer("restore() never follows a symlink found in the target", async ({ repo, tmp }) => {
  const outside = join(tmp, "outside");
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "victim.txt"), "original");
  const root = await rootOf(repo, {
    type: "dir",
    name: "data",
    children: [
      { type: "dir", name: "x", children: [{ type: "file", name: "pwned", chunks: [C] }] },
      { type: "file", name: "f", chunks: [encoder.encode("restored")] },
    ],
  });
  const target = join(tmp, "target");
  await Deno.mkdir(target);
  await Deno.symlink(outside, join(target, "x"));
  await Deno.symlink(join(outside, "victim.txt"), join(target, "f"));

  const first = await run(repo, root, target);
  assert.equal(first.stats.errors, 2);
  assert.deepEqual(first.errors.map((e) => e.message).sort(), [
    'Cannot restore "f": it exists (not overwritten)',
    'Cannot restore directory "x": a symlink is in its place (not followed)',
  ]);
  assert.deepEqual(await listTree(outside), ["victim.txt"]);

  const second = await run(repo, root, target, { overwrite: true });
  assert.deepEqual(second.errors, []);
  assert.deepEqual(await listTree(outside), ["victim.txt"]);
  assert.equal(await Deno.readTextFile(join(outside, "victim.txt")), "original");
  assert.deepEqual(await listTree(target), ["f", "x", "x/pwned"]);
  assert.ok((await Deno.lstat(join(target, "f"))).isFile);
  assert.equal(await Deno.readTextFile(join(target, "f")), "restored");
});

withServer(
  "restore() keeps existing files unless overwrite, and merges directories",
  async ({ repo, tmp }) => {
    const root = await rootOf(repo, {
      type: "dir",
      name: "data",
      children: [
        { type: "file", name: "a.txt", chunks: [encoder.encode("new")] },
        { type: "symlink", name: "l", target: "new-target" },
        { type: "dir", name: "d", children: [{ type: "file", name: "b.txt", chunks: [C] }] },
        { type: "file", name: "was-dir", chunks: [C] },
      ],
    });
    const target = join(tmp, "target");
    await Deno.mkdir(join(target, "d"), { recursive: true });
    await Deno.mkdir(join(target, "was-dir"));
    await Deno.writeTextFile(join(target, "a.txt"), "old");
    await Deno.writeTextFile(join(target, "d", "keep"), "mine");
    await Deno.symlink("old-target", join(target, "l"));

    const first = await run(repo, root, target);
    assert.deepEqual(first.errors.map((e) => e.message).sort(), [
      'Cannot restore "a.txt": it exists (not overwritten)',
      'Cannot restore "l": it exists (not overwritten)',
      'Cannot restore "was-dir": it exists (not overwritten)',
    ]);
    assert.equal(await Deno.readTextFile(join(target, "a.txt")), "old");
    assert.equal(await Deno.readLink(join(target, "l")), "old-target");
    assert.deepEqual(await listTree(join(target, "d")), ["b.txt", "keep"]);

    const second = await run(repo, root, target, { overwrite: true });
    assert.deepEqual(second.errors.map((e) => e.message).sort(), [
      'Cannot restore "was-dir": a directory is in its place',
    ]);
    assert.equal(await Deno.readTextFile(join(target, "a.txt")), "new");
    assert.equal(await Deno.readLink(join(target, "l")), "new-target");
    assert.deepEqual(await listTree(target), [
      "a.txt",
      "d",
      "d/b.txt",
      "d/keep",
      "l",
      "was-dir",
    ]);
  },
);

withServer("restore() applies include and exclude filters", async ({ repo, tmp }) => {
  const file = (name: string): TreeSpec => ({ type: "file", name, chunks: [encoder.encode(name)] });
  const root = await rootOf(repo, {
    type: "dir",
    name: "data",
    children: [
      {
        type: "dir",
        name: "a",
        children: [
          { type: "dir", name: "b", children: [file("f.txt"), file("g.txt")] },
          { type: "dir", name: "c", children: [file("h.txt")] },
          { type: "dir", name: "empty", children: [] },
        ],
      },
      file("top.txt"),
      {
        type: "dir",
        name: "skip",
        children: [{ type: "dir", name: "deep", children: [file("x")] }],
      },
    ],
  });
  const restoreTo = async (name: string, options: RestoreOptions) => {
    const { stats, errors } = await run(repo, root, join(tmp, name), options);
    assert.deepEqual(errors, []);
    return { stats, tree: await listTree(join(tmp, name)) };
  };

  const one = await restoreTo("one", { include: (p) => p === "a/b/f.txt" });
  assert.deepEqual(one.tree, ["a", "a/b", "a/b/f.txt"]);
  assert.equal(one.stats.files, 1);
  assert.equal(one.stats.dirs, 2);

  const dir = await restoreTo("dir", { include: (p) => p === "a/b" || p === "a/empty" });
  assert.deepEqual(dir.tree, ["a", "a/b", "a/b/f.txt", "a/b/g.txt", "a/empty"]);

  const seen: string[] = [];
  const excluded = await restoreTo("excluded", {
    exclude: (p) => {
      seen.push(p);
      return p === "skip" || p.endsWith("/c");
    },
  });
  assert.deepEqual(excluded.tree, ["a", "a/b", "a/b/f.txt", "a/b/g.txt", "a/empty", "top.txt"]);
  assert.ok(!seen.some((p) => p.startsWith("skip/") || p.startsWith("a/c/")));

  const both = await restoreTo("both", {
    include: (p) => p.startsWith("a"),
    exclude: (p) => p === "a/b/g.txt",
  });
  assert.deepEqual(both.tree, ["a", "a/b", "a/b/f.txt", "a/c", "a/c/h.txt", "a/empty"]);
});

withServer("restore() refuses a target that is not a directory", async ({ repo, tmp }) => {
  const root = await rootOf(repo, { type: "dir", name: "data", children: [] });
  await Deno.writeTextFile(join(tmp, "file"), "");
  await assert.rejects(
    () => restore(repo, root, join(tmp, "file")),
    (e: Error) => e instanceof RestoreError && /is not a directory/.test(e.message),
  );
});

withServer(
  "restore() restores many small files in batches, each directory's attributes after its files",
  async ({ repo, tmp }) => {
    const umask = Deno.umask();
    const modes = [0o644, 0o600, 0o640, 0o755, 0o4755].map((m) => m & ~umask | (m & ~0o777));
    const dirs: TreeSpec[] = Array.from({ length: 12 }, (_, d) => ({
      type: "dir",
      name: `d${String(d).padStart(2, "0")}`,
      // Read-only directories too: their files must be in before their mode is set.
      mode: d % 3 === 0 ? 0o555 : 0o750,
      mtimeNs: T0 + BigInt(d) * 1_000_000n,
      children: Array.from({ length: 40 }, (_, f): TreeSpec => ({
        type: "file",
        name: `f${String(f).padStart(2, "0")}`,
        chunks: f === 0 ? [] : [encoder.encode(`file ${d}/${f} `.repeat(f))],
        mode: modes[f % modes.length],
        mtimeNs: T1 + BigInt(d * 100 + f) * 1_000_000n,
      })),
    }));
    const root = await rootOf(repo, { type: "dir", name: "data", children: dirs });
    const target = join(tmp, "out");
    const { stats, errors } = await run(repo, root, target, { batch: 16, concurrency: 50 });
    assert.deepEqual(errors, []);
    assert.equal(stats.files, 480);
    assert.equal(stats.dirs, 12);
    for (let d = 0; d < 12; d++) {
      const dir = join(target, `d${String(d).padStart(2, "0")}`);
      for (let f = 0; f < 40; f++) {
        const path = join(dir, `f${String(f).padStart(2, "0")}`);
        assert.equal(decoder.decode(await Deno.readFile(path)), `file ${d}/${f} `.repeat(f));
        await assertAttributes(
          path,
          modes[f % modes.length],
          T1 + BigInt(d * 100 + f) * 1_000_000n,
        );
      }
      await assertAttributes(dir, d % 3 === 0 ? 0o555 : 0o750, T0 + BigInt(d) * 1_000_000n);
      await Deno.chmod(dir, 0o755);
    }
    assert.equal((await listTree(target)).filter((p) => p.includes(".ddb-restore-")).length, 0);
  },
);

withServer(
  "restore() downloads the chunks that side-by-side files share once",
  async ({ repo, tmp }) => {
    const chunks = Array.from({ length: 6 }, () => randomBytes(64 * 1024));
    const root = await rootOf(repo, {
      type: "dir",
      name: "data",
      children: [
        { type: "file", name: "a", chunks },
        { type: "file", name: "b", chunks: [randomBytes(1000), ...chunks.slice(1)] },
      ],
    });
    const fetched: string[] = [];
    const counting: RestoreSource = {
      readMeta: (key) => repo.readMeta(key),
      readDir: (key) => repo.readDir(key),
      readContent: (key, size) => repo.readContent(key, size),
      getBlob: (id, size) => {
        fetched.push(id);
        return repo.getBlob(id, size);
      },
    };
    const target = join(tmp, "out");
    const stats = await restore(counting, root, target);
    assert.equal(stats.errors, 0);
    assert.deepEqual(await Deno.readFile(join(target, "a")), concat(...chunks));
    assert.equal(fetched.length, new Set(fetched).size, "a chunk was downloaded twice");
    assert.equal(fetched.length, 7);
  },
);
