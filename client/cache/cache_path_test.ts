import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CacheDirError, cachePathFor, defaultCacheDir } from "./cache_path.ts";

const TARGET = { cacheDir: "/c", server: "127.0.0.1:6379", db: 0, host: "h", path: "/home/u" };

Deno.test("cachePathFor hashes server, db, host and path joined by NUL", () => {
  const id = createHash("sha256").update("127.0.0.1:6379\x000\x00h\x00/home/u").digest("hex");
  assert.equal(cachePathFor(TARGET), `/c/ddb/${id.slice(0, 32)}.sqlite`);
  assert.match(cachePathFor(TARGET), /^\/c\/ddb\/[0-9a-f]{32}\.sqlite$/);
});

Deno.test("cachePathFor gives each target its own file", () => {
  const paths = new Set([
    cachePathFor(TARGET),
    cachePathFor({ ...TARGET, server: "127.0.0.1:6380" }),
    cachePathFor({ ...TARGET, db: 1 }),
    cachePathFor({ ...TARGET, host: "g" }),
    cachePathFor({ ...TARGET, path: "/home/v" }),
    // NUL separators keep the fields apart.
    cachePathFor({ ...TARGET, host: "h\x00/home/u", path: "" }),
  ]);
  assert.equal(paths.size, 6);
  assert.equal(cachePathFor({ ...TARGET, db: "0" }), cachePathFor(TARGET));
});

Deno.test("cachePathFor ignores trailing slashes of the cache directory", () => {
  assert.equal(cachePathFor({ ...TARGET, cacheDir: "/c//" }), cachePathFor(TARGET));
  assert.match(cachePathFor({ ...TARGET, cacheDir: "/" }), /^\/ddb\/[0-9a-f]{32}\.sqlite$/);
});

Deno.test("defaultCacheDir prefers an absolute XDG_CACHE_HOME, then HOME/.cache", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(defaultCacheDir(env({ XDG_CACHE_HOME: "/x/cache", HOME: "/home/u" })), "/x/cache");
  assert.equal(defaultCacheDir(env({ XDG_CACHE_HOME: "rel", HOME: "/home/u/" })), "/home/u/.cache");
  assert.equal(defaultCacheDir(env({ HOME: "/home/u" })), "/home/u/.cache");
  assert.throws(() => defaultCacheDir(env({})), CacheDirError);
  assert.throws(() => defaultCacheDir(env({ XDG_CACHE_HOME: "", HOME: "" })), {
    name: "CacheDirError",
    message: "Cannot find a cache directory: neither XDG_CACHE_HOME (absolute) nor HOME is set",
  });
  assert.equal(typeof defaultCacheDir(), "string");
});
