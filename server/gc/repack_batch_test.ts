import assert from "node:assert/strict";
import { blobIdOf } from "../../storage/blob_id.ts";
import { decodePack } from "../packs/pack_format.ts";
import { RepackBatch } from "./repack_batch.ts";
import { fromHex } from "./_names.ts";

Deno.test("RepackBatch: blobs of several old packs make one well-formed new pack", () => {
  const batch = new RepackBatch();
  const old = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
  const datas: Uint8Array[] = [];
  batch.addSource(old[0], 5000, []);
  for (let i = 0; i < 300; i++) {
    const data = new Uint8Array(i % 7 === 0 ? 0 : 300).fill(i & 0xff);
    datas.push(data);
    if (i === 200) batch.addSource(old[1], 7000, []);
    batch.add(fromHex(blobIdOf(data)), data, 1000 + i);
  }
  assert.equal(batch.count, 300);
  assert.deepEqual(batch.sources.map((s) => [s.first, s.end]), [[0, 200], [200, 300]]);
  assert.equal(batch.source(250).id, old[1]);
  assert.equal(batch.fromOffset(7), 1007);
  const { bytes, offsets } = batch.encode();
  const entries = decodePack(bytes);
  assert.equal(entries.length, 300);
  for (const [i, entry] of entries.entries()) {
    assert.equal(entry.offset, offsets[i]);
    assert.deepEqual(entry.hash, batch.hash(i));
    assert.deepEqual(bytes.subarray(entry.offset, entry.offset + entry.length), datas[i]);
  }
});
