/**
 * End to end with an S3 storage: a throwaway radosgw, a `ddb serve` whose
 * config file maps the default database to an `s3:` URL (keys from the AWS
 * environment variables), `ddb backup` of a generated tree, `ddb restore`,
 * byte-for-byte comparison, and the blobs found in the bucket.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer } from "./_server.ts";
import { canRunRadosgw, listKeys, removeKeys, startRadosgw, type TestRadosgw } from "./_radosgw.ts";
import { seededBytes } from "./_seeded_bytes.ts";
import { isolatedEnv } from "./_client_env.ts";

const BUCKET = "ddb-e2e";
const PREFIX = "servers/one";

/** Deterministic pseudo-random bytes (xorshift32). */

/** A small tree: large files (several chunks), small ones (packed), an empty file and dir. */
async function makeTree(root: string): Promise<Map<string, number>> {
  const files = new Map<string, number>([
    ["big.bin", 3 * 1024 * 1024 + 17],
    ["dir/medium.bin", 700 * 1024],
    ["dir/sub/small.txt", 100],
    ["dir/sub/tiny", 1],
    ["empty", 0],
  ]);
  await Deno.mkdir(join(root, "dir", "sub"), { recursive: true });
  await Deno.mkdir(join(root, "empty-dir"));
  let seed = 1;
  for (const [path, size] of files) {
    await Deno.writeFile(join(root, path), seededBytes(size, seed++));
  }
  return files;
}

/** The config file of a server whose default database lives under `prefix` on `gw`. */
async function writeConfig(dir: string, gw: TestRadosgw, prefix: string): Promise<string> {
  const path = join(dir, "ddb.json");
  const storage = `s3://${BUCKET}/${prefix}?endpoint=${gw.endpoint}&create_bucket=true`;
  await Deno.writeTextFile(path, JSON.stringify({ databases: { default: { storage } } }));
  return path;
}

Deno.test({
  name: "s3: backup to and restore from a radosgw bucket",
  ignore: !canRunRadosgw(),
  fn: async (t) => {
    const gw = await startRadosgw();
    const dir = await Deno.makeTempDir({ prefix: "ddb-s3-test-" });
    const awsEnv = { AWS_ACCESS_KEY_ID: gw.accessKey, AWS_SECRET_ACCESS_KEY: gw.secretKey };
    try {
      const config = await writeConfig(dir, gw, PREFIX);

      await t.step("a wrong secret stops the server with a clear message", async () => {
        const wrong = "not-the-secret-key-0123";
        const result = await runDdb(
          ["serve", "--config", config, "--listen", "127.0.0.1:0", "--data", join(dir, "bad")],
          { ...awsEnv, AWS_SECRET_ACCESS_KEY: wrong },
        );
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /the secret key is wrong \(HTTP 403 SignatureDoesNotMatch\)/);
        assert.ok(!result.stderr.includes(wrong), "the secret is not printed");
      });

      const server = await startServer({
        dataDir: join(dir, "server"),
        args: ["--config", config],
        env: awsEnv,
      });
      try {
        const env = {
          DDB_SERVER: `127.0.0.1:${server.port}`,
          ...isolatedEnv(dir),
        };
        const src = join(dir, "src");
        const files = await makeTree(src);

        await t.step("the server names its S3 storage without secrets", () => {
          const storage = `s3://${BUCKET}/${PREFIX}?endpoint=${gw.endpoint}&create_bucket=true`;
          assert.ok(server.log().includes(`db.open db=default storage="${storage}"`), server.log());
          assert.ok(!server.log().includes(gw.secretKey));
        });

        await t.step("backup writes the blobs to the bucket", async () => {
          const backup = await runDdb(["backup", src], env);
          assert.equal(backup.code, 0, backup.stderr);
          const keys = await listKeys(gw, BUCKET, `${PREFIX}/`);
          assert.ok(keys.includes(`${PREFIX}/ddb-storage.json`), keys.join("\n"));
          const blobs = keys.filter((k) => /\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(k));
          assert.ok(blobs.length >= 2, `blobs in the bucket: ${keys.join("\n")}`);
          // Nothing went to a local blob directory.
          await assert.rejects(Deno.stat(join(server.dataDir, "blobs", "default")));
        });

        await t.step("restore reproduces the tree byte for byte", async () => {
          const target = join(dir, "restored");
          const restore = await runDdb(["restore", "--verify", "latest", target], env);
          assert.equal(restore.code, 0, restore.stderr);
          for (const [path, size] of files) {
            const restored = await Deno.readFile(join(target, path));
            assert.equal(restored.length, size, path);
            assert.deepEqual(restored, await Deno.readFile(join(src, path)), path);
          }
          assert.ok((await Deno.stat(join(target, "empty-dir"))).isDirectory);
        });
      } finally {
        await server.stop();
      }
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await gw.logs()}`, { cause: error });
    } finally {
      await removeKeys(gw, BUCKET, "").catch(() => {});
      await gw.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
