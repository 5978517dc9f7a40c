/**
 * End-to-end: the client's `Repository` against a real `ddb serve` —
 * reading many metas with one `HMULTIGETALL`, each settled on its own.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startServer } from "./_server.ts";
import { META_BATCH, Repository } from "../client/repo/repository.ts";
import { metaFields, metaKeyOf, type NodeMeta, SchemaError } from "../client/snapshot/schema.ts";

const encoder = new TextEncoder();

function fileMeta(name: string): NodeMeta {
  return {
    name: encoder.encode(name),
    type: "file",
    size: 3,
    mode: 0o644,
    uid: 1,
    gid: 2,
    mtimeNs: 1_700_000_000_000_000_000n,
    ref: `b:${"ab".repeat(32)}`,
  };
}

Deno.test("Repository.readMetas reads many metas at once, each settled on its own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-repository-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  const repo = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 1);
  try {
    // More than one batch of good metas.
    const metas = Array.from({ length: META_BATCH + 3 }, (_, i) => fileMeta(`f${i}`));
    const keys = metas.map(metaKeyOf);
    await Promise.all(metas.map((meta, i) => repo.writeMeta(keys[i], metaFields(meta))));
    const missing = metaKeyOf(fileMeta("never written"));
    const notMeta = "d:not-a-meta-key";
    const malformed = "m:malformed";
    await repo.writeMeta(malformed, new Map([["attrs", encoder.encode("junk")]]));

    const asked = [keys[0], missing, notMeta, ...keys.slice(1), malformed];
    const results = await repo.readMetas(asked);
    assert.equal(results.length, asked.length);
    const value = (i: number) => {
      const result = results[i];
      if (result.status === "rejected") assert.fail(`${asked[i]}: ${result.reason}`);
      return (result as PromiseFulfilledResult<NodeMeta>).value;
    };
    const reason = (i: number) => {
      const result = results[i];
      assert.equal(result.status, "rejected", asked[i]);
      return (result as PromiseRejectedResult).reason;
    };
    assert.deepEqual(value(0), metas[0]);
    for (let i = 1; i < metas.length; i++) assert.deepEqual(value(i + 2), metas[i]);
    assert.ok(reason(1) instanceof SchemaError);
    assert.match(reason(1).message, /Cannot find meta/);
    assert.match(reason(2).message, /not a meta key/);
    assert.match(reason(asked.length - 1).message, /attrs/);

    // A key of another type fails the server's command: the batch is read
    // key by key instead, and only that key fails.
    const wrongType = "m:a-set";
    const sadd = await Repository.open({ hostname: "127.0.0.1", port: server.port }, 0);
    await sadd.writeDir(wrongType, ["x"])!.finally(() => sadd.close());
    const mixed = await repo.readMetas([keys[1], wrongType, keys[2]]);
    assert.deepEqual(mixed.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.match((mixed[1] as PromiseRejectedResult).reason.message, /WRONGTYPE/);
    assert.deepEqual(await repo.readMetas([]), []);
  } finally {
    await repo.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
