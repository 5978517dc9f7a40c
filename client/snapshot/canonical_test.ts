import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { listId, recordId } from "./canonical.ts";

const enc = new TextEncoder();

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

Deno.test("record and list ids are pinned: a change would re-key every repository", () => {
  const fields = new Map([["size", enc.encode("12")], ["name", enc.encode("photo.jpg")]]);
  assert.equal(
    recordId("meta", fields),
    "0d25db2634be8ad371c1c428027bc6d9b5454a88fc595ae0751531e5260832eb",
  );
  assert.equal(
    listId("dir", ["m:1", "m:2"]),
    "015210c9ce04acb2fad239ef8f1293ee65306a9b23cb6e53a424be47b612ede8",
  );
  assert.equal(
    listId("content", []),
    "6b3939f3ff8c4e6643c6025dfd41accefec0a7f13c1d269ee70ac2086d166b40",
  );
});

Deno.test("recordId is the SHA-256 of the documented encoding, fields sorted by name", () => {
  const fields = new Map([["b", enc.encode("2")], ["a", new Uint8Array(3000)], [
    "ü",
    enc.encode("\n"),
  ]]);
  const tag = enc.encode("ddb:meta:v1");
  const hash = createHash("sha256").update(u32(tag.length)).update(tag);
  for (const name of ["a", "b", "ü"]) {
    const key = enc.encode(name);
    const value = fields.get(name)!;
    hash.update(u32(key.length)).update(key).update(u32(value.length)).update(value);
  }
  assert.equal(recordId("meta", fields), hash.digest("hex"));
  assert.notEqual(recordId("other", fields), recordId("meta", fields), "kinds never share ids");
});
