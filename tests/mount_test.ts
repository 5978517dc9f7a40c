/**
 * End-to-end tests of `ddb mount` and `ddb umount`: a real `ddb serve`, real
 * `ddb backup` runs, and `ddb mount` in a child process (as root, through
 * /dev/fuse), used with real tools (`ls`, `find`, `stat`, `cat`, `cp -a`,
 * `diff -r`, `dd`, `sha256sum`). One server and its backups serve every
 * step; each mount is unmounted (`umount -l`) in `finally`, and /proc/mounts
 * is checked to be clean at the end.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { canMountAsRoot, eventually, forceUnmount, run } from "../fuse/_testing/mount_process.ts";
import { canRun } from "./_skip.ts";
import { runDdb, spawnDdb, startServer, type TestServer } from "./_server.ts";
import { isolatedEnv } from "./_client_env.ts";

const MiB = 1024 * 1024;
const HOST = "testhost";
const BIG_SIZE = 500 * MiB;
const EROFS = /Read-only file system/;

function canMount(): boolean {
  return canRun(canMountAsRoot(), "ddb mount tests need root and /dev/fuse");
}

// ---- mounts

/** The absolute mount points listed in /proc/mounts (octal escapes decoded). */
async function mountPoints(): Promise<string[]> {
  const text = await Deno.readTextFile("/proc/mounts");
  return text.split("\n").filter((line) => line !== "").map((line) =>
    line.split(" ")[1].replace(
      /\\([0-7]{3})/g,
      (_, octal) => String.fromCharCode(parseInt(octal, 8)),
    )
  );
}

async function isMounted(mountpoint: string): Promise<boolean> {
  return (await mountPoints()).includes(mountpoint);
}

/** A `ddb mount` child process. */
interface MountProcess {
  readonly child: Deno.ChildProcess;
  /** Its stderr so far. */
  stderr(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** Resolves when it has exited and its output has ended. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Sends `signal` unless it has exited, then waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

function spawnMount(
  mountpoint: string,
  env: Record<string, string>,
  args: string[] = [],
): MountProcess {
  const child = spawnDdb(["mount", mountpoint, ...args], env);
  let err = "";
  let done = false;
  const drain = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  };
  const pumps = Promise.all([drain(child.stdout, () => {}), drain(child.stderr, (t) => err += t)]);
  const status = child.status.then(async (result) => {
    done = true;
    await pumps;
    return result;
  });
  return {
    child,
    stderr: () => err,
    exited: () => done,
    status,
    async stop(signal: Deno.Signal = "SIGTERM") {
      if (!done) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      return await status;
    },
  };
}

/** Starts `ddb mount` and waits until it says it serves and /proc/mounts lists the mount. */
async function startMount(
  mountpoint: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<MountProcess> {
  const mount = spawnMount(mountpoint, env, args);
  try {
    await eventually(
      `ddb mount serves ${mountpoint}`,
      async () =>
        mount.exited() ||
        (mount.stderr().includes("ddb mount: serving") && await isMounted(mountpoint)),
      30_000,
    );
  } catch (error) {
    await mount.stop("SIGKILL");
    throw new Error(`${(error as Error).message}:\n${mount.stderr()}`);
  }
  if (mount.exited()) {
    const status = await mount.status;
    throw new Error(`ddb mount exited with ${status.code} before serving:\n${mount.stderr()}`);
  }
  return mount;
}

// ---- the backed-up trees

interface Backup {
  id: string;
  /** Snapshot time, ISO 8601 to the millisecond. */
  time: string;
}

async function backup(env: Record<string, string>, path: string): Promise<Backup> {
  const result = await runDdb(["backup", "--host", HOST, path], env);
  assert.equal(result.code, 0, result.stderr);
  const list = await runDdb(["snapshots", "--json", path], env);
  assert.equal(list.code, 0, list.stderr);
  const snapshots: Backup[] = JSON.parse(list.stdout);
  return snapshots.at(-1)!;
}

/** The directory name of a snapshot made at `time` (docs/mount.md): to the second, UTC. */
function snapshotName(time: string): string {
  return `${time.slice(0, 19)}Z`;
}

/** The directory name of a backed-up path (fuse/tree.ts: `host:dir:dir`), for plain paths. */
function groupNameOf(path: string): string {
  assert.match(path, /^\/[\w./-]+$/, "the test's paths need no escaping");
  return `${HOST}${path.replaceAll("/", ":")}`;
}

const encoder = new TextEncoder();

/**
 * The tree backed up: nested directories, an empty file and directory, odd
 * names, symlinks (one dangling), modes 0600/0640/0755/04755/0700/0750, an
 * owner that is not root, and every time set in the past.
 */
async function makeTree(root: string): Promise<void> {
  await Deno.mkdir(join(root, "docs", "notes", "deep"), { recursive: true });
  await Deno.mkdir(join(root, "empty dir"));
  await Deno.mkdir(join(root, "private"), { mode: 0o700 });
  await Deno.chmod(join(root, "private"), 0o700);
  await Deno.mkdir(join(root, "group-only"));
  await Deno.chmod(join(root, "group-only"), 0o750);
  const files: [string, string | Uint8Array, number][] = [
    ["docs/readme.txt", "version 1\n", 0o644],
    ["docs/notes/deep/leaf.md", "# leaf\n".repeat(100), 0o644],
    ["empty-file", "", 0o644],
    ["name with spaces.txt", "spaces\n", 0o644],
    ["ünïcödé 日本語.txt", "unicode ✓\n", 0o644],
    ["secret.key", "do not share\n", 0o600],
    ["run.sh", "#!/bin/sh\necho hi\n", 0o755],
    ["setuid-tool", "pretend binary\n", 0o4755],
    ["private/data.bin", randomBytes(300_000), 0o640],
    ["group-only/shared.txt", "group\n", 0o640],
    ["removed.txt", "only in the first snapshot, read by nobody before the server stops\n", 0o644],
    ["owned.txt", "owned by 12345\n", 0o644],
  ];
  for (const [path, content, mode] of files) {
    const file = join(root, path);
    await Deno.writeFile(file, typeof content === "string" ? encoder.encode(content) : content);
    await Deno.chmod(file, mode);
  }
  await Deno.chown(join(root, "owned.txt"), 12345, 12346);
  await Deno.symlink("docs/readme.txt", join(root, "link-to-readme"));
  await Deno.symlink("docs", join(root, "link-to-dir"));
  await Deno.symlink("/nonexistent/target", join(root, "dangling"));
  await setPastTimes(root);
}

/** The change between the two backups. */
async function changeTree(root: string): Promise<void> {
  await Deno.writeTextFile(join(root, "docs", "readme.txt"), "version 2, a little longer\n");
  await Deno.remove(join(root, "removed.txt"));
  await Deno.writeTextFile(join(root, "added.txt"), "added after the first backup\n");
  await setPastTimes(root);
}

/**
 * Sets the modification time of every file and directory under `root` (and
 * `root`) to a distinct time in the past, to the millisecond (the mount
 * shows milliseconds).
 */
async function setPastTimes(root: string): Promise<void> {
  let i = 0;
  const base = Date.parse("2015-06-07T08:09:10.123Z");
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      if (entry.isSymlink) continue;
      const time = new Date(base + (i++) * 86_400_000 + 7);
      await Deno.utime(path, time, time);
    }
  };
  await walk(root);
  const time = new Date(base - 86_400_000);
  await Deno.utime(root, time, time);
}

/** Random bytes (crypto.getRandomValues, 64 KiB at a time). */
function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Writes `size` random bytes to `path`; resolves with their SHA-256. */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(8 * MiB);
  for (let offset = 0; offset < size; offset += block.length) {
    const part = block.subarray(0, Math.min(block.length, size - offset));
    for (let i = 0; i < part.length; i += 65536) {
      crypto.getRandomValues(part.subarray(i, i + 65536));
    }
    hash.update(part);
    let written = 0;
    while (written < part.length) written += await file.write(part.subarray(written));
  }
  return hash.digest("hex");
}

// ---- tools

async function sh(script: string, timeoutMs = 60_000) {
  return await run(["bash", "-c", `set -o pipefail; ${script}`], timeoutMs);
}

/** `'text'` for a shell script. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * `ls -laRn --time-style=full-iso` of `dir`, one line per entry as
 * `dir/name mode uid:gid size time -> target`, where what a mount cannot
 * show as the source file system does is left out: `..`, the `total`
 * lines, link counts, the sizes of directories and the times of symlinks.
 */
async function lsTree(dir: string): Promise<string[]> {
  const ls = await run(["ls", "-laRn", "--time-style=full-iso", dir]);
  assert.equal(ls.code, 0, ls.stderr);
  const lines: string[] = [];
  let where = "";
  for (const line of ls.stdout.split("\n")) {
    if (line === "" || line.startsWith("total ")) continue;
    if (line.endsWith(":") && line.startsWith(dir)) {
      where = line.slice(dir.length, -1);
      continue;
    }
    const m = /^(\S+)\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+ \S+ \S+) (.*)$/.exec(line);
    assert.ok(m, `cannot parse ls line "${line}"`);
    const [, mode, uid, gid, size, time, name] = m;
    if (name === "..") continue;
    const kind = mode[0];
    lines.push(
      [
        `${where}/${name}`,
        mode,
        `${uid}:${gid}`,
        kind === "d" ? "-" : size,
        kind === "l" ? "-" : time,
      ].join(" "),
    );
  }
  return lines.sort();
}

/** `find DIR -printf '%P %y %m'`, sorted. */
async function findTree(dir: string): Promise<string[]> {
  const find = await run(["find", dir, "-printf", "%P|%y|%m\\n"]);
  assert.equal(find.code, 0, find.stderr);
  return find.stdout.trim().split("\n").sort();
}

async function cat(path: string): Promise<string> {
  const result = await run(["cat", path]);
  assert.equal(result.code, 0, `cat ${path}: ${result.stderr}`);
  return result.stdout;
}

async function names(dir: string): Promise<string[]> {
  const list = [];
  for await (const entry of Deno.readDir(dir)) list.push(entry.name);
  return list.sort();
}

// ---- the test

Deno.test({
  name: "ddb mount: browse, read, follow new backups, stop, recover, survive a stopped server",
  ignore: !canMount(),
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "ddb-mount-test-" });
    const mnt = join(dir, "mnt");
    const mnt2 = join(dir, "mnt2");
    await Deno.mkdir(mnt);
    await Deno.mkdir(mnt2);
    const server: TestServer = await startServer({ dataDir: join(dir, "server") });
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      ...isolatedEnv(dir),
    };
    const mounts: MountProcess[] = [];
    const mount = async (args: string[] = []) => {
      const started = await startMount(mnt, env, args);
      mounts.push(started);
      return started;
    };
    try {
      const src = join(dir, "src");
      await makeTree(src);
      const first = await backup(env, src);
      // The second snapshot must fall in a later second than the first, so that
      // both are named to the second.
      const wait = Date.parse(first.time) + 1000 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await changeTree(src);
      const second = await backup(env, src);
      assert.notEqual(snapshotName(first.time), snapshotName(second.time));

      const bigDir = join(dir, "big");
      await Deno.mkdir(bigDir);
      const bigSha = await writeRandomFile(join(bigDir, "random.bin"), BIG_SIZE);
      await backup(env, bigDir);

      const name = groupNameOf(src);
      const latest = join(mnt, "latest", name);
      const older = join(mnt, "snapshots", name, snapshotName(first.time));
      const main = await mount();

      await t.step("the root, latest/, snapshots/ and at/ list the backed-up paths", async () => {
        assert.deepEqual(await names(mnt), ["at", "latest", "snapshots"]);
        const groups = [groupNameOf(bigDir), name].sort();
        assert.deepEqual(await names(join(mnt, "latest")), groups);
        assert.deepEqual(await names(join(mnt, "snapshots")), groups);
        assert.deepEqual(await names(join(mnt, "snapshots", name)), [
          snapshotName(first.time),
          snapshotName(second.time),
        ]);
        assert.deepEqual(await names(join(mnt, "at", name)), [], "at/<name> lists nothing");
        const mounts = await Deno.readTextFile("/proc/mounts");
        assert.match(mounts, new RegExp(`^\\S+ ${mnt} fuse\\.ddb ro,nosuid,nodev`, "m"));
      });

      await t.step("ls -la, find, stat and cat show latest/<name> as backed up", async () => {
        assert.deepEqual(await lsTree(latest), await lsTree(src));
        assert.deepEqual(await findTree(latest), await findTree(src));

        const stat = await run([
          "stat",
          "-c",
          "%a %s %Y %u %g %F",
          join(latest, "secret.key"),
          join(latest, "owned.txt"),
          join(latest, "private"),
        ]);
        assert.equal(stat.code, 0, stat.stderr);
        const source = await run([
          "stat",
          "-c",
          "%a %s %Y %u %g %F",
          join(src, "secret.key"),
          join(src, "owned.txt"),
          join(src, "private"),
        ]);
        // Directory sizes differ (the mount shows the number of entries).
        const noDirSize = (text: string) => text.replace(/^(\d+) \d+ (.* directory)$/m, "$1 - $2");
        assert.equal(noDirSize(stat.stdout), noDirSize(source.stdout));
        assert.match(stat.stdout, /^600 13 \d+ 0 0 regular file$/m);
        assert.match(stat.stdout, /^644 15 \d+ 12345 12346 regular file$/m);

        assert.equal(await cat(join(latest, "docs", "readme.txt")), "version 2, a little longer\n");
        assert.equal(await cat(join(latest, "ünïcödé 日本語.txt")), "unicode ✓\n");
        assert.equal(await cat(join(latest, "name with spaces.txt")), "spaces\n");
        assert.equal(await cat(join(latest, "empty-file")), "");
        assert.deepEqual(await names(join(latest, "empty dir")), []);
      });

      await t.step("cp -a out of latest/<name> equals the source (diff -r)", async () => {
        const copy = join(dir, "copy");
        const cp = await run(["cp", "-a", latest, copy]);
        assert.equal(cp.code, 0, cp.stderr);
        const diff = await run(["diff", "-r", "--no-dereference", src, copy]);
        assert.equal(diff.code, 0, diff.stdout + diff.stderr);
        // cp -a kept what the mount showed: modes, owners, times.
        assert.deepEqual(await lsTree(copy), await lsTree(src));
      });

      await t.step("the older snapshot and at/<name>/<time> show the right contents", async () => {
        assert.equal(await cat(join(older, "docs", "readme.txt")), "version 1\n");
        const olderNames = await names(older);
        assert.ok(olderNames.includes("removed.txt"), olderNames.join(", "));
        assert.ok(!olderNames.includes("added.txt"), olderNames.join(", "));
        const latestNames = await names(latest);
        assert.ok(!latestNames.includes("removed.txt"), latestNames.join(", "));
        assert.ok(latestNames.includes("added.txt"), latestNames.join(", "));
        assert.equal(
          (await Deno.stat(join(older, "docs", "readme.txt"))).mtime?.getTime(),
          (await Deno.stat(join(latest, "docs", "readme.txt"))).mtime?.getTime(),
          "setPastTimes gave readme.txt the same time both times",
        );

        const at = join(mnt, "at", name);
        const readmeAt = (time: string) => cat(join(at, time, "docs", "readme.txt"));
        // Both snapshots are in the same year: the year is the newer one.
        assert.equal(first.time.slice(0, 4), second.time.slice(0, 4));
        assert.equal(await readmeAt(second.time.slice(0, 4)), "version 2, a little longer\n");
        assert.equal(await readmeAt(second.time.slice(0, 7)), "version 2, a little longer\n");
        assert.equal(await readmeAt(snapshotName(first.time)), "version 1\n");
        assert.equal(await readmeAt(first.time), "version 1\n", "to the millisecond");
        assert.equal(await readmeAt(snapshotName(second.time)), "version 2, a little longer\n");
        const before = String(Number(first.time.slice(0, 4)) - 1);
        const none = await run(["ls", join(at, before)]);
        assert.notEqual(none.code, 0, "nothing is as old as the year before");
        assert.match(none.stderr, /No such file or directory/);
        const bad = await run(["ls", join(at, "not-a-time")]);
        assert.notEqual(bad.code, 0);
        assert.equal((await Deno.stat(join(at, second.time.slice(0, 4)))).isDirectory, true);
      });

      await t.step("symlinks read back their targets; a dangling one stays dangling", async () => {
        const readlink = await run([
          "readlink",
          join(latest, "link-to-readme"),
          join(latest, "link-to-dir"),
          join(latest, "dangling"),
        ]);
        assert.equal(readlink.code, 0, readlink.stderr);
        assert.equal(readlink.stdout, "docs/readme.txt\ndocs\n/nonexistent/target\n");
        assert.equal(await cat(join(latest, "link-to-readme")), "version 2, a little longer\n");
        assert.deepEqual(await names(join(latest, "link-to-dir")), ["notes", "readme.txt"]);
        const dangling = await run(["cat", join(latest, "dangling")]);
        assert.notEqual(dangling.code, 0);
        assert.match(dangling.stderr, /No such file or directory/);
        const ls = await run(["ls", "-l", latest]);
        assert.match(ls.stdout, /^lrwxrwxrwx .* dangling -> \/nonexistent\/target$/m);
      });

      await t.step("writing fails with EROFS", async () => {
        const attempts = [
          ["touch", join(latest, "new-file")],
          ["touch", join(latest, "docs", "readme.txt")],
          ["sh", "-c", `echo x > ${quote(join(latest, "docs", "readme.txt"))}`],
          ["sh", "-c", `echo x >> ${quote(join(latest, "name with spaces.txt"))}`],
          ["mkdir", join(latest, "new-dir")],
          ["rm", join(latest, "secret.key")],
          ["rm", "-r", join(latest, "docs")],
          ["mv", join(latest, "run.sh"), join(latest, "moved.sh")],
          ["chmod", "777", join(latest, "run.sh")],
          ["touch", join(mnt, "latest", "new-group")],
          ["mkdir", join(older, "new-dir")],
        ];
        for (const command of attempts) {
          const result = await run(command);
          assert.notEqual(result.code, 0, command.join(" "));
          assert.match(result.stderr, EROFS, `${command.join(" ")}: ${result.stderr}`);
        }
        assert.equal(await cat(join(latest, "docs", "readme.txt")), "version 2, a little longer\n");
      });

      await t.step("a 500 MiB file reads back with dd bs=1M, same SHA-256", async () => {
        const file = join(mnt, "latest", groupNameOf(bigDir), "random.bin");
        assert.equal((await Deno.stat(file)).size, BIG_SIZE);
        const dd = await sh(`dd if=${quote(file)} bs=1M status=none | sha256sum`, 110_000);
        assert.equal(dd.code, 0, dd.stderr);
        assert.equal(dd.stdout.split(" ")[0], bigSha);
      });

      await t.step("a backup made while mounted appears without remounting", async () => {
        await Deno.writeTextFile(join(src, "third.txt"), "third snapshot\n");
        const third = await backup(env, src);
        const list = join(mnt, "snapshots", name);
        await eventually(
          "the third snapshot is listed",
          async () => (await names(list)).includes(snapshotName(third.time)),
          10_000,
        );
        assert.equal((await names(list)).length, 3);
        await eventually(
          "latest/<name> is the third snapshot",
          async () => (await names(latest)).includes("third.txt"),
          10_000,
        );
        assert.equal(await cat(join(latest, "third.txt")), "third snapshot\n");
        assert.equal(main.exited(), false);
      });

      await t.step("SIGTERM unmounts; ddb mount exits 0", async () => {
        const status = await main.stop("SIGTERM");
        assert.equal(status.code, 0, main.stderr());
        assert.equal(await isMounted(mnt), false);
        assert.deepEqual(await names(mnt), []);
      });

      await t.step("after kill -9 the mount is stale; a new ddb mount recovers it", async () => {
        const killed = await mount();
        assert.equal((await killed.stop("SIGKILL")).signal, "SIGKILL");
        assert.equal(await isMounted(mnt), true, "a killed root mount stays behind");
        const stale = await run(["ls", mnt]);
        assert.notEqual(stale.code, 0);
        assert.match(stale.stderr, /Transport endpoint is not connected/);

        const again = await mount();
        assert.match(again.stderr(), /stale/);
        assert.equal(await cat(join(latest, "docs", "readme.txt")), "version 2, a little longer\n");
        const entries = (await mountPoints()).filter((point) => point === mnt);
        assert.equal(entries.length, 1, "the stale mount is gone, the new one is there");

        const umount = await runDdb(["umount", mnt], env);
        assert.equal(umount.code, 0, umount.stderr);
        assert.equal(await isMounted(mnt), false);
        assert.equal((await again.status).code, 0, again.stderr());
        const nothing = await runDdb(["umount", mnt], env);
        assert.notEqual(nothing.code, 0, "nothing is mounted there any more");
      });

      await t.step("server stopped: an unread file fails with EIO, the mount stays", async () => {
        const survivor = await mount();
        // List the older snapshot (directory listings are cached) and read
        // readme.txt, but nothing of removed.txt.
        assert.ok((await names(older)).includes("removed.txt"));
        const readme = join(latest, "docs", "readme.txt");
        assert.equal(await cat(readme), "version 2, a little longer\n");
        await server.stop();

        const eio = await run(["cat", join(older, "removed.txt")], 30_000);
        assert.notEqual(eio.code, 0, eio.stdout);
        assert.match(eio.stderr, /Input\/output error/);
        const root = await run(["ls", mnt]);
        assert.equal(root.code, 0, root.stderr);
        assert.equal(root.stdout, "at\nlatest\nsnapshots\n");
        // Read before, so cached by the kernel and the mount.
        assert.equal(await cat(readme), "version 2, a little longer\n");
        assert.equal(survivor.exited(), false, survivor.stderr());
        assert.equal(await isMounted(mnt), true);

        // Without a server, ddb mount refuses to start.
        const refused = await runDdb(["mount", mnt2], env, 60_000);
        assert.equal(refused.code, 1, refused.stderr);
        assert.match(refused.stderr, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
        assert.match(refused.stderr, /connect|refused/i);
        assert.equal(await isMounted(mnt2), false);

        const status = await survivor.stop("SIGTERM");
        assert.equal(status.code, 0, survivor.stderr());
        assert.equal(await isMounted(mnt), false);
      });

      assert.equal(await isMounted(mnt), false);
      assert.equal(await isMounted(mnt2), false);
    } finally {
      for (const started of mounts) await started.stop("SIGKILL");
      await forceUnmount(mnt);
      await forceUnmount(mnt2);
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.deepEqual((await mountPoints()).filter((point) => point.startsWith(dir)), []);
  },
});
