import assert from "node:assert/strict";
import { join } from "node:path";
import { canRunRadosgw } from "../../tests/_radosgw.ts";
import { canRunWith } from "../../tests/_skip.ts";
import { canRunSshd } from "../../tests/_sshd.ts";
import { type BackupStorage, isStorageKind, startBackupStorage } from "./backup_storage.ts";

const STORAGE_BENCH = new URL("../storage_bench.ts", import.meta.url).pathname;

/** Runs `command args…` with `env` added; resolves with its exit code and output. */
async function run(command: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(command, { args, env, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    output: decoder.decode(out.stdout) + decoder.decode(out.stderr),
  };
}

/**
 * What the benchmark does with a storage, in small: scripts/storage_bench.ts
 * puts and gets blobs through its URL with its environment, and restic (when
 * installed) makes a repository through its target.
 */
async function checkStorage(storage: BackupStorage, work: string): Promise<void> {
  const bench = await run(
    Deno.execPath(),
    ["run", "-A", STORAGE_BENCH, storage.url, "--count", "3", "--size", "4KiB", "--json"],
    storage.env,
  );
  assert.equal(bench.code, 0, bench.output);
  // The blobs were deleted again; the storage's marker stays (on the server for local).
  if (storage.kind === "local") {
    assert.ok((await Deno.stat(join(storage.url, "ddb-storage.json"))).isFile);
  } else {
    assert.ok(await storage.remoteBytes() > 0);
  }
  if (!canRunWith("restic", "restic")) return;
  const env = {
    RESTIC_REPOSITORY: storage.restic.repository,
    RESTIC_PASSWORD: "test",
    RESTIC_CACHE_DIR: join(work, "restic-cache"),
    ...storage.restic.env,
  };
  const init = await run("restic", [...storage.restic.args, "init"], env);
  assert.equal(init.code, 0, init.output);
  assert.ok(await storage.restic.bytes() > 0);
}

Deno.test("isStorageKind() accepts the three kinds only", () => {
  assert.ok(isStorageKind("local") && isStorageKind("sftp") && isStorageKind("s3"));
  assert.ok(!isStorageKind("file") && !isStorageKind(""));
});

Deno.test("startBackupStorage() local is the server's default storage", async () => {
  const work = await Deno.makeTempDir({ prefix: "ddb-backup-storage-test-" });
  try {
    const storage = await startBackupStorage("local", work, join(work, "server"));
    assert.equal(storage.url, join(work, "server", "blobs", "default"));
    assert.equal(storage.configured, false);
    assert.equal(await storage.remoteBytes(), 0);
    await checkStorage(storage, work);
    await storage.stop();
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test({
  name: "startBackupStorage() sftp serves ddb and restic from one private sshd",
  ignore: !canRunSshd(),
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "ddb-backup-storage-test-" });
    try {
      const storage = await startBackupStorage("sftp", work, join(work, "server"));
      try {
        assert.match(storage.url, /^sftp:\/\/[^@]+@127\.0\.0\.1:\d+\//);
        assert.equal(storage.configured, true);
        await checkStorage(storage, work);
      } finally {
        await storage.stop();
      }
      await storage.stop(); // Idempotent.
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "startBackupStorage() s3 serves ddb and restic from one radosgw",
  ignore: !canRunRadosgw(),
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "ddb-backup-storage-test-" });
    try {
      const storage = await startBackupStorage("s3", work, join(work, "server"));
      try {
        assert.match(storage.url, /^s3:\/\/ddb-bench\/blobs\?endpoint=/);
        assert.ok(storage.env.AWS_ACCESS_KEY_ID && storage.env.AWS_SECRET_ACCESS_KEY);
        assert.equal(await storage.remoteBytes(), 0); // No bucket yet.
        await checkStorage(storage, work);
      } finally {
        await storage.stop();
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
