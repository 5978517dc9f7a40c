import assert from "node:assert/strict";
import { startServer, type TestServer } from "../../tests/_server.ts";
import { Repository } from "../repo/repository.ts";
import { type DirSpec, type TreeSpec, writeTree } from "../snapshot/_testing/write_tree.ts";
import type { NodeMeta } from "../snapshot/schema.ts";
import type { TreeReader } from "../snapshot/walk.ts";
import { type Change, type DiffOptions, diffTrees } from "./diff.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Counts the reads of a real repository. */
class CountingReader implements TreeReader {
  metaReads = 0;
  dirReads = 0;
  readonly #repo: Repository;
  constructor(repo: Repository) {
    this.#repo = repo;
  }
  readMeta(key: string): Promise<NodeMeta> {
    this.metaReads++;
    return this.#repo.readMeta(key);
  }
  readDir(key: string): Promise<string[]> {
    this.dirReads++;
    return this.#repo.readDir(key);
  }
}

async function withRepo(fn: (repo: Repository) => Promise<void>): Promise<void> {
  const server: TestServer = await startServer();
  const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 1);
  try {
    await fn(repo);
  } finally {
    await repo.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
}

async function changes(
  reader: TreeReader,
  before: string,
  after: string,
  options?: DiffOptions,
): Promise<string[]> {
  const out: string[] = [];
  for await (const c of diffTrees(reader, before, after, options)) out.push(show(c));
  return out;
}

function show(c: Change): string {
  return `${c.kind} /${c.path.map((p) => decoder.decode(p)).join("/")}`;
}

function file(name: string, text: string, extra: Partial<TreeSpec> = {}): TreeSpec {
  return { type: "file", name, chunks: [encoder.encode(text)], ...extra } as TreeSpec;
}

function dir(name: string, children: TreeSpec[], extra: Partial<DirSpec> = {}): DirSpec {
  return { type: "dir", name, children, ...extra };
}

/** A wide tree: `dirs` directories of `files` files; `edit` changes one file's text. */
function wide(dirs: number, files: number, edit?: { dir: number; file: number }): DirSpec {
  return dir(
    "root",
    Array.from({ length: dirs }, (_, d) =>
      dir(
        `dir-${String(d).padStart(2, "0")}`,
        Array.from({ length: files }, (_, f) =>
          file(
            `file-${String(f).padStart(2, "0")}`,
            edit?.dir === d && edit.file === f ? "edited" : `${d}/${f}`,
          )),
      )),
  );
}

Deno.test("diffTrees() reads only the directories on the path to a change", async () => {
  await withRepo(async (repo) => {
    const before = await writeTree(repo, wide(30, 30));
    const after = await writeTree(repo, wide(30, 30, { dir: 17, file: 3 }));
    const reader = new CountingReader(repo);
    assert.deepEqual(await changes(reader, before, after), ["modified /dir-17/file-03"]);
    // Two roots, two listings of each changed directory, two metas per changed child.
    assert.equal(reader.dirReads, 4);
    assert.equal(reader.metaReads, 2 + 2 + 2);

    const same = new CountingReader(repo);
    assert.deepEqual(await changes(same, before, before), []);
    assert.equal(same.metaReads + same.dirReads, 0, "identical trees are not read at all");
  });
});

Deno.test("diffTrees() lists added and removed subtrees, type changes, and attributes on request", async () => {
  await withRepo(async (repo) => {
    const before = await writeTree(
      repo,
      dir("root", [
        file("keep", "same"),
        file("mod", "v1"),
        dir("gone", [file("x", "x"), dir("sub", [file("y", "y")])]),
        file("chmod", "c", { mode: 0o644 }),
        { type: "symlink", name: "link", target: "keep" },
        file("was-file", "f"),
      ]),
    );
    const after = await writeTree(
      repo,
      dir("root", [
        file("keep", "same"),
        file("mod", "v2"),
        dir("new", [dir("dir", [file("n", "n")])]),
        file("chmod", "c", { mode: 0o600 }),
        { type: "symlink", name: "link", target: "mod" },
        dir("was-file", [file("inner", "i")]),
      ], { mtimeNs: 5n }),
    );
    const reader = new CountingReader(repo);
    assert.deepEqual(await changes(reader, before, after), [
      "removed /gone",
      "removed /gone/sub",
      "removed /gone/sub/y",
      "removed /gone/x",
      "modified /link",
      "modified /mod",
      "added /new",
      "added /new/dir",
      "added /new/dir/n",
      "type /was-file",
      "added /was-file/inner",
    ]);
    assert.deepEqual(await changes(reader, before, after, { metadata: true }), [
      "metadata /",
      "metadata /chmod",
      "removed /gone",
      "removed /gone/sub",
      "removed /gone/sub/y",
      "removed /gone/x",
      "modified /link",
      "modified /mod",
      "added /new",
      "added /new/dir",
      "added /new/dir/n",
      "type /was-file",
      "added /was-file/inner",
    ]);
    // The other way round, additions become removals.
    assert.deepEqual((await changes(reader, after, before)).slice(0, 2), [
      "added /gone",
      "added /gone/sub",
    ]);
  });
});

Deno.test("diffTrees() ignores the roots' names and compares a file root", async () => {
  await withRepo(async (repo) => {
    const a = await writeTree(repo, dir("a", [file("f", "1")]));
    const b = await writeTree(repo, dir("b", [file("f", "1")]));
    assert.deepEqual(await changes(repo, a, b), []);
    const x = await writeTree(repo, file("x", "1"));
    const y = await writeTree(repo, file("y", "2"));
    assert.deepEqual(await changes(repo, x, y), ["modified /"]);
  });
});
