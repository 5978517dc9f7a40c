import assert from "node:assert/strict";
import { join } from "node:path";
import { BlobNotFoundError } from "../blob_storage.ts";
import { blobIdOf } from "../blob_id.ts";
import { runConformanceSuite } from "../_testing/conformance.ts";
import { LocalStorage, MARKER_FILE } from "../local/local_storage.ts";
import { canRunSshd, startSshd, type TestSshd } from "../../tests/_sshd.ts";
import { SFTP_STALE_TEMP_AGE_MS, SftpStorage } from "./sftp_storage.ts";
import {
  SftpAuthError,
  SftpConnectionError,
  SftpHostKeyError,
  SftpStorageError,
} from "./sftp_errors.ts";

const encoder = new TextEncoder();

/** The URL of directory `path` on `sshd`, with its key and known_hosts, plus `extra` parameters. */
function urlOf(sshd: TestSshd, path: string, extra = ""): string {
  return `sftp://${sshd.user}@127.0.0.1:${sshd.port}${path}?key=${sshd.keyPath}` +
    `&known_hosts=${sshd.knownHostsPath}${extra}`;
}

/** Runs `fn` with a private sshd, stopped afterwards. */
async function withSshd(fn: (sshd: TestSshd) => Promise<void>): Promise<void> {
  const sshd = await startSshd();
  try {
    await fn(sshd);
  } finally {
    await sshd.stop();
  }
}

/** Runs `fn` with a storage in `<sshd dir>/blobs` opened with `extra` URL parameters. */
async function withStorage(
  fn: (storage: SftpStorage, sshd: TestSshd) => Promise<void>,
  extra = "",
): Promise<void> {
  await withSshd(async (sshd) => {
    const storage = await SftpStorage.open(urlOf(sshd, join(sshd.dir, "blobs"), extra));
    try {
      await fn(storage, sshd);
    } finally {
      await storage.close();
    }
  });
}

/** Deterministic content of `size` bytes for `seed`. */
function content(seed: number, size: number): Uint8Array {
  const data = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}

async function listIds(storage: SftpStorage): Promise<string[]> {
  const ids: string[] = [];
  for await (const { id } of storage.list()) ids.push(id);
  return ids.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const sshdAvailable = canRunSshd();

if (sshdAvailable) {
  runConformanceSuite(
    "SftpStorage",
    async () => {
      const sshd = await startSshd();
      try {
        const storage = await SftpStorage.open(urlOf(sshd, join(sshd.dir, "blobs")));
        return {
          storage,
          cleanup: async () => {
            await storage.close();
            await sshd.stop();
          },
        };
      } catch (error) {
        await sshd.stop();
        throw error;
      }
    },
    {
      // sshd runs on this machine: damage the file through the local file system.
      corrupt: async (id, storage) => {
        const path = join((storage as SftpStorage).directory, id.slice(0, 2), id);
        const data = await Deno.readFile(path);
        data[data.length >> 1] ^= 0x01;
        await Deno.chmod(path, 0o644);
        await Deno.writeFile(path, data);
      },
    },
  );
}

Deno.test({
  name: "SftpStorage lays out blobs like a local storage, which can open the directory",
  ignore: !sshdAvailable,
  fn: async () => {
    await withStorage(async (storage, sshd) => {
      const dir = join(sshd.dir, "blobs");
      assert.equal(storage.directory, dir);
      assert.equal(
        storage.displayUrl,
        `sftp://${sshd.user}@127.0.0.1:${sshd.port}${dir}?key=${sshd.keyPath}` +
          `&known_hosts=${sshd.knownHostsPath}`,
      );
      assert.deepEqual(JSON.parse(await Deno.readTextFile(join(dir, MARKER_FILE))), {
        format: "ddb-local-blobs",
        version: 1,
      });
      const data = content(1, 300_000);
      const id = blobIdOf(data);
      await storage.put(id, data);
      const path = join(dir, id.slice(0, 2), id);
      assert.deepEqual(await Deno.readFile(path), data);
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o444, "blob files are read-only");
      const tmp: string[] = [];
      for await (const entry of Deno.readDir(join(dir, "tmp"))) tmp.push(entry.name);
      assert.deepEqual(tmp, [], "a finished put leaves no temp file");

      const local = await LocalStorage.open(dir, { create: false });
      try {
        assert.deepEqual(await local.get(id), data);
        const other = encoder.encode("stored locally");
        await local.put(blobIdOf(other), other);
        assert.deepEqual(await storage.get(blobIdOf(other)), other);
      } finally {
        await local.close();
      }
      assert.deepEqual(
        await listIds(storage),
        [id, blobIdOf(encoder.encode("stored locally"))].sort(),
      );
    });
  },
});

Deno.test({
  name: "SftpStorage skips temp files and stray names, and removes stale temps at open",
  ignore: !sshdAvailable,
  fn: async () => {
    await withSshd(async (sshd) => {
      const dir = join(sshd.dir, "blobs");
      const url = urlOf(sshd, dir);
      await (await SftpStorage.open(url)).close();
      const pending = blobIdOf(encoder.encode("pending"));
      const fresh = join(dir, "tmp", `${pending}.fresh`);
      const stale = join(dir, "tmp", `${pending}.stale`);
      await Deno.writeFile(fresh, encoder.encode("pend"));
      await Deno.writeFile(stale, encoder.encode("pe"));
      const old = new Date(Date.now() - SFTP_STALE_TEMP_AGE_MS - 60_000);
      await Deno.utime(stale, old, old);
      const misplaced = blobIdOf(encoder.encode("misplaced"));
      const wrongShard = misplaced.startsWith("00") ? "01" : "00";
      await Deno.mkdir(join(dir, wrongShard));
      await Deno.writeFile(join(dir, wrongShard, misplaced), encoder.encode("misplaced"));
      await Deno.writeFile(join(dir, pending), encoder.encode("pending"));

      const storage = await SftpStorage.open(url);
      try {
        assert.equal(await exists(stale), false, "a stale temp file is removed at open");
        assert.equal(await exists(fresh), true, "a recent one may belong to another process");
        assert.deepEqual(await listIds(storage), []);
        assert.equal(await storage.has(pending), false);
        assert.equal(await storage.has(misplaced), false);
        await assert.rejects(storage.get(pending), BlobNotFoundError);
      } finally {
        await storage.close();
      }
    });
  },
});

Deno.test({
  name: "SftpStorage.open refuses directories that are not a storage",
  ignore: !sshdAvailable,
  fn: async () => {
    await withSshd(async (sshd) => {
      const foreign = join(sshd.dir, "foreign");
      await Deno.mkdir(foreign);
      await Deno.writeTextFile(join(foreign, "notes.txt"), "someone else's file");
      await assert.rejects(SftpStorage.open(urlOf(sshd, foreign)), (error: unknown) => {
        assert.ok(error instanceof SftpStorageError, String(error));
        assert.match(
          error.message,
          /^Cannot open storage "sftp:.*": not empty and has no ddb-storage\.json/,
        );
        return true;
      });
      assert.equal(await exists(join(foreign, MARKER_FILE)), false);

      await assert.rejects(
        SftpStorage.open(urlOf(sshd, join(sshd.dir, "missing")), { create: false }),
        /: no such directory$/,
      );
      await assert.rejects(
        SftpStorage.open(urlOf(sshd, join(sshd.dir, "known_hosts"))),
        /: not a directory$/,
      );
      // Nested missing parents are created.
      const nested = await SftpStorage.open(urlOf(sshd, join(sshd.dir, "a", "b", "c")));
      await nested.close();
      assert.equal(await exists(join(sshd.dir, "a", "b", "c", MARKER_FILE)), true);
    });
  },
});

Deno.test({
  name: "SftpStorage reports a wrong key as SftpAuthError",
  ignore: !sshdAvailable,
  fn: async () => {
    await withSshd(async (sshd) => {
      const otherKey = join(sshd.dir, "other_ed25519");
      const keygen = await new Deno.Command("ssh-keygen", {
        args: ["-q", "-t", "ed25519", "-N", "", "-f", otherKey],
      }).output();
      assert.ok(keygen.success);
      const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/blobs?key=${otherKey}` +
        `&known_hosts=${sshd.knownHostsPath}`;
      await assert.rejects(SftpStorage.open(url), (error: unknown) => {
        assert.ok(error instanceof SftpAuthError, String(error));
        assert.equal(error.name, "SftpAuthError");
        assert.equal(error.permanent, true);
        assert.match(
          error.message,
          new RegExp(`the server refused the login of "${sshd.user}" with key ${otherKey}$`),
        );
        return true;
      });
      await assert.rejects(
        SftpStorage.open(
          urlOf(sshd, join(sshd.dir, "blobs")).replace(sshd.keyPath, "/nonexistent/key"),
        ),
        /cannot read the private key \/nonexistent\/key/,
      );
    });
  },
});

Deno.test({
  name: "SftpStorage refuses an unknown or changed host key unless told to ignore it",
  ignore: !sshdAvailable,
  fn: async () => {
    await withSshd(async (sshd) => {
      const dir = join(sshd.dir, "blobs");
      const empty = join(sshd.dir, "empty_known_hosts");
      await Deno.writeTextFile(empty, "# nothing\n");
      const base = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${dir}?key=${sshd.keyPath}`;
      await assert.rejects(SftpStorage.open(`${base}&known_hosts=${empty}`), (error: unknown) => {
        assert.ok(error instanceof SftpHostKeyError, String(error));
        assert.equal(error.name, "SftpHostKeyError");
        assert.match(
          error.message,
          /the host key of \[127\.0\.0\.1\]:\d+ \(ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\) is unknown/,
        );
        assert.match(error.message, /ssh-keyscan -p \d+ 127\.0\.0\.1/);
        return true;
      });

      // Another key for the same host: a changed key.
      const otherHost = join(sshd.dir, "other_host");
      assert.ok(
        (await new Deno.Command("ssh-keygen", {
          args: ["-q", "-t", "ed25519", "-N", "", "-f", otherHost],
        }).output()).success,
      );
      const otherPublic = (await Deno.readTextFile(`${otherHost}.pub`)).split(" ");
      const changed = join(sshd.dir, "changed_known_hosts");
      await Deno.writeTextFile(
        changed,
        `[127.0.0.1]:${sshd.port} ${otherPublic[0]} ${otherPublic[1]}\n`,
      );
      await assert.rejects(
        SftpStorage.open(`${base}&known_hosts=${changed}`),
        (error: unknown) =>
          error instanceof SftpHostKeyError &&
          /does not match the ssh-ed25519 key\(s\) in .*changed_known_hosts/.test(error.message),
      );
      assert.equal(await exists(dir), false, "nothing was created on a refused host");

      // A hashed known_hosts (ssh-keygen -H) is understood.
      const hashed = join(sshd.dir, "hashed_known_hosts");
      await Deno.copyFile(sshd.knownHostsPath, hashed);
      const hash = await new Deno.Command("ssh-keygen", { args: ["-q", "-H", "-f", hashed] })
        .output();
      assert.ok(hash.success);
      assert.match(await Deno.readTextFile(hashed), /^\|1\|/);
      await (await SftpStorage.open(`${base}&known_hosts=${hashed}`)).close();

      const insecure = await SftpStorage.open(`${base}&insecure_ignore_host_key=true`);
      await insecure.close();
    });
  },
});

Deno.test({
  name: "SftpStorage uses the default key and known_hosts of the home directory",
  ignore: !sshdAvailable,
  fn: async () => {
    await withSshd(async (sshd) => {
      const home = join(sshd.dir, "home");
      await Deno.mkdir(join(home, ".ssh"), { recursive: true });
      const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/blobs`;
      await assert.rejects(
        SftpStorage.open(url, { home, env: {} }),
        /no private key \(looked for .*\/home\/\.ssh\/id_ed25519, .*\/home\/\.ssh\/id_rsa\) and no password/,
      );
      await Deno.copyFile(sshd.keyPath, join(home, ".ssh", "id_ed25519"));
      await assert.rejects(
        SftpStorage.open(url, { home, env: {} }),
        (error: unknown) => error instanceof SftpHostKeyError && /is unknown/.test(error.message),
        "no known_hosts file: the host is unknown",
      );
      await Deno.copyFile(sshd.knownHostsPath, join(home, ".ssh", "known_hosts"));
      const storage = await SftpStorage.open(url, { home, env: {} });
      await storage.close();
    });
  },
});

Deno.test({
  name: "SftpStorage fails calls on a hung server within its timeout, then reconnects",
  ignore: !sshdAvailable,
  fn: async () => {
    await withStorage(async (storage, sshd) => {
      const blobs = Array.from({ length: 16 }, (_, i) => content(100 + i, 1024 * 1024));
      const first = blobs.shift()!;
      await storage.put(blobIdOf(first), first);
      // Freeze the session's server processes, then make calls on the session.
      assert.ok((await sshd.signalSessions("SIGSTOP")) > 0);
      const outcomes = await Promise.allSettled([
        ...blobs.map((data) => storage.put(blobIdOf(data), data)),
        storage.get(blobIdOf(first)),
      ]);
      // The calls on the frozen session fail; those that waited for a free
      // slot (concurrency 8) may run on a new session and succeed.
      const failures = outcomes.filter((o) => o.status === "rejected");
      assert.ok(failures.length >= 8, `${failures.length} calls failed`);
      for (const failure of failures) {
        const reason = (failure as PromiseRejectedResult).reason;
        assert.ok(reason instanceof SftpConnectionError, String(reason));
        assert.match(reason.message, /the connection was lost \(no answer to .* within 1000 ms\)/);
      }
      // The listener still runs: the next call opens a new session.
      assert.deepEqual(await storage.get(blobIdOf(first)), first);
      await Promise.all(blobs.map((data) => storage.put(blobIdOf(data), data)));
      assert.equal((await listIds(storage)).length, 16);
    }, "&timeout_ms=1000");
  },
});

Deno.test({
  name: "SftpStorage fails calls when the server dies, and reconnects when it is back",
  ignore: !sshdAvailable,
  fn: async () => {
    await withStorage(async (storage, sshd) => {
      const data = content(7, 2 * 1024 * 1024);
      const id = blobIdOf(data);
      const put = storage.put(id, data);
      assert.ok((await sshd.signalSessions("SIGKILL")) > 0);
      await put.then(
        () => {}, // It may have finished before the kill.
        (error: unknown) => assert.ok(error instanceof SftpConnectionError, String(error)),
      );
      // A call may still meet the dead session before its end is noticed
      // (it then fails the same way); a later call reconnects.
      for (let attempt = 1;; attempt++) {
        try {
          await storage.put(id, data);
          break;
        } catch (error) {
          if (!(error instanceof SftpConnectionError) || attempt === 3) throw error;
        }
      }
      assert.deepEqual(await storage.get(id), data);

      // A server that is gone for good: connection refused, not a hang.
      await sshd.signalSessions("SIGKILL");
      Deno.kill(sshd.pid, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 100));
      await assert.rejects(storage.get(id), (error: unknown) => {
        assert.ok(error instanceof SftpConnectionError, String(error));
        assert.match(
          error.message,
          /^Cannot connect to storage "sftp:.*": cannot reach 127\.0\.0\.1:\d+/,
        );
        return true;
      });
    }, "&timeout_ms=2000");
  },
});

Deno.test({
  name: "SftpStorage rejects calls after close",
  ignore: !sshdAvailable,
  fn: async () => {
    await withStorage(async (storage) => {
      const data = encoder.encode("late");
      const id = blobIdOf(data);
      const put = storage.put(id, data);
      await storage.close();
      await put;
      await assert.rejects(storage.get(id), (error: unknown) => {
        assert.ok(error instanceof SftpStorageError);
        assert.equal(error.permanent, true);
        assert.match(error.message, /it is closed/);
        return true;
      });
    });
  },
});
