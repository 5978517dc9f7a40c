import assert from "node:assert/strict";
import { PackTally } from "./pack_tally.ts";

function pack(first: number, last = 0): Uint8Array {
  const id = new Uint8Array(32);
  id[0] = first;
  id[31] = last;
  return id;
}

Deno.test("PackTally: live and dead blobs per pack, and the totals", () => {
  const tally = new PackTally();
  for (let i = 0; i < 3000; i++) tally.count(pack(i % 250, 0), 0, i % 250 !== 7, 10);
  tally.count(pack(251), 0, false, 5);
  assert.equal(tally.liveBlobs(pack(7)), 0);
  assert.equal(tally.liveBlobs(pack(8)), 12);
  assert.equal(tally.liveBlobs(pack(252)), 0);
  assert.equal(tally.knows(pack(251)), true);
  assert.equal(tally.knows(pack(252)), false);
  assert.deepEqual(tally.totals(), {
    packs: 251,
    deadPacks: 2,
    partlyDeadPacks: 0,
    partlyDeadBytes: 0,
  });
  assert.equal(tally.liveBytes(pack(8)), 120);
  assert.equal(tally.liveBytes(pack(7)), 0);
  tally.count(pack(8), 0, false, 30);
  assert.equal(tally.totals().partlyDeadPacks, 1);
  assert.equal(tally.totals().partlyDeadBytes, 30);
});

Deno.test("PackTally: packs sharing their first 48 bits count as one (only keeps garbage)", () => {
  const tally = new PackTally();
  tally.count(pack(1, 1), 0, false, 10);
  tally.count(pack(1, 2), 0, true, 10);
  assert.equal(tally.liveBlobs(pack(1, 1)), 1, "the dead pack looks live: it is kept");
  const value = new Uint8Array(56);
  value.set(pack(9), 16);
  tally.count(value, 16, true, 1);
  assert.equal(tally.liveBlobs(pack(9)), 1, "an id inside an index value");
});
