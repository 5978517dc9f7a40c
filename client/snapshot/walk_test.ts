import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { Repository } from "../repo/repository.ts";
import { startServer } from "../../tests/_server.ts";
import { commitTree, writeTree } from "./_testing/write_tree.ts";
import { dirKeyOf, type NodeMeta, type NodeType } from "./schema.ts";
import { NodeNotFoundError, resolvePath, type TreeReader, WalkError, walkTree } from "./walk.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An in-memory tree: meta keys → metas, dir keys → members; counts reads. */
class FakeReader implements TreeReader {
  readonly metas = new Map<string, NodeMeta>();
  readonly dirs = new Map<string, string[]>();
  dirReads = 0;
  delayMs = 0;
  #next = 0;

  node(name: string | Uint8Array, type: NodeType, children?: string[]): string {
    const key = `m:${this.#next++}`;
    const meta: NodeMeta = {
      name: typeof name === "string" ? encoder.encode(name) : name,
      type,
      size: 0,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtimeNs: 0n,
    };
    if (type === "dir") {
      meta.ref = dirKeyOf(children ?? []);
      this.dirs.set(meta.ref, children ?? []);
    }
    if (type === "file") meta.ref = "c:0";
    this.metas.set(key, meta);
    return key;
  }

  async readMeta(key: string): Promise<NodeMeta> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const meta = this.metas.get(key);
    if (meta === undefined) throw new Error(`no meta ${key}`);
    return meta;
  }

  async readDir(key: string): Promise<string[]> {
    this.dirReads++;
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return [...this.dirs.get(key) ?? []].reverse();
  }
}

function show(path: Uint8Array[]): string {
  return path.map((p) => decoder.decode(p)).join("/");
}

async function collect(it: AsyncIterable<{ path: Uint8Array[] }>): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of it) out.push(show(entry.path));
  return out;
}

function sampleTree(fake: FakeReader): string {
  return fake.node("root", "dir", [
    fake.node("b", "dir", [fake.node("z", "file"), fake.node("a", "file")]),
    fake.node("B", "file"),
    fake.node("a", "dir", [
      fake.node("c", "dir", [fake.node("deep", "file")]),
      fake.node("b", "symlink"),
      fake.node("empty", "dir", []),
    ]),
    fake.node("é", "file"), // 0xc3 0xa9 sorts after ASCII
    fake.node("aa", "file"),
  ]);
}

Deno.test("walkTree() yields depth-first with children in byte order", async () => {
  const fake = new FakeReader();
  const root = sampleTree(fake);
  const expected = [
    "",
    "B",
    "a",
    "a/b",
    "a/c",
    "a/c/deep",
    "a/empty",
    "aa",
    "b",
    "b/a",
    "b/z",
    "é",
  ];
  for (const prefetch of [1, 2, 64]) {
    assert.deepEqual(await collect(walkTree(fake, root, { prefetch })), expected);
  }
  fake.delayMs = 1;
  assert.deepEqual(await collect(walkTree(fake, root)), expected);
});

Deno.test("walkTree() reads a directory's metas with readMetas when the reader has it", async () => {
  const fake = new FakeReader();
  const root = sampleTree(fake);
  const batches: number[] = [];
  const batching = Object.assign(fake, {
    readMetas(keys: readonly string[]) {
      batches.push(keys.length);
      return Promise.allSettled(keys.map((key) => fake.readMeta(key)));
    },
  });
  const errors: WalkError[] = [];
  fake.dirs.get(fake.metas.get(root)!.ref!)!.push("m:missing");
  const entries = await collect(walkTree(batching, root, { onError: (e) => errors.push(e) }));
  assert.deepEqual(entries.length, 12);
  assert.match(errors[0].message, /Cannot read entry "m:missing" of \/: no meta m:missing/);
  // The root's metas in one call, then each directory's: none one by one.
  assert.deepEqual(batches.sort((a, b) => a - b), [0, 1, 2, 3, 6]);
});

Deno.test("walkTree() yields a non-directory root alone", async () => {
  const fake = new FakeReader();
  const root = fake.node("file", "file");
  assert.deepEqual(await collect(walkTree(fake, root)), [""]);
});

Deno.test("walkTree() does not enter directories descend() refuses", async () => {
  const fake = new FakeReader();
  const root = sampleTree(fake);
  const entries = await collect(walkTree(fake, root, {
    descend: (e) => show(e.path) !== "a",
  }));
  assert.deepEqual(entries, ["", "B", "a", "aa", "b", "b/a", "b/z", "é"]);
  // The directories under "a" were never read: root, b.
  assert.equal(fake.dirReads, 2);
});

Deno.test("walkTree() reports unreadable entries and cycles, or throws without onError", async () => {
  const fake = new FakeReader();
  const loopKey = "d:loop";
  const loop: NodeMeta = {
    name: encoder.encode("loop"),
    type: "dir",
    size: 0,
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtimeNs: 0n,
    ref: loopKey,
  };
  fake.metas.set("m:loop", loop);
  fake.dirs.set(loopKey, ["m:loop", "m:missing", fake.node("f", "file")]);
  const root = fake.node("root", "dir", ["m:loop"]);
  const errors: WalkError[] = [];
  const entries = await collect(walkTree(fake, root, { onError: (e) => errors.push(e) }));
  assert.deepEqual(entries, ["", "loop", "loop/f", "loop/loop"]);
  assert.equal(errors.length, 2);
  assert.match(errors[0].message, /Cannot read entry "m:missing" of \/loop: no meta m:missing/);
  assert.match(errors[1].message, /Cannot enter \/loop\/loop: it contains itself/);
  assert.deepEqual(show(errors[1].path), "loop");

  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const entry of walkTree(fake, root)) seen.push(show(entry.path));
  }, WalkError);
  assert.deepEqual(seen, ["", "loop"]);
});

Deno.test("walkTree() reads at most `prefetch` directories ahead", async () => {
  const fake = new FakeReader();
  const dirs: string[] = [];
  for (let i = 0; i < 200; i++) {
    dirs.push(fake.node(`d${String(i).padStart(3, "0")}`, "dir", [fake.node("f", "file")]));
  }
  const root = fake.node("root", "dir", dirs);
  let entered = 0;
  let maxAhead = 0;
  for await (const entry of walkTree(fake, root, { prefetch: 5 })) {
    if (entry.meta.type === "dir") entered++;
    await new Promise((r) => setTimeout(r, 0));
    maxAhead = Math.max(maxAhead, fake.dirReads - entered);
  }
  assert.equal(entered, 201);
  assert.equal(fake.dirReads, 201);
  assert.ok(maxAhead <= 5, `read ${maxAhead} directories ahead`);
  assert.ok(maxAhead >= 2, `read only ${maxAhead} directories ahead`);
});

Deno.test("walkTree() lets go of a directory's entries once it is walked", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const fake = new FakeReader();
  const dirs: string[] = [];
  for (let i = 0; i < 20; i++) {
    const files = Array.from({ length: 50 }, (_, j) => fake.node(`f${j}`, "file"));
    dirs.push(fake.node(`d${String(i).padStart(2, "0")}`, "dir", files));
  }
  const root = fake.node("root", "dir", dirs);
  // Fresh metas on every read, so that only the walk can keep them alive.
  const first: WeakRef<NodeMeta>[] = [];
  const reader: TreeReader = {
    readDir: (key) => fake.readDir(key),
    readMeta: async (key) => {
      const meta = { ...await fake.readMeta(key) };
      if (meta.type === "file" && first.length < 50) first.push(new WeakRef(meta));
      return meta;
    },
  };
  let alive = -1;
  for await (const entry of walkTree(reader, root, { prefetch: 2 })) {
    if (show(entry.path) !== "d10") continue;
    // WeakRefs made in this turn are kept until it ends.
    await new Promise((r) => setTimeout(r, 0));
    gc();
    alive = first.filter((ref) => ref.deref() !== undefined).length;
  }
  assert.equal(first.length, 50);
  assert.equal(alive, 0, "the entries of d00, walked long before d10");
});

Deno.test("resolvePath() finds nodes and names what is missing", async () => {
  const fake = new FakeReader();
  const root = sampleTree(fake);
  assert.equal((await resolvePath(fake, root, [])).metaKey, root);
  const deep = await resolvePath(fake, root, ["a", "c", "deep"]);
  assert.equal(decoder.decode(deep.meta.name), "deep");
  assert.equal(
    decoder.decode((await resolvePath(fake, root, [encoder.encode("é")])).meta.name),
    "é",
  );
  await assert.rejects(() => resolvePath(fake, root, ["a", "x"]), (e: Error) => {
    assert.ok(e instanceof NodeNotFoundError);
    assert.equal(e.message, "Cannot find /a/x");
    return true;
  });
  await assert.rejects(
    () => resolvePath(fake, root, ["B", "x"]),
    (e: Error) => e instanceof NodeNotFoundError && /\/B is not a directory/.test(e.message),
  );
});

Deno.test("walkTree() walks 50,000 entries of a real server quickly", async () => {
  const server = await startServer();
  const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port });
  try {
    // 250 directories × 200 files (+ one level of grouping).
    const groups = [];
    for (let g = 0; g < 5; g++) {
      const dirs = [];
      for (let d = 0; d < 50; d++) {
        const files = [];
        for (let f = 0; f < 200; f++) {
          files.push({ type: "file" as const, name: `file-${f}`, chunks: [], mtimeNs: BigInt(f) });
        }
        dirs.push({ type: "dir" as const, name: `dir-${d}`, children: files });
      }
      groups.push({ type: "dir" as const, name: `group-${g}`, children: dirs });
    }
    const ref = await writeTree(repo, { type: "dir", name: "root", children: groups });
    await commitTree(repo, ref);
    const start = performance.now();
    let count = 0;
    let files = 0;
    for await (const entry of walkTree(repo, ref)) {
      count++;
      if (entry.meta.type === "file") files++;
    }
    const ms = performance.now() - start;
    console.log(`walked ${count} entries in ${ms.toFixed(0)} ms (${(count / ms).toFixed(0)}/ms)`);
    assert.equal(files, 50_000);
    assert.equal(count, 1 + 5 + 250 + 50_000);
    assert.ok(ms < 20_000, `walking took ${ms} ms`);
  } finally {
    await repo.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
