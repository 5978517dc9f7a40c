import assert from "node:assert/strict";
import {
  ConfigError,
  DEFAULT_LIMITS,
  isValidDatabaseName,
  parseConfigFile,
  parseListenAddress,
  resolveConfig,
} from "./config.ts";

Deno.test("parseListenAddress accepts host:port, [v6]:port and :port", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:9736"), { hostname: "127.0.0.1", port: 9736 });
  assert.deepEqual(parseListenAddress("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(parseListenAddress(":0"), { hostname: "127.0.0.1", port: 0 });
  for (const bad of ["9736", "host", "a:b", "h:70000", "h:-1"]) {
    assert.throws(() => parseListenAddress(bad), ConfigError, bad);
  }
});

Deno.test("database names are restricted to a safe file-name alphabet", () => {
  for (const ok of ["default", "photos-2024", "a.b_c", "0"]) assert.ok(isValidDatabaseName(ok), ok);
  for (const bad of ["", ".hidden", "../x", "a/b", "a b", "x".repeat(65), "é"]) {
    assert.ok(!isValidDatabaseName(bad), bad);
  }
});

Deno.test("parseConfigFile rejects unknown settings and wrong types", () => {
  assert.throws(() => parseConfigFile([]), /top level must be an object/);
  assert.throws(() => parseConfigFile({ lisen: "x" }), /unknown setting "lisen"/);
  assert.throws(() => parseConfigFile({ listen: 5 }), /"listen" must be a string/);
  assert.throws(() => parseConfigFile({ databases: { "../x": { storage: "file:///x" } } }), /name/);
  assert.throws(() => parseConfigFile({ databases: { a: {} } }), /storage must be a URL/);
  assert.throws(() => parseConfigFile({ limits: { maxClient: 1 } }), /unknown limit/);
  assert.throws(() => parseConfigFile({ limits: { maxClients: 0 } }), /positive integer/);
});

Deno.test("resolveConfig: flags win over the file, the file over defaults", () => {
  const file = parseConfigFile({
    listen: "0.0.0.0:1",
    data: "/file",
    requirepass: "file-pass",
    databases: { photos: { storage: "file:///p" } },
    limits: { maxClients: 7 },
  });
  const config = resolveConfig(file, { listen: "127.0.0.1:2", requirepass: "" }, "/default");
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 2 });
  assert.equal(config.dataDir, "/file");
  assert.equal(config.requirePass, undefined, "an empty password means none");
  assert.deepEqual(config.databases, { photos: "file:///p" });
  assert.equal(config.limits.maxClients, 7);
  assert.equal(config.limits.maxBulkBytes, DEFAULT_LIMITS.maxBulkBytes);
  assert.equal(resolveConfig({}, {}, "/default").dataDir, "/default");
  assert.equal(resolveConfig({}, {}, "/d").listen.port, 9736);
});
