import assert from "node:assert/strict";
import { FIRST_HASHED_INODE, inodeOf, InodeTable } from "./inode_table.ts";

Deno.test("inodeOf() is a stable 53-bit hash above the fixed numbers", () => {
  assert.equal(inodeOf("dir|1|m:abc"), inodeOf("dir|1|m:abc"));
  assert.notEqual(inodeOf("dir|1|m:abc"), inodeOf("dir|2|m:abc"));
  const seen = new Set<number>();
  for (let i = 0; i < 100_000; i++) {
    const ino = inodeOf(`node|m:${i}`);
    assert.ok(Number.isSafeInteger(ino) && ino >= FIRST_HASHED_INODE);
    seen.add(ino);
  }
  assert.equal(seen.size, 100_000);
});

Deno.test("InodeTable gives one number per identity, and the same one after it was dropped", () => {
  const table = new InodeTable<string>(2);
  const a = table.intern("a", (ino) => `A${ino}`, true);
  assert.equal(a.ino, inodeOf("a"));
  assert.equal(a.value, `A${a.ino}`);
  assert.equal(table.intern("a", () => "other", false).value, a.value);
  table.fix(1, "root", "R");
  assert.equal(table.get(1), "R");
  // Idle nodes beyond the bound are dropped, least recently used first.
  const b = table.intern("b", () => "B", false);
  const c = table.intern("c", () => "C", false);
  assert.equal(table.get(b.ino), "B");
  table.intern("d", () => "D", false);
  assert.equal(table.get(c.ino), undefined);
  assert.equal(table.get(b.ino), "B");
  assert.equal(table.get(a.ino), a.value, "a node with lookups stays");
  assert.equal(table.size, 4);
  assert.equal(table.intern("c", () => "C2", false).ino, c.ino);
});

Deno.test("InodeTable keeps a node while lookups are held; forget() releases it", () => {
  const table = new InodeTable<string>(1);
  const a = table.intern("a", () => "A", true);
  assert.ok(table.lookup(a.ino));
  assert.equal(table.lookup(12345), false);
  table.forget(a.ino, 1);
  table.intern("x", () => "X", false);
  table.intern("y", () => "Y", false);
  assert.equal(table.get(a.ino), "A", "one lookup is still held");
  table.forget(a.ino, 5);
  assert.equal(table.idle, 1);
  table.intern("z", () => "Z", false);
  assert.equal(table.get(a.ino), undefined);
  table.forget(999, 1); // unknown: ignored
  table.fix(1, "root", "R");
  table.forget(1, 10);
  table.intern("w", () => "W", false);
  assert.equal(table.get(1), "R", "fixed nodes are never dropped");
});

Deno.test("InodeTable tells colliding identities apart by probing", () => {
  const table = new InodeTable<string>(10);
  // A node sitting at the number "second" hashes to forces a collision.
  const target = inodeOf("second");
  table.fix(target, "squatter", "S");
  const second = table.intern("second", () => "2", true);
  assert.equal(second.ino, target + 1);
  assert.equal(table.intern("second", () => "again", false).ino, target + 1);
  assert.equal(table.get(target), "S");
});
