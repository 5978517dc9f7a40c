import assert from "node:assert/strict";
import { parseSftpUrl, type SftpUrlContext, SftpUrlError } from "./sftp_url.ts";

const context: SftpUrlContext = { env: {}, home: "/home/me", localUser: "me" };

Deno.test("parseSftpUrl reads host, port, user, path and defaults", () => {
  const target = parseSftpUrl("sftp://nas.lan/srv/ddb", context);
  assert.deepEqual(target, {
    displayUrl: "sftp://nas.lan/srv/ddb",
    host: "nas.lan",
    port: 22,
    user: "me",
    path: "/srv/ddb",
    homeRelative: false,
    keyPaths: ["/home/me/.ssh/id_ed25519", "/home/me/.ssh/id_rsa"],
    keyExplicit: false,
    password: undefined,
    passphrase: undefined,
    knownHostsPath: "/home/me/.ssh/known_hosts",
    knownHostsExplicit: false,
    concurrency: 8,
    timeoutMs: 30_000,
  });

  const full = parseSftpUrl(
    "sftp://backup@[::1]:2222/data/my%20blobs/?key=/etc/ddb/id&known_hosts=/etc/ddb/kh" +
      "&concurrency=4&timeout_ms=5000",
    context,
  );
  assert.equal(full.host, "::1");
  assert.equal(full.port, 2222);
  assert.equal(full.user, "backup");
  assert.equal(full.path, "/data/my blobs/");
  assert.deepEqual(full.keyPaths, ["/etc/ddb/id"]);
  assert.equal(full.keyExplicit, true);
  assert.equal(full.knownHostsPath, "/etc/ddb/kh");
  assert.equal(full.knownHostsExplicit, true);
  assert.equal(full.concurrency, 4);
  assert.equal(full.timeoutMs, 5000);
});

Deno.test("parseSftpUrl: home-relative paths, host key opt-out, passwords", () => {
  const home = parseSftpUrl("sftp://h/~/backups/ddb?insecure_ignore_host_key=true", context);
  assert.equal(home.homeRelative, true);
  assert.equal(home.path, "backups/ddb");
  assert.equal(home.knownHostsPath, undefined);
  assert.equal(parseSftpUrl("sftp://h/~", context).path, ".");

  const withPassword = parseSftpUrl("sftp://bob:s%40cret@h/x", context);
  assert.equal(withPassword.password, "s@cret");
  assert.equal(withPassword.displayUrl, "sftp://bob:***@h/x");
  const fromEnv = parseSftpUrl("sftp://bob@h/x", {
    ...context,
    env: { DDB_SFTP_PASSWORD: "hunter2", DDB_SFTP_KEY_PASSPHRASE: "words" },
  });
  assert.equal(fromEnv.password, "hunter2");
  assert.equal(fromEnv.passphrase, "words");
  assert.equal(fromEnv.displayUrl, "sftp://bob@h/x");
});

Deno.test("parseSftpUrl refuses malformed URLs with clear, redacted messages", () => {
  const cases: [string, RegExp][] = [
    ["sftp:///srv/ddb", /: no host$/],
    ["sftp://h", /: no storage directory/],
    ["sftp://h/", /: no storage directory/],
    ["sftp://h/x#frag", /takes no fragment/],
    ["sftp://h/x?keyfile=/k", /unknown parameter "keyfile" \(known: key, known_hosts, /],
    ["sftp://h/x?key=relative/key", /key must be an absolute path/],
    ["sftp://h/x?key=/a&key=/b", /parameter "key" given twice/],
    ["sftp://h/x?insecure_ignore_host_key=yes", /must be true or false/],
    ["sftp://h/x?insecure_ignore_host_key=true&known_hosts=/k", /contradict/],
    ["sftp://h/x?concurrency=0", /concurrency must be an integer from 1 to 64/],
    ["sftp://h/x?timeout_ms=1e4", /timeout_ms must be an integer/],
    ["s3://bucket/x", /not an sftp: URL/],
    ["sftp://bob:hunter2@h/x?bogus=1", /^Cannot open storage "sftp:\/\/bob:\*\*\*@h\/x\?bogus=1"/],
  ];
  for (const [url, message] of cases) {
    assert.throws(() => parseSftpUrl(url, context), (error: unknown) => {
      assert.ok(error instanceof SftpUrlError, `${url}: ${error}`);
      assert.equal(error.name, "SftpUrlError");
      assert.match(error.message, message, url);
      assert.ok(!error.message.includes("hunter2"));
      return true;
    });
  }
});
