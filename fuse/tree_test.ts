import assert from "node:assert/strict";
import {
  buildLayout,
  entryName,
  groupName,
  latestOf,
  microsecondName,
  NAME_MAX,
  nameSnapshots,
  parseGroupName,
  secondName,
  snapshotAsOf,
  type SnapshotLike,
  timeLimitUs,
} from "./tree.ts";

const encoder = new TextEncoder();

/** µs of a UTC date. */
function us(
  year: number,
  month: number,
  day = 1,
  hour = 0,
  minute = 0,
  second = 0,
  micro = 0,
): bigint {
  return BigInt(Date.UTC(year, month - 1, day, hour, minute, second)) * 1000n + BigInt(micro);
}

function snap(key: string, timeUs: bigint, host = "h", path = "/p"): SnapshotLike {
  return { key, host, path, timeUs };
}

Deno.test("groupName() writes host and path components joined by ':'", () => {
  assert.equal(groupName("laptop", "/home/ann/photos"), "laptop:home:ann:photos");
  assert.equal(groupName("laptop", "/"), "laptop:");
  assert.equal(groupName("nas", "/srv/a:b"), "nas:srv:a%3Ab");
  assert.equal(groupName("nas", "/srv/100%"), "nas:srv:100%25");
  assert.equal(groupName("nas", "/a\nb/c\x7f"), "nas:a%0Ab:c%7F");
  assert.equal(groupName("we/ird%", "/x"), "we%2Fird%25:x");
  assert.equal(groupName("h", "/ünï cödé/✓"), "h:ünï cödé:✓");
  assert.equal(groupName("h", "rel/path"), "h:%.rel:path");
  assert.equal(groupName("h", ""), "h:%.");
});

Deno.test("groupName() is one unambiguous path component, and parseGroupName() inverts it", () => {
  const pairs: [string, string][] = [
    ["h", "/"],
    ["h", ""],
    ["h", "//"],
    ["h", "/a"],
    ["h", "/a/"],
    ["h", "a"],
    ["h", "/a/b"],
    ["h", "/a:b"],
    ["h", "/a%3Ab"],
    ["h", "/a%2Fb"],
    ["h", "/%."],
    ["h", "%."],
    ["h", "/."],
    ["h", "/.."],
    ["h", "/a\0b"],
    ["h.x", "/a"],
    ["h", ".x/a"],
    ["h%", "/a"],
    ["h/a", "/"],
    ["h", "/~user"],
  ];
  const names = new Set<string>();
  for (const [host, path] of pairs) {
    const name = groupName(host, path);
    assert.ok(!name.includes("/") && !name.includes("\0") && name !== "." && name !== "..");
    assert.ok(!names.has(name), `${host} ${path} → ${name} is taken`);
    names.add(name);
    assert.deepEqual(parseGroupName(name), { host, path }, name);
  }
});

Deno.test("parseGroupName() accepts only canonical names", () => {
  for (const name of ["h:%41", "h:%4", "h:%zz", "nohost", ":x", "h:a%3ab", "h:x%~0123"]) {
    assert.equal(parseGroupName(name), undefined, name);
  }
});

Deno.test("groupName() shortens long names with a hash of the whole", () => {
  const base = "/" + "directory-".repeat(30);
  const a = groupName("host", base + "a");
  const b = groupName("host", base + "b");
  for (const name of [a, b]) {
    assert.ok(encoder.encode(name).length <= NAME_MAX, name);
    assert.match(name, /^host:directory-.*%~[0-9a-f]{16}$/);
    assert.equal(parseGroupName(name), undefined);
  }
  assert.notEqual(a, b);
  // A cut never splits an escape or a multi-byte character.
  const colons = groupName("host", "/" + "::".repeat(200));
  assert.match(colons, /^host:(%3A)+%~[0-9a-f]{16}$/);
  const wide = groupName("host", "/" + "✓".repeat(200));
  assert.ok(encoder.encode(wide).length <= NAME_MAX);
  assert.match(wide, /^host:✓+%~[0-9a-f]{16}$/);
});

Deno.test("secondName() and microsecondName() write UTC RFC 3339 times", () => {
  const t = us(2024, 5, 4, 15, 4, 5, 123456);
  assert.equal(secondName(t), "2024-05-04T15:04:05Z");
  assert.equal(microsecondName(t), "2024-05-04T15:04:05.123456Z");
  assert.equal(microsecondName(us(2024, 5, 4, 15, 4, 5, 7)), "2024-05-04T15:04:05.000007Z");
  assert.equal(secondName(0n), "1970-01-01T00:00:00Z");
  assert.equal(secondName(10n ** 30n), `@${10n ** 30n}`);
});

Deno.test("nameSnapshots() tells snapshots of one second apart, keeping the first's name", () => {
  const t = us(2024, 5, 4, 15, 4, 5);
  const named = nameSnapshots([
    snap("s:aaaa1111", t - 1n),
    snap("s:bbbb2222", t + 10n),
    snap("s:cccc3333", t + 20n),
    snap("s:dddd4444", t + 20n),
    snap("s:eeee5555", t + 1_000_000n),
  ]);
  assert.deepEqual(named.map((n) => n.name), [
    "2024-05-04T15:04:04Z",
    "2024-05-04T15:04:05Z",
    "2024-05-04T15:04:05.000020Z",
    "2024-05-04T15:04:05.000020Z-dddd4444",
    "2024-05-04T15:04:06Z",
  ]);
});

Deno.test("buildLayout() groups snapshots by (host, path), names sorted, oldest first", () => {
  const layout = buildLayout([
    snap("s:3", us(2024, 3, 1), "b", "/x"),
    snap("s:1", us(2024, 1, 1), "b", "/x"),
    snap("s:2", us(2024, 2, 1), "a", "/y"),
    snap("s:4", us(2023, 1, 1), "a", "/x"),
  ]);
  assert.deepEqual([...layout.groups.keys()], ["a:x", "a:y", "b:x"]);
  const bx = layout.groups.get("b:x")!;
  assert.deepEqual(bx.snapshots.map((s) => s.snapshot.key), ["s:1", "s:3"]);
  assert.equal(latestOf(bx)?.snapshot.key, "s:3");
  assert.equal(bx.byName.get("2024-03-01T00:00:00Z")?.snapshot.key, "s:3");
  assert.equal(layout.newestUs, us(2024, 3, 1));
  assert.equal(buildLayout([]).newestUs, undefined);
});

Deno.test("timeLimitUs() is the end of the period a name denotes, at every precision", () => {
  const cases: [string, bigint][] = [
    ["2024", us(2025, 1)],
    ["2024-05", us(2024, 6)],
    ["2024-12", us(2025, 1)],
    ["2024-05-04", us(2024, 5, 5)],
    ["2024-02-29", us(2024, 3, 1)],
    ["2024-05-04T15", us(2024, 5, 4, 16)],
    ["2024-05-04T23", us(2024, 5, 5)],
    ["2024-05-04T15:04", us(2024, 5, 4, 15, 5)],
    ["2024-05-04T15:04:05", us(2024, 5, 4, 15, 4, 6)],
    ["2024-05-04T15:04:59", us(2024, 5, 4, 15, 5, 0)],
    ["2024-05-04T15:04:05.1", us(2024, 5, 4, 15, 4, 5, 200_000)],
    ["2024-05-04T15:04:05.123456", us(2024, 5, 4, 15, 4, 5, 123_457)],
    ["2024-05-04T15:04:05.123456Z", us(2024, 5, 4, 15, 4, 5, 123_457)],
    ["2024-05-04T15:04:05.123456789", us(2024, 5, 4, 15, 4, 5, 123_457)],
    ["2024-05-04T15:04:05.123456001", us(2024, 5, 4, 15, 4, 5, 123_457)],
    ["2024-05-04T15:04:05.000000999", us(2024, 5, 4, 15, 4, 5, 1)],
    ["2024-5-4T9:3:7", us(2024, 5, 4, 9, 3, 8)],
    ["2024-05-04t15:04:05z", us(2024, 5, 4, 15, 4, 6)],
    ["2024-05-04T15:04:05Z", us(2024, 5, 4, 15, 4, 6)],
    ["2024-05-04T17:04:05+02:00", us(2024, 5, 4, 15, 4, 6)],
    ["2024-05-04T10:04-05:30", us(2024, 5, 4, 15, 35)],
    ["1969", 0n],
  ];
  for (const [text, expected] of cases) assert.equal(timeLimitUs(text), expected, text);
  assert.equal(timeLimitUs("2024-05-04T15:04:05Z"), 1714835046000000n);
  assert.equal(timeLimitUs("2024"), 1735689600000000n);
});

Deno.test("timeLimitUs() refuses what is not a time", () => {
  for (
    const text of [
      "",
      "24",
      "latest",
      "2024-13",
      "2024-00",
      "2023-02-29",
      "2024-04-31",
      "2024-05-00",
      "2024-05-04T24",
      "2024-05-04T15:60",
      "2024-05-04T15:04:60",
      "2024-05-04T15:04:05.1234567890",
      "2024-05-04T15:04:05.",
      "2024-05-04 15:04",
      "2024-05-04T",
      "2024-05-04T15:04:05+2:00",
      "2024-05-04T15:04:05+24:00",
      "2024-05-04T15:04:05Z-dddd4444",
    ]
  ) {
    assert.equal(timeLimitUs(text), undefined, text);
  }
});

Deno.test("snapshotAsOf() finds the newest snapshot at or before the end of the period", () => {
  const layout = buildLayout([
    snap("s:a", us(2023, 12, 31, 23, 59, 59, 999_999)),
    snap("s:b", us(2024, 5, 4, 15, 4, 5)),
    snap("s:c", us(2024, 5, 4, 15, 4, 5, 500_000)),
    snap("s:d", us(2024, 5, 4, 15, 30)),
    snap("s:e", us(2024, 5, 20)),
    snap("s:f", us(2025, 2, 1)),
  ]);
  const group = layout.groups.get("h:p")!;
  const at = (text: string) => snapshotAsOf(group, text)?.snapshot.key;
  assert.equal(at("2022"), undefined);
  assert.equal(at("2023"), "s:a");
  assert.equal(at("2023-12-31T23:59:59"), "s:a");
  assert.equal(at("2023-12-31T23:59:59.999998"), undefined);
  assert.equal(at("2024"), "s:e");
  assert.equal(at("2024-04"), "s:a");
  assert.equal(at("2024-05"), "s:e");
  assert.equal(at("2024-05-04"), "s:d");
  assert.equal(at("2024-05-04T15"), "s:d");
  assert.equal(at("2024-05-04T15:29"), "s:c");
  assert.equal(at("2024-05-04T15:04"), "s:c");
  assert.equal(at("2024-05-04T15:04:05"), "s:c");
  assert.equal(at("2024-05-04T15:04:05.4"), "s:b");
  assert.equal(at("2024-05-04T15:04:05.000000"), "s:b");
  assert.equal(at("2024-05-04T15:04:04"), "s:a");
  assert.equal(at("2024-05-04T15:30:00.000000Z"), "s:d");
  assert.equal(at("2099"), "s:f");
  assert.equal(at("not-a-time"), undefined);
});

Deno.test("entryName() refuses names that cannot be path components", () => {
  assert.equal(entryName(encoder.encode("ok ✓")), "ok ✓");
  for (const bad of ["", ".", "..", "a/b", "a\0b"]) {
    assert.equal(entryName(encoder.encode(bad)), undefined, JSON.stringify(bad));
  }
});
