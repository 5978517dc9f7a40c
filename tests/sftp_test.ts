/**
 * End to end over SFTP: a real `ddb serve` whose config maps a database to
 * an `sftp://` storage on a private sshd; `ddb backup` a generated tree into
 * it, drop the SFTP session behind the server's back, `ddb restore`, and
 * compare the bytes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer } from "./_server.ts";
import { canRunSshd, startSshd } from "./_sshd.ts";
import { openStorage } from "../storage/registry.ts";
import { RetryingStorage } from "../storage/retrying_storage.ts";
import { SftpStorage } from "../storage/sftp/sftp_storage.ts";
import { SftpUrlError } from "../storage/sftp/sftp_url.ts";
import { seededBytes } from "./_seeded_bytes.ts";
import { isolatedEnv } from "./_client_env.ts";

const MiB = 1024 * 1024;

async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(join(root, "docs", "deep"), { recursive: true });
  await Deno.mkdir(join(root, "empty-dir"));
  await Deno.writeFile(join(root, "empty"), new Uint8Array());
  await Deno.writeTextFile(join(root, "docs", "hello.txt"), "hello over sftp\n");
  await Deno.writeFile(join(root, "docs", "deep", "random.bin"), seededBytes(3 * MiB + 5, 1));
  await Deno.writeFile(join(root, "big.bin"), seededBytes(9 * MiB + 1, 2));
  await Deno.writeFile(join(root, "copy.bin"), seededBytes(9 * MiB + 1, 2));
  await Deno.symlink("docs/hello.txt", join(root, "link"));
}

/** Blob files in the shard directories of a storage directory. */
async function countBlobFiles(dir: string): Promise<number> {
  let count = 0;
  for await (const shard of Deno.readDir(dir)) {
    if (!shard.isDirectory || !/^[0-9a-f]{2}$/.test(shard.name)) continue;
    for await (const _ of Deno.readDir(join(dir, shard.name))) count++;
  }
  return count;
}

Deno.test({
  name: "backup and restore through a server whose database lives on SFTP",
  ignore: !canRunSshd(),
  fn: async () => {
    const sshd = await startSshd();
    const dir = await Deno.makeTempDir({ prefix: "ddb-sftp-test-" });
    try {
      const blobs = join(sshd.dir, "offsite-blobs");
      const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${blobs}` +
        `?key=${sshd.keyPath}&known_hosts=${sshd.knownHostsPath}`;
      const config = join(dir, "ddb.json");
      await Deno.writeTextFile(
        config,
        JSON.stringify({ databases: { offsite: { storage: url } } }, null, 2),
      );
      const server = await startServer({
        dataDir: join(dir, "server"),
        args: ["--config", config],
      });
      try {
        const env = {
          DDB_SERVER: `127.0.0.1:${server.port}`,
          DDB_DB: "offsite",
          ...isolatedEnv(dir),
        };
        const src = join(dir, "src");
        await makeTree(src);
        const backup = await runDdb(["backup", src], env);
        assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}\n${server.log()}`);
        assert.ok(await countBlobFiles(blobs) > 0, "the blobs went to the SFTP directory");
        assert.equal(
          await countBlobFiles(join(dir, "server", "blobs", "offsite")).catch(() => 0),
          0,
        );

        // Drop the server's SFTP session: the next reads reconnect.
        await sshd.signalSessions("SIGKILL");

        const target = join(dir, "restored");
        const restore = await runDdb(["restore", "--verify", "latest", target], env);
        assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}\n${server.log()}`);
        const diff = await new Deno.Command("diff", {
          args: ["-r", "--no-dereference", src, target],
        }).output();
        assert.equal(diff.code, 0, new TextDecoder().decode(diff.stdout));
      } finally {
        await server.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await sshd.stop();
    }
  },
});

Deno.test({
  name: "openStorage opens an sftp: URL as an SftpStorage wrapped in a RetryingStorage",
  ignore: !canRunSshd(),
  fn: async () => {
    const sshd = await startSshd();
    try {
      const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/blobs` +
        `?key=${sshd.keyPath}&known_hosts=${sshd.knownHostsPath}`;
      const storage = await openStorage(url);
      try {
        assert.ok(storage instanceof RetryingStorage);
        assert.ok(storage.inner instanceof SftpStorage);
        assert.equal(storage.displayUrl, url);
      } finally {
        await storage.close();
      }
      await assert.rejects(
        openStorage(`sftp://me:hunter2@127.0.0.1:${sshd.port}/x?nonsense=1`),
        (error: unknown) =>
          error instanceof SftpUrlError && !error.message.includes("hunter2") &&
          /unknown parameter "nonsense"/.test(error.message),
      );
    } finally {
      await sshd.stop();
    }
  },
});
