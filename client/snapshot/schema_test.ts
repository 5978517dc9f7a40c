import assert from "node:assert/strict";
import {
  blobIdOfRef,
  contentId,
  contentKey,
  contentRefOf,
  metaFields,
  metaFieldsV1,
  metaKeyOf,
  type NodeMeta,
  parseMeta,
  parseSnapshot,
  SchemaError,
  type Snapshot,
  snapshotFields,
} from "./schema.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

const FILE: NodeMeta = {
  name: bytes("photo.jpg"),
  type: "file",
  size: 12,
  mode: 0o640,
  uid: 1,
  gid: 2,
  mtimeNs: 123n,
  ref: "c:" + "ab".repeat(32),
  links: "7:8",
};

Deno.test("a meta hash has two fields: attrs and ref", () => {
  assert.deepEqual([...metaFields(FILE).keys()], ["attrs", "ref"]);
  const link: NodeMeta = { ...FILE, type: "symlink", ref: undefined, target: bytes("x") };
  delete link.ref;
  assert.deepEqual([...metaFields(link).keys()], ["attrs"]);
});

Deno.test("metaKeyOf is pinned for schema version 2", () => {
  // Changing it would make every meta of an existing repository look new.
  // Computed independently: SHA-256 of the canonical record (canonical.ts)
  // of {attrs: 02 66 0c a003 01 02 f601 09 "photo.jpg" 6b 03 "7:8", ref}.
  assert.equal(metaKeyOf(FILE), metaKeyOf({ ...FILE }));
  assert.equal(metaKeyOf(FILE), "m:" + PINNED_META_ID);
  assert.notEqual(metaKeyOf(FILE), metaKeyOf({ ...FILE, mtimeNs: 124n }));
});
const PINNED_META_ID = "872b48efd6bb4553238a9c1cd2d9ad57922b1b5f5e2a7a9b4117336c6e508c29";

Deno.test("parseMeta reads schema 2 and schema 1 metas alike", () => {
  assert.deepEqual(parseMeta("m:x", metaFields(FILE)), FILE);
  assert.deepEqual(parseMeta("m:x", metaFieldsV1(FILE)), FILE);
  const dir: NodeMeta = { ...FILE, type: "dir", ref: "d:" + "cd".repeat(32) };
  delete dir.links;
  assert.deepEqual(parseMeta("m:y", metaFields(dir)), dir);
  assert.deepEqual(parseMeta("m:y", metaFieldsV1(dir)), dir);
});

Deno.test("parseMeta refuses malformed schema 2 metas", () => {
  const fields = metaFields(FILE);
  const cases: [Map<string, Uint8Array>, RegExp][] = [
    [new Map([...fields, ["extra", bytes("1")]]), /unknown field "extra"/],
    [new Map([["attrs", new Uint8Array([2])]]), /attrs truncated/],
    [new Map([["attrs", fields.get("attrs")!]]), /a file without a content ref/],
    [new Map([...fields, ["ref", bytes("d:x")]]), /a file without a content ref/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(
      () => parseMeta("m:bad", bad),
      (e) => e instanceof SchemaError && message.test(e.message),
    );
  }
  const fifo = metaFields({ ...FILE, type: "fifo" });
  assert.throws(() => parseMeta("m:f", fifo), /a fifo with a ref/);
});

Deno.test("parseSnapshot reads schema 1, 2 and 3 snapshots and refuses newer ones", () => {
  const snapshot: Snapshot = {
    ref: "m:" + "ef".repeat(32),
    host: "nas",
    path: "/photos",
    timeUs: 5n,
    tags: ["a", "b"],
    files: 1,
    dirs: 2,
    bytes: 3,
    newBytes: 4,
    newChunks: 5,
    errors: 0,
    client: "0.1.0",
  };
  const fields = snapshotFields(snapshot);
  assert.equal(new TextDecoder().decode(fields.get("schema")), "3");
  assert.deepEqual(parseSnapshot("s:x", fields), snapshot);
  assert.deepEqual(parseSnapshot("s:x", new Map([...fields, ["schema", bytes("1")]])), snapshot);
  assert.deepEqual(parseSnapshot("s:x", new Map([...fields, ["schema", bytes("2")]])), snapshot);
  assert.throws(
    () => parseSnapshot("s:x", new Map([...fields, ["schema", bytes("4")]])),
    /schema "4" is not one of 1, 2, 3/,
  );
});

Deno.test("a one-chunk file's ref names its blob (schema 3); longer contents have a list", () => {
  const id = "ab".repeat(32);
  const other = "cd".repeat(32);
  assert.equal(contentRefOf([{ id, size: 10 }]), `b:${id}`);
  assert.equal(blobIdOfRef(`b:${id}`), id);
  assert.equal(blobIdOfRef(`c:${id}`), undefined);
  assert.equal(blobIdOfRef(`b:${id.toUpperCase()}`), undefined);
  assert.equal(blobIdOfRef(`b:${id}0`), undefined);
  const two = [{ id, size: 10 }, { id: other, size: 5 }];
  assert.equal(contentRefOf(two), contentKey(contentId(two)));
  assert.equal(contentRefOf([]), contentKey(contentId([])));
  // A file meta may hold either ref; a b: ref must name a blob id.
  const meta: NodeMeta = {
    name: bytes("f"),
    type: "file",
    size: 10,
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtimeNs: 1n,
    ref: `b:${id}`,
  };
  assert.deepEqual(parseMeta("m:x", metaFields(meta)), meta);
  assert.throws(
    () => parseMeta("m:x", metaFields({ ...meta, ref: "b:nothex" })),
    /a file without a content ref/,
  );
  assert.throws(
    () => parseMeta("m:x", metaFields({ ...meta, type: "dir" })),
    /a directory without a dir ref/,
  );
});
