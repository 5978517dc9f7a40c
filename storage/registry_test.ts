import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { LocalStorage } from "./local/local_storage.ts";
import { openStorage, redactUrl, UnsupportedStorageError } from "./registry.ts";

Deno.test("openStorage opens a file: URL or an absolute path as a LocalStorage", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-registry-test-" });
  try {
    const byUrl = await openStorage(pathToFileURL(join(dir, "a")).href);
    assert.ok(byUrl instanceof LocalStorage);
    assert.equal(byUrl.displayUrl, pathToFileURL(join(dir, "a")).href);
    await byUrl.close();
    const byPath = await openStorage(join(dir, "b"));
    assert.ok(byPath instanceof LocalStorage);
    assert.equal(byPath.displayUrl, pathToFileURL(join(dir, "b")).href);
    await byPath.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStorage refuses what it cannot open, without leaking secrets", async () => {
  const cases: [string, RegExp][] = [
    ["ftp://host/x", /unknown scheme "ftp:"/],
    ["relative/dir", /not a URL or an absolute path/],
    ["file://elsewhere/srv", /not a local file URL/],
    ["file:///srv/x?token=abc", /"file:\/\/\/srv\/x\?token=\*\*\*": a file: URL takes no query/],
  ];
  for (const [url, message] of cases) {
    await assert.rejects(openStorage(url), (error: unknown) => {
      assert.ok(error instanceof UnsupportedStorageError, `${url}: ${error}`);
      assert.match(error.message, message);
      assert.ok(!error.message.includes("hunter2") && !error.message.includes("abc"));
      return true;
    });
  }
});

Deno.test("redactUrl hides passwords and secret query values only", () => {
  const cases: [string, string][] = [
    ["file:///srv/ddb/blobs", "file:///srv/ddb/blobs"],
    ["/srv/ddb/blobs", "/srv/ddb/blobs"],
    ["sftp://bob@host:2222/srv", "sftp://bob@host:2222/srv"],
    ["sftp://bob:pw@host/srv", "sftp://bob:***@host/srv"],
    [
      "s3://AKID:s3cr%2Ft@bucket/p?region=eu-west-1&secret_key=abc&X-Amz-Signature=f00&sig=1",
      "s3://AKID:***@bucket/p?region=eu-west-1&secret_key=***&X-Amz-Signature=***&sig=***",
    ],
    [
      "s3://bucket/p?password=a&Token=b&api_key=c&x-amz-security-token=d&endpoint=http%3A%2F%2Fh",
      "s3://bucket/p?password=***&Token=***&api_key=***&x-amz-security-token=***" +
      "&endpoint=http%3A%2F%2Fh",
    ],
    ["s3://bucket/p?flag&secret", "s3://bucket/p?flag&secret"],
    ["s3://k:v@[broken/p?secret=1", "s3://k:***@[broken/p?secret=***"],
  ];
  for (const [url, expected] of cases) assert.equal(redactUrl(url), expected, url);
});
