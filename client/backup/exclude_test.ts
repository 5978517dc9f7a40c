import assert from "node:assert/strict";
import { excludeAny, ExcludeMatcher, ExcludePatternError, parseExcludeFile } from "./exclude.ts";

/** [pattern, path, isDir, excluded]. */
type Case = [string, string, boolean, boolean];

const CASES: Case[] = [
  // A name without `/` matches the basename at any depth.
  ["foo", "/foo", false, true],
  ["foo", "/a/b/foo", false, true],
  ["foo", "/a/b/foo", true, true],
  ["foo", "/a/b/foobar", false, false],
  ["foo", "/a/b/xfoo", false, false],
  ["foo", "/a/foo/b", false, true], // ancestor matches
  ["foo", "/a/foox/b", false, false],
  ["foo", "/", true, false],
  // `*` stays within one component.
  ["*.tmp", "/x/y.tmp", false, true],
  ["*.tmp", "/x/.tmp", false, true],
  ["*.tmp", "/x/y.tmp.bak", false, false],
  ["*.tmp", "/x.tmp/y", false, true],
  ["a*b", "/ab", false, true],
  ["a*b", "/a/b", false, false],
  ["/a*", "/abc/d", false, true],
  ["/a*/d", "/a/x/d", false, false],
  ["/a*/d", "/abc/d", false, true],
  ["*", "/anything", false, true],
  ["foo**", "/foobar", false, true],
  ["foo**", "/foo/bar", false, true], // through the ancestor `foo`
  ["/x/foo**", "/x/foox/bar", false, true],
  ["/x/a**b", "/x/a/b", false, false], // `**` inside a component is `*`
  // `?`.
  ["?.c", "/src/a.c", false, true],
  ["?.c", "/src/ab.c", false, false],
  ["a?b", "/a/b", false, false],
  // Classes.
  ["[abc].txt", "/b.txt", false, true],
  ["[abc].txt", "/d.txt", false, false],
  ["[a-c]x", "/bx", false, true],
  ["[a-c]x", "/dx", false, false],
  ["[!a]x", "/bx", false, true],
  ["[!a]x", "/ax", false, false],
  ["[^a]x", "/ax", false, false],
  ["[]]x", "/]x", false, true],
  ["[!]]x", "/]x", false, false],
  ["[!]]x", "/ax", false, true],
  ["[a-]x", "/-x", false, true],
  ["[\\]]x", "/]x", false, true],
  ["[\\-]x", "/-x", false, true],
  ["[\\-]x", "/ax", false, false],
  ["a[!b]c", "/a/c", false, false], // a class never matches `/`
  ["/[!x]", "/a", false, true],
  ["[é-ë]", "/ê", false, true],
  // Escapes.
  ["\\*", "/*", false, true],
  ["\\*", "/a", false, false],
  ["\\?", "/?", false, true],
  ["\\?", "/a", false, false],
  ["\\[a]", "/[a]", false, true],
  ["\\[a]", "/a", false, false],
  ["\\!x", "/!x", false, true],
  ["a\\\\b", "/a\\b", false, true],
  ["a\\/b", "/a/b", false, true],
  // Regular-expression characters are literal.
  ["a.b", "/axb", false, false],
  ["a.b", "/a.b", false, true],
  ["(x)+", "/(x)+", false, true],
  ["$^{}|", "/$^{}|", false, true],
  ["x", "/a\nb/x", false, true],
  ["a\nb", "/a\nb", false, true],
  // Patterns with `/` but not starting with one match at any depth.
  ["src/gen", "/home/u/src/gen", true, true],
  ["src/gen", "/home/u/src/gen/x.ts", false, true],
  ["src/gen", "/home/u/src/generated", true, false],
  ["src/gen", "/home/u/xsrc/gen", true, false],
  ["src/gen", "/src/gen", true, true],
  // Anchored patterns.
  ["/tmp", "/tmp", true, true],
  ["/tmp", "/tmp/x", false, true],
  ["/tmp", "/var/tmp", true, false],
  ["/home/*/.cache", "/home/u/.cache", true, true],
  ["/home/*/.cache", "/home/u/.cache/a/b", false, true],
  ["/home/*/.cache", "/home/u/v/.cache", true, false],
  ["//home//u/", "/home/u", true, true],
  ["/./home", "/home", true, true],
  // `**` as a component.
  ["/a/**/b", "/a/b", false, true],
  ["/a/**/b", "/a/x/b", false, true],
  ["/a/**/b", "/a/x/y/b", false, true],
  ["/a/**/b", "/a/x/y/c", false, false],
  ["/a/**/b", "/c/a/x/b", false, false],
  ["a/**/b", "/c/a/x/b", false, true],
  ["/a/**", "/a", true, true],
  ["/a/**", "/a/x/y", false, true],
  ["/a/**", "/ab", true, false],
  ["**/b", "/b", false, true],
  ["**/b", "/x/y/b", false, true],
  ["/**/b", "/x/y/b", false, true],
  ["/**", "/x", false, true],
  ["**", "/x/y", false, true],
  ["/x/**/*.o", "/x/a/b/c.o", false, true],
  ["/x/**/*.o", "/x/c.o", false, true],
  ["/x/**/*.o", "/y/c.o", false, false],
  // Directory-only patterns.
  ["cache/", "/a/cache", true, true],
  ["cache/", "/a/cache", false, false],
  ["cache/", "/a/cache/f", false, true], // inside a matching directory
  ["cache/", "/a/cache/d", true, true],
  ["/a/b/", "/a/b", false, false],
  ["/a/b/", "/a/b", true, true],
  ["/a/b//", "/a/b", true, true],
  ["*.d/", "/etc/x.d", true, true],
  ["*.d/", "/etc/x.d", false, false],
  // Case-sensitive.
  ["Foo", "/foo", false, false],
];

Deno.test("ExcludeMatcher matches patterns like restic", () => {
  const failures: string[] = [];
  for (const [pattern, path, isDir, expected] of CASES) {
    const actual = new ExcludeMatcher([pattern]).excludes(path, isDir);
    if (actual !== expected) {
      failures.push(`${JSON.stringify(pattern)} ${JSON.stringify(path)} dir=${isDir}: ${actual}`);
    }
  }
  assert.deepEqual(failures, []);
});

Deno.test("ExcludeMatcher with several patterns excludes when any matches", () => {
  const matcher = new ExcludeMatcher(["*.tmp", "/proc", "node_modules/", "/home/*/.cache"]);
  const cases: [string, boolean, boolean][] = [
    ["/a/b.tmp", false, true],
    ["/proc", true, true],
    ["/proc/1/status", false, true],
    ["/x/proc", true, false],
    ["/w/node_modules", true, true],
    ["/w/node_modules", false, false],
    ["/w/node_modules/x/y.js", false, true],
    ["/home/u/.cache", true, true],
    ["/home/u/.config", true, false],
    ["/home/u/notes.txt", false, false],
  ];
  for (const [path, isDir, expected] of cases) {
    assert.equal(matcher.excludes(path, isDir), expected, `${path} dir=${isDir}`);
  }
});

Deno.test("ExcludeMatcher with only directory patterns never matches a top-level file", () => {
  const matcher = new ExcludeMatcher(["tmp/"]);
  assert.equal(matcher.excludes("/tmp", false), false);
  assert.equal(matcher.excludes("/tmp", true), true);
  assert.equal(matcher.excludes("/tmp/x", false), true);
});

Deno.test("ExcludeMatcher with no patterns excludes nothing", () => {
  const matcher = new ExcludeMatcher([]);
  assert.equal(matcher.empty, true);
  assert.equal(matcher.excludes("/a", false), false);
  assert.equal(matcher.excludes("/", true), false);
});

Deno.test("ExcludeMatcher ignores repeated and trailing slashes in paths", () => {
  const matcher = new ExcludeMatcher(["/a/b"]);
  assert.equal(matcher.excludes("//a///b/", true), true);
  assert.equal(matcher.excludes("/a/b/", false), true);
  assert.equal(matcher.excludes("/a/", true), false);
});

Deno.test("ExcludeMatcher rejects relative paths", () => {
  const matcher = new ExcludeMatcher(["x"]);
  assert.throws(() => matcher.excludes("a/x", false), {
    name: "TypeError",
    message: 'Cannot match path "a/x": it is not absolute',
  });
});

Deno.test("ExcludeMatcher rejects malformed patterns", () => {
  const cases: [string, RegExp][] = [
    ["", /it is empty/],
    ["!foo", /negation \('!pattern'\) is not supported/],
    ["/", /names no path component/],
    ["//", /names no path component/],
    ["./", /names no path component/],
    ["[abc", /class is not closed/],
    ["[", /class is not closed/],
    ["[!", /class is not closed/],
    ["a\\", /unfinished escape/],
    ["[a/b]", /cannot contain '\/'/],
    ["[z-a]", /class range "z-a" is reversed/],
  ];
  for (const [pattern, message] of cases) {
    assert.throws(() => new ExcludeMatcher(["ok", pattern]), (error: unknown) => {
      assert.ok(error instanceof ExcludePatternError, `${pattern}: ${error}`);
      assert.ok(error instanceof SyntaxError);
      assert.equal(error.name, "ExcludePatternError");
      assert.equal(error.pattern, pattern);
      assert.match(error.message, message);
      assert.ok(error.message.startsWith(`Cannot parse exclude pattern "${pattern}": `));
      return true;
    });
  }
});

Deno.test("parseExcludeFile trims lines and skips comments and blank lines", () => {
  const text = "# comment\n\n  *.tmp  \r\n\t/proc\n   # indented comment\n a b \n\\#x\n";
  assert.deepEqual(parseExcludeFile(text), [
    { pattern: "*.tmp", line: 3 },
    { pattern: "/proc", line: 4 },
    { pattern: "a b", line: 6 },
    { pattern: "\\#x", line: 7 },
  ]);
  assert.deepEqual(parseExcludeFile(""), []);
});

Deno.test("ExcludeMatcher.fromFile reads patterns and reports the line of a bad one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = `${dir}/good`;
    await Deno.writeTextFile(good, "# caches\n.cache/\n\n*.o\n\\#keep\n");
    const matcher = await ExcludeMatcher.fromFile(good);
    assert.deepEqual(matcher.patterns, [".cache/", "*.o", "\\#keep"]);
    assert.equal(matcher.excludes("/h/.cache", true), true);
    assert.equal(matcher.excludes("/h/a.o", false), true);
    assert.equal(matcher.excludes("/h/#keep", false), true);
    assert.equal(matcher.excludes("/h/a.c", false), false);

    const bad = `${dir}/bad`;
    await Deno.writeTextFile(bad, "*.o\n\n!important\n");
    await assert.rejects(() => ExcludeMatcher.fromFile(bad), (error: unknown) => {
      assert.ok(error instanceof ExcludePatternError);
      assert.equal(
        error.message,
        `Cannot parse exclude pattern "!important" (${bad} line 3): negation ('!pattern') is ` +
          "not supported; write '\\!' for a name starting with '!'",
      );
      assert.ok(error.cause instanceof ExcludePatternError);
      return true;
    });
    await assert.rejects(() => ExcludeMatcher.fromFile(`${dir}/missing`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ExcludeMatcher is fast enough for large trees", () => {
  const patterns = Array.from({ length: 50 }, (_, i) => i % 2 ? `*.ext${i}` : `/data/dir${i}/`);
  const matcher = new ExcludeMatcher(patterns);
  const start = performance.now();
  let excluded = 0;
  for (let i = 0; i < 100_000; i++) {
    if (matcher.excludes(`/home/user/project/src/module${i % 100}/file${i}.ext${i % 60}`, false)) {
      excluded++;
    }
  }
  const ms = performance.now() - start;
  assert.ok(excluded > 0);
  assert.ok(ms < 2000, `100,000 paths took ${ms.toFixed(0)} ms`);
});

Deno.test("excludeAny is undefined without patterns and excludes what any matcher excludes", () => {
  assert.equal(excludeAny([]), undefined);
  assert.equal(excludeAny([new ExcludeMatcher([]), new ExcludeMatcher([])]), undefined);
  const exclude = excludeAny([new ExcludeMatcher([]), new ExcludeMatcher(["*.tmp"])]);
  assert.ok(exclude !== undefined);
  assert.equal(exclude("/a/b.tmp", false), true);
  assert.equal(exclude("/a/b.txt", false), false);
  const both = excludeAny([new ExcludeMatcher(["*.tmp"]), new ExcludeMatcher(["cache/"])])!;
  assert.equal(both("/home/u/cache", true), true);
  assert.equal(both("/home/u/x.tmp", false), true);
  assert.equal(both("/home/u/x.txt", false), false);
});
