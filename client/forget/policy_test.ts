import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  applyPolicy,
  describePolicy,
  DurationSyntaxError,
  EmptyPolicyError,
  formatDuration,
  isoWeek,
  type KeepPolicy,
  parseDuration,
  type PolicyOptions,
  type PolicySnapshot,
  subtractDuration,
} from "./policy.ts";

const NOW: PolicyOptions = { nowUs: BigInt(Date.parse("2100-01-01T00:00:00Z")) * 1000n };

/** A snapshot at an ISO time (UTC unless it has an offset), with tags. */
function at(iso: string, tags: string[] = []): PolicySnapshot {
  const ms = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
  assert.ok(!Number.isNaN(ms), iso);
  return { key: `s:${iso}`, timeUs: BigInt(ms) * 1000n, tags };
}

/** The kept snapshots, newest first, as "time: reasons". */
function kept(
  snapshots: PolicySnapshot[],
  policy: KeepPolicy,
  options: PolicyOptions = NOW,
): string[] {
  return applyPolicy(snapshots, policy, options).filter((d) => d.keep).map((d) =>
    `${d.snapshot.key.slice(2)}: ${d.reasons.join(", ")}`
  );
}

Deno.test("policy: restic's documented example — 12 Sundays, --keep-daily 4", () => {
  const sundays = [
    "2019-09-01",
    "2019-09-08",
    "2019-09-15",
    "2019-09-22",
    "2019-09-29",
    "2019-10-06",
    "2019-10-13",
    "2019-10-20",
    "2019-10-27",
    "2019-11-03",
    "2019-11-10",
    "2019-11-17",
  ].map((day) => at(`${day}T11:00:00`));
  const decisions = applyPolicy(sundays, { daily: 4 }, NOW);
  assert.deepEqual(
    decisions.filter((d) => d.keep).map((d) => [d.snapshot.key.slice(2, 12), d.reasons]),
    [
      ["2019-11-17", ["daily snapshot"]],
      ["2019-11-10", ["daily snapshot"]],
      ["2019-11-03", ["daily snapshot"]],
      ["2019-10-27", ["daily snapshot"]],
    ],
  );
  assert.equal(decisions.filter((d) => !d.keep).length, 8);
  assert.deepEqual(decisions.map((d) => d.snapshot), [...sundays].reverse(), "newest first");
});

Deno.test("policy: restic's documented example — daily for 100 years, 7 daily 5 weekly 12 monthly 75 yearly", () => {
  const snapshots: PolicySnapshot[] = [];
  const start = Date.parse("1925-01-01T03:00:00Z");
  const end = Date.parse("2024-12-29T03:00:00Z"); // a Sunday: the 7 dailies are one week
  for (let ms = start; ms <= end; ms += 86_400_000) {
    snapshots.push({ key: `s:${ms}`, timeUs: BigInt(ms) * 1000n, tags: [] });
  }
  const decisions = applyPolicy(snapshots, { daily: 7, weekly: 5, monthly: 12, yearly: 75 }, NOW);
  const only = (reason: string) =>
    decisions.filter((d) => d.reasons.length > 0 && d.reasons.every((r) => r === reason)).length;
  const with_ = (reason: string) => decisions.filter((d) => d.reasons.includes(reason)).length;
  // "the most recent 7 daily snapshots and 4 last-day-of-the-week ones (since the
  // 7 dailies already include 1 weekly) … 12 or 11 last-day-of-the-month … 75 or 74
  // last-day-of-the-year snapshots".
  assert.equal(with_("daily snapshot"), 7);
  assert.equal(with_("weekly snapshot"), 5);
  assert.equal(only("weekly snapshot"), 4);
  assert.equal(with_("monthly snapshot"), 12);
  assert.ok([11, 12].includes(only("monthly snapshot")), `${only("monthly snapshot")}`);
  assert.equal(with_("yearly snapshot"), 75);
  assert.ok([74, 75].includes(only("yearly snapshot")), `${only("yearly snapshot")}`);
  const keptCount = decisions.filter((d) => d.keep).length;
  assert.equal(
    keptCount,
    7 + 4 + only("monthly snapshot") + only("yearly snapshot"),
  );
  // The counts run out long before the oldest snapshot: it is not kept.
  assert.equal(decisions.at(-1)!.keep, false);
  // The newest snapshot of 2024-12 and of 2024 is the last one.
  assert.deepEqual(decisions[0].reasons, [
    "daily snapshot",
    "weekly snapshot",
    "monthly snapshot",
    "yearly snapshot",
  ]);
});

Deno.test("policy: --keep-last keeps the n newest", () => {
  const list = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"].map((d) =>
    at(`${d}T00:00:00`)
  );
  assert.deepEqual(kept(list, { last: 3 }), [
    "2024-01-05T00:00:00: last snapshot",
    "2024-01-04T00:00:00: last snapshot",
    "2024-01-03T00:00:00: last snapshot",
  ]);
  assert.equal(kept(list, { last: Infinity }).length, 5);
});

Deno.test("policy: --keep-hourly keeps the newest of each hour; leftover counts keep the oldest", () => {
  const list = ["10:05", "10:40", "11:10", "11:50", "12:30"].map((t) => at(`2024-03-01T${t}:00`));
  assert.deepEqual(kept(list, { hourly: 2 }), [
    "2024-03-01T12:30:00: hourly snapshot",
    "2024-03-01T11:50:00: hourly snapshot",
  ]);
  // Five hours asked, three exist: each hour's newest, and the oldest as well.
  assert.deepEqual(kept(list, { hourly: 5 }), [
    "2024-03-01T12:30:00: hourly snapshot",
    "2024-03-01T11:50:00: hourly snapshot",
    "2024-03-01T10:40:00: hourly snapshot",
    "2024-03-01T10:05:00: oldest hourly snapshot",
  ]);
});

Deno.test("policy: weeks are ISO weeks, Monday to Sunday, across the new year", () => {
  const list = [
    at("2015-12-28T08:00:00"), // Monday of 2015-W53
    at("2016-01-03T08:00:00"), // Sunday of 2015-W53
    at("2016-01-04T08:00:00"), // Monday of 2016-W01
  ];
  assert.deepEqual(kept(list, { weekly: 2 }), [
    "2016-01-04T08:00:00: weekly snapshot",
    "2016-01-03T08:00:00: weekly snapshot",
  ]);
  assert.deepEqual(isoWeek(2015, 12, 31), { year: 2015, week: 53 });
  assert.deepEqual(isoWeek(2016, 1, 3), { year: 2015, week: 53 });
  assert.deepEqual(isoWeek(2016, 1, 4), { year: 2016, week: 1 });
  assert.deepEqual(isoWeek(2018, 12, 31), { year: 2019, week: 1 });
  assert.deepEqual(isoWeek(2020, 12, 31), { year: 2020, week: 53 });
  assert.deepEqual(isoWeek(2024, 6, 15), { year: 2024, week: 24 });
});

Deno.test("policy: monthly and yearly; rules are ORed and each rule that keeps is a reason", () => {
  const list = [
    at("2022-06-01T00:00:00"),
    at("2023-01-15T00:00:00"),
    at("2023-12-20T00:00:00"),
    at("2024-01-10T00:00:00"),
    at("2024-02-01T00:00:00"),
    at("2024-02-20T00:00:00"),
  ];
  assert.deepEqual(kept(list, { last: 1, monthly: 2, yearly: 3 }), [
    "2024-02-20T00:00:00: last snapshot, monthly snapshot, yearly snapshot",
    "2024-01-10T00:00:00: monthly snapshot",
    "2023-12-20T00:00:00: yearly snapshot",
    "2022-06-01T00:00:00: yearly snapshot",
  ]);
  assert.deepEqual(kept(list, { monthly: Infinity }), [
    "2024-02-20T00:00:00: monthly snapshot",
    "2024-01-10T00:00:00: monthly snapshot",
    "2023-12-20T00:00:00: monthly snapshot",
    "2023-01-15T00:00:00: monthly snapshot",
    "2022-06-01T00:00:00: monthly snapshot",
  ]);
});

Deno.test("policy: --keep-within counts back on the calendar from the latest snapshot", () => {
  // Latest 2016-03-31 12:00; minus 1m is "2016-02-31", which is 2016-03-02 (as Go's AddDate).
  const list = [
    at("2016-03-01T23:59:59"),
    at("2016-03-02T12:00:00"),
    at("2016-03-02T12:00:00.001"),
    at("2016-03-30T09:59:59"),
    at("2016-03-30T10:00:00.001"),
    at("2016-03-31T12:00:00"),
  ];
  assert.deepEqual(kept(list, { within: parseDuration("1m") }), [
    "2016-03-31T12:00:00: within 1m",
    "2016-03-30T10:00:00.001: within 1m",
    "2016-03-30T09:59:59: within 1m",
    "2016-03-02T12:00:00.001: within 1m",
  ]);
  assert.deepEqual(kept(list, { within: parseDuration("1d2h") }), [
    "2016-03-31T12:00:00: within 1d2h",
    "2016-03-30T10:00:00.001: within 1d2h",
  ]);
  const d = parseDuration("1y2m3d3h");
  const t = subtractDuration(BigInt(Date.parse("2016-01-18T12:02:03Z")) * 1000n + 7n, d);
  assert.equal(t, BigInt(Date.parse("2014-11-15T09:02:03Z")) * 1000n + 7n);
});

Deno.test("policy: --keep-within ignores snapshots in the future when finding the latest", () => {
  const list = [at("2016-03-20T00:00:00"), at("2016-03-31T00:00:00"), at("2016-05-01T00:00:00")];
  const now = { nowUs: BigInt(Date.parse("2016-04-01T00:00:00Z")) * 1000n };
  assert.deepEqual(kept(list, { within: parseDuration("7d") }, now), [
    "2016-05-01T00:00:00: within 7d",
    "2016-03-31T00:00:00: within 7d",
  ]);
});

Deno.test("policy: --keep-tag keeps snapshots having all tags of any list; '' is untagged", () => {
  const list = [
    at("2024-01-01T00:00:00", ["a"]),
    at("2024-01-02T00:00:00", ["a", "b"]),
    at("2024-01-03T00:00:00", ["c"]),
    at("2024-01-04T00:00:00"),
  ];
  assert.deepEqual(kept(list, { tags: [["a", "b"]] }), [
    "2024-01-02T00:00:00: has tags [a, b]",
  ]);
  assert.deepEqual(kept(list, { tags: [["a"], ["c"]] }), [
    "2024-01-03T00:00:00: has tags [c]",
    "2024-01-02T00:00:00: has tags [a]",
    "2024-01-01T00:00:00: has tags [a]",
  ]);
  assert.deepEqual(kept(list, { tags: [[""]] }), ["2024-01-04T00:00:00: has tags []"]);
  // Tags are not counted: --keep-last 1 still takes the newest.
  assert.deepEqual(kept(list, { last: 1, tags: [["c"]] }), [
    "2024-01-04T00:00:00: last snapshot",
    "2024-01-03T00:00:00: has tags [c]",
  ]);
});

Deno.test("policy: an empty policy is refused; equal times are ordered by key", () => {
  assert.throws(() => applyPolicy([at("2024-01-01T00:00:00")], {}, NOW), EmptyPolicyError);
  assert.throws(
    () => applyPolicy([], { last: 0, within: parseDuration("0d") }, NOW),
    EmptyPolicyError,
  );
  const a = { key: "s:aa", timeUs: 5n, tags: [] };
  const b = { key: "s:bb", timeUs: 5n, tags: [] };
  assert.deepEqual(applyPolicy([b, a], { last: 1 }, NOW).map((d) => [d.snapshot.key, d.keep]), [
    ["s:aa", true],
    ["s:bb", false],
  ]);
  assert.deepEqual(applyPolicy([], { last: 1 }, NOW), []);
});

Deno.test("policy: durations parse and print like restic's", () => {
  assert.deepEqual(parseDuration("1y2m3d4h"), { years: 1, months: 2, days: 3, hours: 4 });
  assert.deepEqual(parseDuration("7d"), { years: 0, months: 0, days: 7, hours: 0 });
  assert.deepEqual(parseDuration("12h2m"), { years: 0, months: 2, days: 0, hours: 12 });
  for (const bad of ["", "1w", "d", "1y2", "-1d", "1.5d", "1 d"]) {
    assert.throws(() => parseDuration(bad), DurationSyntaxError, bad);
  }
  assert.equal(formatDuration(parseDuration("1y2m3d4h")), "1y2m3d4h");
  assert.equal(formatDuration(parseDuration("0d3h")), "3h");
  assert.equal(
    describePolicy({ daily: 7, weekly: Infinity, within: parseDuration("1y"), tags: [["x"]] }),
    "keep 7 daily, all weekly snapshots and all with tags [x] and all within 1y of the latest",
  );
});

Deno.test("policy: --local-time buckets follow the process time zone (TZ)", async () => {
  const module = fileURLToPath(new URL("./policy.ts", import.meta.url));
  const script = `
    import { applyPolicy } from ${JSON.stringify(module)};
    const list = ["2024-01-01T10:00:00Z", "2024-01-01T14:00:00Z", "2024-01-01T16:00:00Z"]
      .map((t) => ({ key: "s:" + t, timeUs: BigInt(Date.parse(t)) * 1000n, tags: [] }));
    const run = (zone) => applyPolicy(list, { daily: 2 }, { nowUs: 0n, zone })
      .filter((d) => d.keep).map((d) => d.snapshot.key.slice(2) + " " + d.reasons.join(","));
    console.log(JSON.stringify({ utc: run("utc"), local: run("local") }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { TZ: "Asia/Tokyo" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  // UTC: all on January 1st; the second daily count keeps the oldest.
  assert.deepEqual(result.utc, [
    "2024-01-01T16:00:00Z daily snapshot",
    "2024-01-01T10:00:00Z oldest daily snapshot",
  ]);
  // Tokyo (UTC+9): 16:00Z is January 2nd, 14:00Z the newest of January 1st.
  assert.deepEqual(result.local, [
    "2024-01-01T16:00:00Z daily snapshot",
    "2024-01-01T14:00:00Z daily snapshot",
  ]);
});
