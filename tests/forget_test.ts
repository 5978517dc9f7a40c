/**
 * End-to-end tests of `ddb forget` against a real `ddb serve` holding
 * snapshots made by the real `ddb backup`: policies per group, --dry-run,
 * tags, ids, the refusal to empty a group, and that what stays is whole
 * (ddb check passes, the group lists and sets agree).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDdb, startServer, type TestServer } from "./_server.ts";
import { Repository } from "../client/repo/repository.ts";
import { commitTree, writeTree } from "../client/snapshot/_testing/write_tree.ts";
import { groupKey } from "../client/snapshot/schema.ts";
import { RespClient } from "../client/remote/resp_client.ts";
import { isolatedEnv } from "./_client_env.ts";

interface Fixture {
  server: TestServer;
  env: Record<string, string>;
  /** Backed-up paths. */
  a: string;
  b: string;
  /** Snapshot ids of `a` (oldest first; the first tagged "weekly") and of `b`. */
  ofA: string[];
  ofB: string[];
}

interface ForgetJson {
  policy?: string;
  dryRun: boolean;
  groups: {
    host: string;
    path: string;
    snapshots: { id: string; keep: boolean; reasons: string[]; tags: string[] }[];
  }[];
  removed: string[];
}

async function backup(env: Record<string, string>, args: string[]): Promise<string> {
  const run = await runDdb(["backup", "--json", "--host", "testhost", ...args], env);
  assert.equal(run.code, 0, run.stderr);
  const summary = run.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    .find((o) => o.type === "summary");
  return summary.snapshot;
}

async function withSnapshots(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-forget-test-" });
  const server = await startServer({ dataDir: join(dir, "server") });
  try {
    const env = {
      DDB_SERVER: `127.0.0.1:${server.port}`,
      ...isolatedEnv(dir),
    };
    const a = join(dir, "a");
    const b = join(dir, "b");
    await Deno.mkdir(a);
    await Deno.mkdir(b);
    const ofA: string[] = [];
    const ofB: string[] = [];
    for (let i = 0; i < 4; i++) {
      await Deno.writeTextFile(join(a, "file.txt"), `version ${i}`);
      ofA.push(await backup(env, [...(i === 0 ? ["--tag", "weekly"] : []), a]));
    }
    for (let i = 0; i < 2; i++) {
      await Deno.writeTextFile(join(b, "file.txt"), `b ${i}`);
      ofB.push(await backup(env, [b]));
    }
    await fn({ server, env, a, b, ofA, ofB });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function listIds(env: Record<string, string>): Promise<string[]> {
  const run = await runDdb(["snapshots", "--json"], env);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout).map((s: { id: string }) => s.id).sort();
}

async function openRepo(server: TestServer): Promise<Repository> {
  return await Repository.open({ hostname: "127.0.0.1", port: server.port }, 0);
}

Deno.test("forget: --keep-last applies to each group; --dry-run removes nothing", async () => {
  await withSnapshots(async ({ server, env, a, b, ofA, ofB }) => {
    const dry = await runDdb(["forget", "--keep-last", "2", "--dry-run", "--json"], env);
    assert.equal(dry.code, 0, dry.stderr);
    const plan: ForgetJson = JSON.parse(dry.stdout);
    assert.equal(plan.policy, "keep 2 latest snapshots");
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.groups.map((g) => [g.host, g.path, g.snapshots.length]), [
      ["testhost", a, 4],
      ["testhost", b, 2],
    ]);
    assert.deepEqual(
      plan.groups[0].snapshots.map((s) => [s.id, s.keep, s.reasons]),
      [
        [ofA[3], true, ["last snapshot"]],
        [ofA[2], true, ["last snapshot"]],
        [ofA[1], false, []],
        [ofA[0], false, []],
      ],
    );
    assert.deepEqual(plan.removed, [ofA[0], ofA[1]]);
    assert.equal((await listIds(env)).length, 6, "a dry run removes nothing");

    const run = await runDdb(["forget", "--keep-last", "2"], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Applying policy: keep 2 latest snapshots/);
    assert.match(run.stdout, /ID\s+Time\s+Tags\s+Action\s+Reasons/);
    assert.match(run.stdout, new RegExp(`${ofA[0].slice(0, 8)} .* weekly\\s+remove`));
    assert.match(run.stdout, /removed 2 snapshots\n$/);
    assert.deepEqual(await listIds(env), [ofA[2], ofA[3], ...ofB].sort());

    const repo = await openRepo(server);
    try {
      const group = await repo.readGroup(groupKey("testhost", a));
      assert.deepEqual(group.map((e) => e.key), [`s:${ofA[2]}`, `s:${ofA[3]}`]);
      assert.equal((await repo.readFields(`s:${ofA[0]}`)).size, 0, "the record is gone");
      assert.deepEqual(
        (await repo.listGroupKeys()).sort(),
        [
          groupKey("testhost", a),
          groupKey("testhost", b),
        ].sort(),
      );
    } finally {
      await repo.close();
    }
    // What stays is whole, and can be backed up onto (its cache snapshot is kept).
    const check = await runDdb(["check"], env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    await backup(env, [a]);
  });
});

Deno.test("forget: --keep-tag keeps tagged snapshots; a policy emptying a group is refused", async () => {
  await withSnapshots(async ({ env, a, b, ofA, ofB }) => {
    const refused = await runDdb(["forget", "--keep-tag", "weekly"], env);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`would remove every snapshot of testhost:${b}`));
    assert.equal((await listIds(env)).length, 6, "nothing was removed");

    const run = await runDdb(
      ["forget", "--keep-tag", "weekly", "--keep-last", "1", "--path", a, "--json"],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const plan: ForgetJson = JSON.parse(run.stdout);
    assert.deepEqual(plan.groups.map((g) => g.path), [a], "--path selects the group");
    assert.deepEqual(
      plan.groups[0].snapshots.filter((s) => s.keep).map((s) => [s.id, s.reasons]),
      [[ofA[3], ["last snapshot"]], [ofA[0], ["has tags [weekly]"]]],
    );
    assert.deepEqual(await listIds(env), [ofA[0], ofA[3], ...ofB].sort());
  });
});

Deno.test("forget: by id; the last snapshot of a group takes the group along", async () => {
  await withSnapshots(async ({ server, env, b, ofA, ofB }) => {
    const run = await runDdb(["forget", ofB[0].slice(0, 8), ofB[1]], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /removed 2 snapshots/);
    assert.deepEqual(await listIds(env), [...ofA].sort());
    const repo = await openRepo(server);
    try {
      assert.ok(!(await repo.listGroupKeys()).includes(groupKey("testhost", b)));
      assert.deepEqual(await repo.readGroup(groupKey("testhost", b)), []);
    } finally {
      await repo.close();
    }

    const unknown = await runDdb(["forget", "abcdef12"], env);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /no snapshot id starts with "abcdef12"/);
    const both = await runDdb(["forget", "--keep-last", "1", ofA[0]], env);
    assert.equal(both.code, 2);
    const none = await runDdb(["forget"], env);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /No policy/);
    const badDuration = await runDdb(["forget", "--keep-within", "1w"], env);
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /Cannot parse duration "1w"/);
    assert.deepEqual(await listIds(env), [...ofA].sort(), "refused runs removed nothing");
  });
});

Deno.test("forget: a snapshot whose group entry a concurrent commit lost is linked again", async () => {
  const server = await startServer();
  const repo = await openRepo(server);
  const raw = await RespClient.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const ref = await writeTree(repo, { type: "dir", name: "d", children: [] });
    const keys: string[] = [];
    for (const timeUs of [1n, 2n, 3n]) keys.push(await commitTree(repo, ref, { timeUs, dirs: 1 }));
    const group = groupKey("testhost", "/data");
    // As if the third snapshot was committed between a forget's read of the
    // group list and its transaction: the rewritten list lacks its entry.
    await raw.call("DEL", group);
    await raw.call("LADD", group, "1", keys[0]);
    await raw.call("LADD", group, "2", keys[1]);
    const first = (await repo.listSnapshots()).filter((s) => s.key === keys[0]);
    await repo.removeSnapshots(first);
    assert.deepEqual((await repo.readGroup(group)).map((e) => [e.timeUs, e.key]), [
      [2n, keys[1]],
      [3n, keys[2]],
    ]);
    assert.deepEqual((await repo.listSnapshotKeys()).sort(), [keys[1], keys[2]].sort());
  } finally {
    await raw.closed();
    await repo.close();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
