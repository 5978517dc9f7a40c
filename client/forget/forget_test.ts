import assert from "node:assert/strict";
import type { SnapshotEntry } from "../repo/repository.ts";
import { SnapshotNotFoundError, SnapshotSpecError } from "../snapshot/select.ts";
import { ForgetRefusedError, planForget, planForgetIds } from "./forget.ts";

const NOW = 2_000_000_000_000_000n;

function snapshot(id: string, host: string, path: string, day: number, tags: string[] = []) {
  const entry: SnapshotEntry = {
    key: `s:${id.padEnd(64, "0")}`,
    ref: "m:x",
    host,
    path,
    timeUs: BigInt(Date.UTC(2024, 0, day)) * 1000n,
    tags,
    files: 0,
    dirs: 0,
    bytes: 0,
    newBytes: 0,
    newChunks: 0,
    errors: 0,
    client: "test",
  };
  return entry;
}

const all = [
  snapshot("a1", "h1", "/data", 1, ["keep"]),
  snapshot("a2", "h1", "/data", 2),
  snapshot("a3", "h1", "/data", 3),
  snapshot("b1", "h1", "/etc", 1),
  snapshot("b2", "h1", "/etc", 2),
  snapshot("c1", "h2", "/data", 1),
];

const ids = (list: SnapshotEntry[]) => list.map((s) => s.key.slice(2, 4));

Deno.test("planForget() applies the policy to each (host, path) group", () => {
  const plan = planForget(all, { last: 1 }, { nowUs: NOW });
  assert.deepEqual(plan.groups.map((g) => `${g.host}:${g.path}`), [
    "h1:/data",
    "h1:/etc",
    "h2:/data",
  ]);
  assert.deepEqual(ids(plan.remove), ["a1", "b1", "a2"], "oldest first");
  assert.deepEqual(plan.groups[0].decisions.map((d) => [ids([d.snapshot])[0], d.keep]), [
    ["a3", true],
    ["a2", false],
    ["a1", false],
  ]);
});

Deno.test("planForget() filters by host, path and tags before grouping", () => {
  assert.deepEqual(
    ids(planForget(all, { last: 1 }, { nowUs: NOW, filter: { hosts: ["h2"] } }).remove),
    [],
  );
  assert.deepEqual(
    ids(planForget(all, { last: 1 }, { nowUs: NOW, filter: { paths: ["/etc"] } }).remove),
    ["b1"],
  );
  const untagged = planForget(all, { last: 1 }, { nowUs: NOW, filter: { tags: [[""]] } });
  assert.deepEqual(ids(untagged.remove), ["b1", "a2"], "a1 (tagged) is not considered");
  const kept = planForget(all, { last: 1, tags: [["keep"]] }, { nowUs: NOW });
  assert.deepEqual(ids(kept.remove), ["b1", "a2"]);
});

Deno.test("planForget() refuses a policy that would empty a group", () => {
  assert.throws(
    () => planForget(all, { tags: [["keep"]] }, { nowUs: NOW }),
    (e: Error) => e instanceof ForgetRefusedError && /h1:\/etc, h2:\/data/.test(e.message),
  );
  const plan = planForget(all, { tags: [["keep"]] }, {
    nowUs: NOW,
    filter: { paths: ["/data"], hosts: ["h1"] },
  });
  assert.deepEqual(ids(plan.remove), ["a2", "a3"]);
});

Deno.test("planForgetIds() selects by id prefix, each once", () => {
  const plan = planForgetIds(all, ["b2000", "a100", "B200"]);
  assert.deepEqual(ids(plan.remove), ["a1", "b2"]);
  assert.deepEqual(plan.groups, []);
  assert.throws(() => planForgetIds(all, ["latest"]), SnapshotSpecError);
  assert.throws(() => planForgetIds(all, ["ffff"]), SnapshotNotFoundError);
});
