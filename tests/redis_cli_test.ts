/**
 * End-to-end tests of `ddb serve` driven by the real `redis-cli`: every
 * command of the command table, errors, named databases, transactions and
 * AUTH, with the exact output `redis-cli --no-raw` prints.
 *
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import { createHash } from "node:crypto";
import { redisCli, startServer, type TestServer } from "./_server.ts";
import { canRunWith } from "./_skip.ts";

const HAS_REDIS_CLI = canRunWith("redis-cli", "redis-tools");
const UINT64_MAX = "18446744073709551615";
const ABOVE_UINT64 = "18446744073709551616";
const NOT_AN_INTEGER = "ERR value is not an integer or out of range";
const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const BAD_NAME = (name: string) =>
  `ERR Cannot select database "${name}": names are 1-64 letters, digits, '_', '-' or '.', ` +
  "not starting with '.'";

/** `redis-cli` bound to one server. */
interface Cli {
  /** Runs `redis-cli --no-raw ARGS` (stdin piped when given); asserts exit 0; the stdout lines. */
  lines(args: string[], stdin?: string | Uint8Array): Promise<string[]>;
  /** Asserts that `redis-cli --no-raw ARGS` prints exactly `expected` (one entry a line). */
  expect(args: string[], ...expected: string[]): Promise<void>;
  /** Asserts that `redis-cli -e ARGS` fails with exit code 1 and the error reply `message`. */
  expectError(args: string[], message: string): Promise<void>;
  /** Asserts that a one-connection session of `commands` (one a line on stdin) prints `expected`. */
  session(commands: string[], ...expected: string[]): Promise<void>;
}

function cliFor(port: number, extra: string[] = []): Cli {
  const lines = async (args: string[], stdin?: string | Uint8Array) => {
    const out = await redisCli(port, [...extra, "--no-raw", ...args], stdin);
    equal(out.code, 0, `redis-cli ${args.join(" ")} failed: ${out.stderr}`);
    equal(out.stderr, "", `redis-cli ${args.join(" ")} wrote to stderr`);
    ok(out.stdout.endsWith("\n"), `no final newline in ${JSON.stringify(out.stdout)}`);
    return out.stdout.slice(0, -1).split("\n");
  };
  return {
    lines,
    async expect(args, ...expected) {
      const actual = await lines(args);
      deepEqual(actual, expected, `redis-cli ${args.join(" ")}: ${JSON.stringify(actual)}`);
    },
    async expectError(args, message) {
      const out = await redisCli(port, [...extra, "-e", "--no-raw", ...args]);
      equal(out.code, 1, `redis-cli -e ${args.join(" ")} exit code; stdout ${out.stdout}`);
      equal(out.stdout, "");
      equal(
        out.stderr,
        `${message}\n`,
        `redis-cli -e ${args.join(" ")}: ${JSON.stringify(out.stderr)}`,
      );
    },
    async session(commands, ...expected) {
      const actual = await lines([], commands.join("\n") + "\n");
      deepEqual(actual, expected, `${commands.join(" | ")}: ${JSON.stringify(actual)}`);
    },
  };
}

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Runs `fn` with a fresh server, then stops it and removes its data directory. */
async function withServer(
  args: string[],
  fn: (server: TestServer, cli: Cli) => Promise<void>,
): Promise<void> {
  const server = await startServer({ args });
  try {
    await fn(server, cliFor(server.port));
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
}

Deno.test({
  name: "redis-cli: every command against ddb serve",
  ignore: !HAS_REDIS_CLI,
  fn: (ctx) =>
    withServer([], async (server, cli) => {
      const { port } = server;

      await cli.expect(["PING"], "PONG"); // Early, so that a broken server fails fast.

      await ctx.step("connection: PING, ECHO, QUIT, CLIENT, CONFIG", async () => {
        await cli.expect(["PING", "hello world"], '"hello world"');
        await cli.expect(["ECHO", "héllo"], '"h\\xc3\\xa9llo"');
        await cli.expect(["ECHO", ""], '""');
        await cli.expect(["QUIT"], "OK");
        await cli.session(
          ["CLIENT GETNAME", "CLIENT SETNAME backup-job", "CLIENT GETNAME", "CLIENT SETINFO x y"],
          "(nil)",
          "OK",
          '"backup-job"',
          "OK",
        );
        const [clientId] = await cli.lines(["CLIENT", "ID"]);
        ok(/^\(integer\) \d+$/.test(clientId), clientId);
        await cli.expect(["CONFIG", "GET", "save"], '1) "save"', '2) ""');
        await cli.expect(
          ["CONFIG", "GET", "appendonly", "maxclients", "nosuch"],
          '1) "appendonly"',
          '2) "no"',
          '3) "maxclients"',
          '4) "10000"',
        );
        await cli.expect(["CONFIG", "GET", "nosuch"], "(empty array)");
        await cli.expectError(
          ["CONFIG", "SET", "a", "b"],
          "ERR unknown subcommand 'SET'. Try CONFIG GET.",
        );
        await cli.expectError(
          ["CLIENT", "KILL"],
          "ERR unknown subcommand 'KILL'. Try CLIENT HELP.",
        );
        await cli.expectError(
          ["PING", "a", "b"],
          "ERR wrong number of arguments for 'ping' command",
        );
        await cli.expectError(
          ["AUTH", "secret"],
          "ERR AUTH <password> called without any password configured for the default user. " +
            "Are you sure your configuration is correct?",
        );
        // HELLO switches the protocol both ways; the id is the connection's.
        const hello = await cli.lines([], "HELLO 3\nGET nothing\nHELLO 2\nGET nothing\nHELLO 4\n");
        ok(/^2# "version" => "\d+\.\d+\.\d+"$/.test(hello[1]), hello[1]);
        const id = /^4# "id" => \(integer\) (\d+)$/.exec(hello[3])?.[1];
        ok(id !== undefined, hello[3]);
        deepEqual(hello, [
          '1# "server" => "ddb"',
          hello[1],
          '3# "proto" => (integer) 3',
          `4# "id" => (integer) ${id}`,
          '5# "mode" => "standalone"',
          '6# "role" => "master"',
          '7# "modules" => (empty array)',
          "(nil)",
          ' 1) "server"',
          ' 2) "ddb"',
          ' 3) "version"',
          hello[1].replace(/^2# "version" => /, " 4) "),
          ' 5) "proto"',
          " 6) (integer) 2",
          ' 7) "id"',
          ` 8) (integer) ${id}`,
          ' 9) "mode"',
          '10) "standalone"',
          '11) "role"',
          '12) "master"',
          '13) "modules"',
          "14) (empty array)",
          "(nil)",
          "(error) NOPROTO unsupported protocol version",
        ]);
      });

      await ctx.step("strings: SET, GET, GETSET, DEL, EXISTS, TYPE", async () => {
        await cli.expect(["GET", "s:a"], "(nil)");
        await cli.expect(["SET", "s:a", "one"], "OK");
        await cli.expect(["GET", "s:a"], '"one"');
        await cli.expect(["SET", "s:a", "two words"], "OK");
        await cli.expect(["GET", "s:a"], '"two words"');
        await cli.expect(["SET", "s:empty", ""], "OK");
        await cli.expect(["GET", "s:empty"], '""');
        await cli.expect(["GETSET", "s:a", "three"], '"two words"');
        await cli.expect(["GETSET", "s:new", "first"], "(nil)");
        await cli.expect(["GET", "s:new"], '"first"');
        await cli.expect(["TYPE", "s:a"], "string");
        await cli.expect(["TYPE", "s:missing"], "none");
        await cli.expect(["EXISTS", "s:a"], "(integer) 1");
        await cli.expect(["EXISTS", "s:a", "s:a", "s:missing", "s:empty"], "(integer) 3");
        await cli.expect(["DEL", "s:a", "s:missing", "s:new"], "(integer) 2");
        await cli.expect(["DEL", "s:a"], "(integer) 0");
        await cli.expect(["EXISTS", "s:a"], "(integer) 0");
        await cli.expect(["GET", "s:a"], "(nil)");
        // SET replaces a key of another type, as in Redis.
        await cli.expect(["HSET", "s:h", "f", "v"], "(integer) 1");
        await cli.expect(["SET", "s:h", "now a string"], "OK");
        await cli.expect(["TYPE", "s:h"], "string");
        await cli.expect(["HGET", "s:h", "f"], "(error) " + WRONGTYPE);
      });

      await ctx.step("strings: RANGE start end limit", async () => {
        for (const name of ["r:c", "r:a", "r:e", "r:b", "r:d"]) {
          await cli.expect(["SET", name, `v-${name.slice(2)}`], "OK");
        }
        await cli.expect(["HSET", "r:bb", "f", "v"], "(integer) 1"); // not a string: skipped
        await cli.expect(["SET", "r", "before the range"], "OK");
        await cli.expect(["SET", "r;", "after the range"], "OK");
        await cli.expect(
          ["RANGE", "r:", "r:~", "0"],
          '1) "v-a"',
          '2) "v-b"',
          '3) "v-c"',
          '4) "v-d"',
          '5) "v-e"',
        );
        await cli.expect(["RANGE", "r:b", "r:d", "0"], '1) "v-b"', '2) "v-c"', '3) "v-d"');
        await cli.expect(["RANGE", "r:b", "r:e", "2"], '1) "v-b"', '2) "v-c"');
        await cli.expect(["RANGE", "r:bb", "r:bb", "0"], "(empty array)");
        await cli.expect(["RANGE", "r:e", "r:a", "0"], "(empty array)");
        await cli.expectError(["RANGE", "r:a", "r:e", "-1"], NOT_AN_INTEGER);
        await cli.expectError(["RANGE", "r:a", "r:e", "x"], NOT_AN_INTEGER);
      });

      await ctx.step("hashes: HSET, HMSET, HGET, HGETALL, HLEN, HDEL, HEXISTS", async () => {
        await cli.expect(["HSET", "h:1", "b", "2", "a", "1"], "(integer) 2");
        await cli.expect(["HSET", "h:1", "a", "one", "c", "3"], "(integer) 1");
        await cli.expect(["HMSET", "h:1", "d", "4", "e", ""], "OK");
        await cli.expect(["HGET", "h:1", "a"], '"one"');
        await cli.expect(["HGET", "h:1", "e"], '""');
        await cli.expect(["HGET", "h:1", "zz"], "(nil)");
        await cli.expect(["HGET", "h:missing", "a"], "(nil)");
        await cli.expect(["HLEN", "h:1"], "(integer) 5");
        await cli.expect(["HLEN", "h:missing"], "(integer) 0");
        await cli.expect(
          ["HGETALL", "h:1"],
          ' 1) "a"',
          ' 2) "one"',
          ' 3) "b"',
          ' 4) "2"',
          ' 5) "c"',
          ' 6) "3"',
          ' 7) "d"',
          ' 8) "4"',
          ' 9) "e"',
          '10) ""',
        );
        await cli.expect(["HGETALL", "h:missing"], "(empty array)");
        await cli.expect(["HSET", "h:2", "x", "y"], "(integer) 1");
        // Several hashes in one command; a missing key gives an empty map.
        await cli.expect(
          ["HMULTIGETALL", "h:2", "h:missing", "h:2"],
          '1) 1) "x"',
          '   2) "y"',
          "2) (empty array)",
          '3) 1) "x"',
          '   2) "y"',
        );
        await cli.expect(["DEL", "h:2"], "(integer) 1");
        await cli.expectError(
          ["HMULTIGETALL"],
          "ERR wrong number of arguments for 'hmultigetall' command",
        );
        await cli.expect(["HEXISTS", "h:1", "b"], "(integer) 1");
        await cli.expect(["HEXISTS", "h:1", "zz"], "(integer) 0");
        await cli.expect(["HDEL", "h:1", "a", "zz", "b"], "(integer) 2");
        await cli.expect(["HLEN", "h:1"], "(integer) 3");
        await cli.expect(["TYPE", "h:1"], "hash");
        await cli.expect(["HDEL", "h:1", "c", "d", "e"], "(integer) 3");
        await cli.expect(["EXISTS", "h:1"], "(integer) 0"); // the last field removes the key
        await cli.expect(["HDEL", "h:1", "c"], "(integer) 0");
        await cli.expectError(
          ["HSET", "h:1", "f", "v", "g"],
          "ERR wrong number of arguments for 'hset' command",
        );
        await cli.expectError(
          ["HMSET", "h:1", "f", "v", "g"],
          "ERR wrong number of arguments for 'hmset' command",
        );
        await cli.expectError(
          ["HSET", "h:1", "f"],
          "ERR wrong number of arguments for 'hset' command",
        );
        await cli.expect(["EXISTS", "h:1"], "(integer) 0");
      });

      await ctx.step("hashes: HSCAN start end limit lists hash key names", async () => {
        for (const name of ["hs:c", "hs:a", "hs:b", "hs:d"]) {
          await cli.expect(["HSET", name, "f", "v"], "(integer) 1");
        }
        await cli.expect(["SET", "hs:bb", "a string"], "OK"); // not a hash: skipped
        await cli.expect(["SADD", "hs:cc", "m"], "(integer) 1"); // not a hash: skipped
        await cli.expect(
          ["HSCAN", "hs:", "hs:~", "0"],
          '1) "hs:a"',
          '2) "hs:b"',
          '3) "hs:c"',
          '4) "hs:d"',
        );
        await cli.expect(["HSCAN", "hs:b", "hs:c", "0"], '1) "hs:b"', '2) "hs:c"');
        await cli.expect(["HSCAN", "hs:a", "hs:d", "3"], '1) "hs:a"', '2) "hs:b"', '3) "hs:c"');
        await cli.expect(["HSCAN", "hs:a", "hs:d", "1"], '1) "hs:a"');
        await cli.expect(["HSCAN", "hs:bb", "hs:bz", "0"], "(empty array)");
        await cli.expectError(["HSCAN", "hs:a", "hs:d", "many"], NOT_AN_INTEGER);
        await cli.expectError(["HSCAN", "0"], "ERR wrong number of arguments for 'hscan' command");
      });

      await ctx.step("sets: SADD, SREM, SMEMBERS (byte order), SISMEMBER, SCARD", async () => {
        await cli.expect(["SADD", "set:1", "b", "é", "a", "B", "~", "aa", "0"], "(integer) 7");
        await cli.expect(["SADD", "set:1", "a", "new"], "(integer) 1");
        await cli.expect(["SCARD", "set:1"], "(integer) 8");
        // Unsigned byte order: "0" 30, "B" 42, "a" 61, "aa", "b" 62, "new" 6e, "~" 7e, "é" c3 a9.
        await cli.expect(
          ["SMEMBERS", "set:1"],
          '1) "0"',
          '2) "B"',
          '3) "a"',
          '4) "aa"',
          '5) "b"',
          '6) "new"',
          '7) "~"',
          '8) "\\xc3\\xa9"',
        );
        await cli.expect(["SISMEMBER", "set:1", "é"], "(integer) 1");
        await cli.expect(["SISMEMBER", "set:1", "c"], "(integer) 0");
        await cli.expect(["SISMEMBER", "set:missing", "c"], "(integer) 0");
        await cli.expect(["SREM", "set:1", "a", "zz", "aa"], "(integer) 2");
        await cli.expect(["SCARD", "set:1"], "(integer) 6");
        await cli.expect(["SREM", "set:1", "0", "B", "b", "new", "~", "é"], "(integer) 6");
        await cli.expect(["TYPE", "set:1"], "none");
        await cli.expect(["SMEMBERS", "set:1"], "(empty array)");
        await cli.expect(["SCARD", "set:missing"], "(integer) 0");
        // Binary members through redis-cli's quoting on stdin.
        await cli.session(
          ['SADD set:bin "\\x00" "\\xff" "\\x7f" "\\x80" "\\x00\\x00" ""', "SMEMBERS set:bin"],
          "(integer) 6",
          '1) ""',
          '2) "\\x00"',
          '3) "\\x00\\x00"',
          '4) "\\x7f"',
          '5) "\\x80"',
          '6) "\\xff"',
        );
      });

      await ctx.step(
        "lists: LADD, LLEN, LINDEX, LRANGE, LLAST, LITER, LMRANGE, LPREV",
        async () => {
          await cli.expect(["LADD", "l:1", "256", "a"], "OK");
          await cli.expect(["LADD", "l:1", UINT64_MAX, "max"], "OK");
          await cli.expect(["LADD", "l:1", "0", "zero"], "OK");
          await cli.expect(["LADD", "l:1", "5", "five"], "OK");
          await cli.expect(["LADD", "l:1", "4294967296", "2^32"], "OK");
          await cli.expect(["LLEN", "l:1"], "(integer) 5");
          await cli.expect(["LADD", "l:1", "5", "FIVE"], "OK"); // replaces
          await cli.expect(["LLEN", "l:1"], "(integer) 5");
          await cli.expect(["TYPE", "l:1"], "list");
          await cli.expect(["LLEN", "l:missing"], "(integer) 0");

          await cli.expect(["LINDEX", "l:1", "256"], '"a"');
          await cli.expect(["LINDEX", "l:1", "5"], '"FIVE"');
          await cli.expect(["LINDEX", "l:1", UINT64_MAX], '"max"');
          await cli.expect(["LINDEX", "l:1", "6"], "(nil)");
          await cli.expect(["LINDEX", "l:missing", "0"], "(nil)");

          await cli.expect(
            ["LRANGE", "l:1", "0", UINT64_MAX, "0"],
            '1) "zero"',
            '2) "FIVE"',
            '3) "a"',
            '4) "2^32"',
            '5) "max"',
          );
          await cli.expect(["LRANGE", "l:1", "1", "256", "0"], '1) "FIVE"', '2) "a"');
          await cli.expect(["LRANGE", "l:1", "1", UINT64_MAX, "2"], '1) "FIVE"', '2) "a"');
          await cli.expect(["LRANGE", "l:1", "6", "255", "0"], "(empty array)");
          await cli.expect(["LRANGE", "l:1", "256", "5", "0"], "(empty array)");
          await cli.expect(["LRANGE", "l:missing", "0", "9", "0"], "(empty array)");

          await cli.expect(["LLAST", "l:1"], '"max"');
          await cli.expect(["LLAST", "l:1", "WITH", "INDEX"], `1) "${UINT64_MAX}"`, '2) "max"');
          await cli.expect(["LLAST", "l:1", "with", "index"], `1) "${UINT64_MAX}"`, '2) "max"');
          await cli.expect(["LLAST", "l:1", "WITHINDEX"], `1) "${UINT64_MAX}"`, '2) "max"');
          await cli.expect(["LLAST", "l:missing"], "(nil)");
          await cli.expect(["LLAST", "l:missing", "WITH", "INDEX"], "(nil)");

          await cli.expect(
            ["LITER", "l:1"],
            '1) "zero"',
            '2) "FIVE"',
            '3) "a"',
            '4) "2^32"',
            '5) "max"',
          );
          await cli.expect(
            ["LITER", "l:1", "WITH", "INDEX"],
            ' 1) "0"',
            ' 2) "zero"',
            ' 3) "5"',
            ' 4) "FIVE"',
            ' 5) "256"',
            ' 6) "a"',
            ' 7) "4294967296"',
            ' 8) "2^32"',
            ` 9) "${UINT64_MAX}"`,
            '10) "max"',
          );
          await cli.expect(["LITER", "l:missing"], "(empty array)");

          await cli.expect(
            ["LMRANGE", "l:1", "1", "4294967296", "0"],
            '1) "5"',
            '2) "FIVE"',
            '3) "256"',
            '4) "a"',
            '5) "4294967296"',
            '6) "2^32"',
          );
          // Limit 1: the first entry at or after start (the chunk holding an offset).
          await cli.expect(["LMRANGE", "l:1", "6", UINT64_MAX, "1"], '1) "256"', '2) "a"');
          await cli.expect(["LMRANGE", "l:1", "257", "4294967295", "0"], "(empty array)");

          await cli.expect(["LPREV", "l:1", "255"], '"FIVE"');
          await cli.expect(["LPREV", "l:1", "256"], '"a"');
          await cli.expect(["LPREV", "l:1", "255", "WITH", "INDEX"], '1) "5"', '2) "FIVE"');
          await cli.expect(["LPREV", "l:1", UINT64_MAX], '"max"');
          await cli.expect(["LPREV", "l:1", "18446744073709551614"], '"2^32"');
          await cli.expect(["LPREV", "l:1", "0", "WITH", "INDEX"], '1) "0"', '2) "zero"');
          await cli.expect(["LPREV", "l:missing", UINT64_MAX], "(nil)");

          await cli.expectError(["LADD", "l:1", ABOVE_UINT64, "x"], NOT_AN_INTEGER);
          await cli.expectError(["LADD", "l:1", "-1", "x"], NOT_AN_INTEGER);
          await cli.expectError(["LADD", "l:1", "1.5", "x"], NOT_AN_INTEGER);
          await cli.expectError(["LADD", "l:1", "abc", "x"], NOT_AN_INTEGER);
          await cli.expectError(["LINDEX", "l:1", "12abc"], NOT_AN_INTEGER);
          await cli.expectError(["LINDEX", "l:1", " 1"], NOT_AN_INTEGER);
          await cli.expectError(["LPREV", "l:1", ABOVE_UINT64], NOT_AN_INTEGER);
          await cli.expectError(["LRANGE", "l:1", "0", "x", "0"], NOT_AN_INTEGER);
          await cli.expectError(["LMRANGE", "l:1", "0", "9", "-1"], NOT_AN_INTEGER);
          await cli.expectError(["LLAST", "l:1", "WITH"], "ERR syntax error");
          await cli.expectError(["LITER", "l:1", "WITH", "INDEX", "NOW"], "ERR syntax error");
          await cli.expectError(["LPREV", "l:1", "5", "INDEX"], "ERR syntax error");
          await cli.expect(["LLEN", "l:1"], "(integer) 5"); // nothing changed by the errors
        },
      );

      await ctx.step("WRONGTYPE: every type check leaves the key unchanged", async () => {
        await cli.expect(["SET", "wt:s", "text"], "OK");
        await cli.expect(["HSET", "wt:h", "f", "v"], "(integer) 1");
        await cli.expect(["SADD", "wt:set", "m"], "(integer) 1");
        await cli.expect(["LADD", "wt:l", "1", "x"], "OK");
        const wrong: string[][] = [
          ["GET", "wt:h"],
          ["GETSET", "wt:l", "x"],
          ["HGET", "wt:s", "f"],
          ["HSET", "wt:set", "f", "v"],
          ["HGETALL", "wt:l"],
          ["HMULTIGETALL", "wt:h", "wt:l"],
          ["HLEN", "wt:s"],
          ["HDEL", "wt:s", "f"],
          ["HEXISTS", "wt:l", "f"],
          ["SADD", "wt:h", "m"],
          ["SREM", "wt:l", "m"],
          ["SMEMBERS", "wt:s"],
          ["SISMEMBER", "wt:h", "m"],
          ["SCARD", "wt:l"],
          ["LADD", "wt:s", "0", "x"],
          ["LLEN", "wt:h"],
          ["LINDEX", "wt:set", "1"],
          ["LRANGE", "wt:s", "0", "9", "0"],
          ["LLAST", "wt:h"],
          ["LITER", "wt:set"],
          ["LMRANGE", "wt:s", "0", "9", "0"],
          ["LPREV", "wt:h", "9"],
        ];
        for (const args of wrong) await cli.expectError(args, WRONGTYPE);
        await cli.expect(["GET", "wt:s"], '"text"');
        await cli.expect(["HGETALL", "wt:h"], '1) "f"', '2) "v"');
        await cli.expect(["SMEMBERS", "wt:set"], '1) "m"');
        await cli.expect(["LITER", "wt:l", "WITH", "INDEX"], '1) "1"', '2) "x"');
      });

      await ctx.step("errors: unknown command and wrong arity", async () => {
        await cli.expectError(
          ["foo", "bar", "baz"],
          "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' ",
        );
        await cli.expectError(["NOPE"], "ERR unknown command 'NOPE', with args beginning with: ");
        await cli.expectError(
          ["nope", "1", "2", "3", "4"],
          "ERR unknown command 'nope', with args beginning with: '1' '2' '3' ",
        );
        const arity: [string[], string][] = [
          [["GET"], "get"],
          [["GET", "a", "b"], "get"],
          [["SET", "a"], "set"],
          [["ECHO"], "echo"],
          [["DEL"], "del"],
          [["HGETALL"], "hgetall"],
          [["SADD", "k"], "sadd"],
          [["LADD", "k", "1"], "ladd"],
          [["LRANGE", "k", "0", "1"], "lrange"],
          [["LLAST"], "llast"],
          [["BPUT"], "bput"],
          [["BSIZE", "a", "b"], "bsize"],
          [["BCNT", "x"], "bcnt"],
          [["DBSIZE", "x"], "dbsize"],
          [["SELECT"], "select"],
          [["MULTI", "x"], "multi"],
          [["TXINIT", "a", "b"], "txinit"],
        ];
        for (const [args, name] of arity) {
          await cli.expectError(args, `ERR wrong number of arguments for '${name}' command`);
        }
        // An error does not break the connection.
        await cli.session(["GET", "PING", "FOO", "ECHO ok"], ...[
          "(error) ERR wrong number of arguments for 'get' command",
          "PONG",
          "(error) ERR unknown command 'FOO', with args beginning with: ",
          '"ok"',
        ]);
      });

      await ctx.step(
        "blobs: BPUT from a binary file, BGET, BEXISTS, BMULTIEXISTS, BSIZE, BCNT",
        async () => {
          await cli.expect(["BCNT"], "(integer) 0");
          await cli.expect(["BSIZE"], "(integer) 0");
          const keysBefore = await cli.lines(["DBSIZE"]);
          const binary = new Uint8Array(3 * 256 + 5);
          for (let i = 0; i < binary.length; i++) binary[i] = i % 256;
          binary.set([13, 10, 0, 13, 10], 3 * 256); // ends in CR LF NUL CR LF
          const text = new TextEncoder().encode("a printable blob\nwith two lines\n");
          const binaryHash = sha256Hex(binary);
          const file = await Deno.makeTempFile({ prefix: "ddb-blob-" });
          try {
            await Deno.writeFile(file, binary);
            const fromFile = await Deno.readFile(file);
            const put = await redisCli(port, ["-x", "BPUT"], fromFile);
            equal(put.code, 0, put.stderr);
            equal(put.stdout, `${binaryHash}\n`);
            // Raw mode writes the bulk string as is, then a newline: byte-exact.
            const got = await redisCli(port, ["BGET", binaryHash]);
            equal(got.code, 0, got.stderr);
            deepEqual(got.raw, Uint8Array.from([...binary, 10]));
          } finally {
            await Deno.remove(file);
          }
          const textHash = sha256Hex(text);
          const textPut = await redisCli(port, ["-x", "BPUT"], text);
          equal(textPut.stdout, `${textHash}\n`);
          const textGet = await redisCli(port, ["BGET", textHash]);
          equal(textGet.stdout, "a printable blob\nwith two lines\n\n");
          // NOVERIFY (any case): the same bytes, for a client that hashes them itself.
          const unverified = await redisCli(port, ["BGET", textHash, "noverify"]);
          equal(unverified.stdout, "a printable blob\nwith two lines\n\n");
          const binaryUnverified = await redisCli(port, ["BGET", binaryHash, "NOVERIFY"]);
          deepEqual(binaryUnverified.raw, Uint8Array.from([...binary, 10]));
          await cli.expectError(
            ["BGET", textHash, "FAST"],
            "ERR syntax error: unknown option 'FAST'",
          );
          // Storing the same content again gives the same hash and stores nothing new.
          await cli.expect(["BPUT", "a printable blob\nwith two lines\n"], `"${textHash}"`);
          const emptyHash = sha256Hex(new Uint8Array(0));
          await cli.expect(["BPUT", ""], `"${emptyHash}"`);
          await cli.expect(["BGET", emptyHash], '""');

          const missing = sha256Hex(new TextEncoder().encode("never stored"));
          await cli.expect(["BGET", missing], "(nil)");
          await cli.expect(["BEXISTS", textHash], "(integer) 1");
          await cli.expect(["BEXISTS", missing], "(integer) 0");
          await cli.expect(
            ["BMULTIEXISTS", binaryHash, missing, textHash, emptyHash],
            "1) (integer) 1",
            "2) (integer) 0",
            "3) (integer) 1",
            "4) (integer) 1",
          );
          await cli.expect(["BSIZE", binaryHash], `(integer) ${binary.length}`);
          await cli.expect(["BSIZE", textHash], `(integer) ${text.length}`);
          await cli.expect(["BSIZE", emptyHash], "(integer) 0");
          await cli.expect(["BSIZE", missing], "(nil)");
          await cli.expect(["BSIZE"], `(integer) ${binary.length + text.length}`);
          await cli.expect(["BCNT"], "(integer) 3");
          await cli.expect(["DBSIZE"], ...keysBefore); // blobs are not keys

          const invalid = "ERR invalid blob hash 'xyz': expected 64 lowercase hex";
          await cli.expectError(["BGET", "xyz"], invalid);
          await cli.expectError(["BEXISTS", "xyz"], invalid);
          await cli.expectError(["BSIZE", "xyz"], invalid);
          await cli.expectError(["BMULTIEXISTS", textHash, "xyz"], invalid);
          await cli.expectError(
            ["BEXISTS", textHash.toUpperCase()],
            `ERR invalid blob hash '${textHash.toUpperCase()}': expected 64 lowercase hex`,
          );
        },
      );

      await ctx.step("SELECT: named databases are isolated; 0 is default", async () => {
        await cli.expect(["SET", "sel:k", "in default"], "OK");
        await cli.session(
          [
            "SELECT photos",
            "GET sel:k",
            "SET sel:k in-photos",
            "HSET sel:h f v",
            "DBSIZE",
            "SELECT 0",
            "GET sel:k",
            "EXISTS sel:h",
            "SELECT photos",
            "GET sel:k",
            "SELECT default",
            "GET sel:k",
          ],
          "OK",
          "(nil)",
          "OK",
          "(integer) 1",
          "(integer) 2",
          "OK",
          '"in default"',
          "(integer) 0",
          "OK",
          '"in-photos"',
          "OK",
          '"in default"',
        );
        // A new connection starts in default.
        await cli.expect(["GET", "sel:k"], '"in default"');
        // Blobs are per database too.
        const hash = sha256Hex(new TextEncoder().encode("photo"));
        await cli.session(
          ["SELECT blobs-db", "BCNT", "BPUT photo", "BCNT", "BEXISTS " + hash],
          "OK",
          "(integer) 0",
          `"${hash}"`,
          "(integer) 1",
          "(integer) 1",
        );
        await cli.expect(["BEXISTS", hash], "(integer) 0");
        await cli.expect(["SELECT", "a_b-c.9"], "OK");
        await cli.expect(["SELECT", "x".repeat(64)], "OK");
        for (const name of ["bad name", ".hidden", "a/b", "x".repeat(65), "", "ü"]) {
          await cli.expectError(["SELECT", name], BAD_NAME(name));
        }
        // A refused SELECT keeps the selected database.
        await cli.session(
          ["SELECT photos", 'SELECT "../default"', "GET sel:k"],
          "OK",
          "(error) " + BAD_NAME("../default"),
          '"in-photos"',
        );
      });

      await ctx.step("DBSIZE counts keys of the selected database", async () => {
        await cli.session(
          [
            "SELECT sizes",
            "DBSIZE",
            "SET a 1",
            "HSET b f v",
            "SADD c m",
            "LADD d 0 x",
            "BPUT blob",
            "DBSIZE",
            "DEL a b",
            "DBSIZE",
          ],
          "OK",
          "(integer) 0",
          "OK",
          "(integer) 1",
          "(integer) 1",
          "OK",
          `"${sha256Hex(new TextEncoder().encode("blob"))}"`,
          "(integer) 4",
          "(integer) 2",
          "(integer) 2",
        );
      });

      await ctx.step("INFO: sections and keyspace lines", async () => {
        const info = await redisCli(port, ["INFO"]);
        equal(info.code, 0);
        for (const section of ["Server", "Clients", "Memory", "Persistence", "Stats", "Keyspace"]) {
          ok(info.stdout.includes(`# ${section}\r\n`), `INFO lacks # ${section}:\n${info.stdout}`);
        }
        ok(/\r\nredis_version:\d+\.\d+\.\d+\r\n/.test(info.stdout), info.stdout);
        ok(/\r\nconnected_clients:[1-9]\d*\r\n/.test(info.stdout), info.stdout);
        ok(/\r\ntotal_commands_processed:[1-9]\d*\r\n/.test(info.stdout), info.stdout);
        const keyspace = await redisCli(port, ["INFO", "keyspace"]);
        const lines = keyspace.stdout.trimEnd().split("\r\n");
        equal(lines[0], "# Keyspace");
        const byName = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")), l]));
        ok(
          byName.has("db_default") && byName.has("db_photos") && byName.has("db_sizes"),
          lines.join("\n"),
        );
        const [dbsize] = await cli.lines(["DBSIZE"]);
        const defaultKeys = dbsize.replace("(integer) ", "");
        ok(
          new RegExp(`^db_default:keys=${defaultKeys},blobs=3,blob_bytes=\\d+,storage=file://`)
            .test(byName.get("db_default") ?? ""),
          byName.get("db_default"),
        );
        ok(/^db_sizes:keys=2,blobs=1,blob_bytes=4,storage=/.test(byName.get("db_sizes") ?? ""));
        const server = await redisCli(port, ["INFO", "server"]);
        ok(server.stdout.startsWith("# Server\r\n"), server.stdout);
        ok(!server.stdout.includes("# Keyspace"), server.stdout);
      });

      await ctx.step("COMMAND: COUNT, LIST, INFO, DOCS", async () => {
        const list = (await redisCli(port, ["COMMAND", "LIST"])).stdout.trimEnd().split("\n");
        const expected = [
          ...["ping", "echo", "quit", "select", "hello", "auth", "info", "command", "dbsize"],
          ...["shutdown", "client", "config", "get", "set", "getset", "del", "exists", "type"],
          ...[
            "range",
            "hset",
            "hmset",
            "hget",
            "hgetall",
            "hmultigetall",
            "hlen",
            "hdel",
            "hexists",
            "hscan",
          ],
          ...["sadd", "srem", "smembers", "sismember", "scard", "ladd", "llen", "lindex"],
          ...["lrange", "llast", "liter", "lmrange", "lprev", "bput", "bget", "bexists"],
          ...["bmultiexists", "bsize", "bcnt", "multi", "exec", "discard", "txinit"],
          ...["txcommit", "txdiscard", "dbexport", "dbimport", "metabackup", "lease", "gc"],
        ];
        deepEqual([...list].sort(), [...expected].sort());
        await cli.expect(["COMMAND", "COUNT"], `(integer) ${expected.length}`);
        await cli.expect(
          ["COMMAND", "DOCS", "get"],
          '1) "get"',
          '2) 1) "summary"',
          '   2) "The value of a string key, or nil."',
          '   3) "since"',
          '   4) "0.1.0"',
          '   5) "group"',
          '   6) "ddb"',
        );
        const docs = (await redisCli(port, ["COMMAND", "DOCS"])).stdout.split("\n");
        for (const name of expected) ok(docs.includes(name), `COMMAND DOCS lacks ${name}`);
        const info = await cli.lines(["COMMAND", "INFO", "lprev", "nosuch"]);
        deepEqual(info.slice(0, 4), [
          '1)  1) "lprev"',
          "    2) (integer) -3",
          "    3) 1) readonly",
          "    4) (integer) 0",
        ]);
        equal(info.at(-1), "2) (nil)");
        const all = (await redisCli(port, ["COMMAND"])).stdout.split("\n");
        for (const name of expected) ok(all.includes(name), `COMMAND lacks ${name}`);
        await cli.expectError(
          ["COMMAND", "NOPE"],
          "ERR unknown subcommand 'NOPE'. Try COMMAND HELP.",
        );
      });

      await ctx.step("MULTI/EXEC: a run-time error fails alone (Redis semantics)", async () => {
        await cli.expect(["SET", "m:str", "s"], "OK");
        await cli.session(
          ["MULTI", "SET m:a 1", "HSET m:str f v", "SADD m:set x", "GET m:a", "EXEC"],
          "OK",
          "QUEUED",
          "QUEUED",
          "QUEUED",
          "QUEUED",
          "1) OK",
          "2) (error) " + WRONGTYPE,
          "3) (integer) 1",
          '4) "1"',
        );
        await cli.expect(["GET", "m:a"], '"1"');
        await cli.expect(["SMEMBERS", "m:set"], '1) "x"');
        await cli.expect(["GET", "m:str"], '"s"');
        await cli.session(["MULTI", "EXEC"], "OK", "(empty array)");
      });

      await ctx.step("MULTI/EXEC: a queuing error aborts with EXECABORT", async () => {
        await cli.session(
          ["MULTI", "SET m:b 1", "NOSUCH x", "SET m:c 1", "EXEC", "GET m:b", "GET m:c"],
          "OK",
          "QUEUED",
          "(error) ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
          "QUEUED",
          "(error) EXECABORT Transaction discarded because of previous errors: " +
            "ERR unknown command 'NOSUCH', with args beginning with: 'x' ",
          "(nil)",
          "(nil)",
        );
        await cli.session(
          ["MULTI", "SET m:b 1", "GET", "EXEC", "GET m:b"],
          "OK",
          "QUEUED",
          "(error) ERR wrong number of arguments for 'get' command",
          "(error) EXECABORT Transaction discarded because of previous errors: " +
            "ERR wrong number of arguments for 'get' command",
          "(nil)",
        );
      });

      await ctx.step("MULTI: DISCARD, nesting, EXEC/DISCARD without MULTI", async () => {
        await cli.session(
          ["MULTI", "SET m:d 1", "DISCARD", "GET m:d", "EXEC", "DISCARD"],
          "OK",
          "QUEUED",
          "OK",
          "(nil)",
          "(error) ERR EXEC without MULTI",
          "(error) ERR DISCARD without MULTI",
        );
        // A nested MULTI is refused but does not abort the transaction (as in Redis).
        await cli.session(
          ["MULTI", "SET m:e 1", "MULTI", "SET m:f 2", "EXEC", "GET m:e"],
          "OK",
          "QUEUED",
          "(error) ERR MULTI calls can not be nested",
          "QUEUED",
          "1) OK",
          "2) OK",
          '"1"',
        );
      });

      await ctx.step("MULTI/TXINIT: BPUT, BGET and SELECT are refused inside", async () => {
        const [before] = await cli.lines(["BCNT"]);
        await cli.session(
          ["MULTI", "SET m:g 1", "BPUT content", "SELECT other", "EXEC", "GET m:g", "BCNT"],
          "OK",
          "QUEUED",
          "(error) ERR BPUT is not allowed in a transaction",
          "(error) ERR SELECT is not allowed in a transaction",
          "(error) EXECABORT Transaction discarded because of previous errors: " +
            "ERR BPUT is not allowed in a transaction",
          "(nil)",
          before,
        );
        const hash = sha256Hex(new TextEncoder().encode("content"));
        await cli.session(
          ["TXINIT", "BPUT content", "BGET " + hash, "TXCOMMIT", "BEXISTS " + hash],
          "OK",
          "(error) ERR BPUT is not allowed in a transaction",
          "(error) ERR BGET is not allowed in a transaction",
          "(error) EXECABORT Transaction discarded because of previous errors: " +
            "ERR BPUT is not allowed in a transaction",
          "(integer) 0",
        );
      });

      await ctx.step("TXINIT/TXCOMMIT: all or nothing", async () => {
        await cli.expect(["SET", "tx:str", "s"], "OK");
        await cli.session(
          ["TXINIT", "SET tx:a 1", "HSET tx:str f v", "SADD tx:set m", "TXCOMMIT"],
          "OK",
          "QUEUED",
          "QUEUED",
          "QUEUED",
          "(error) ERR transaction aborted, nothing applied: command 2 (HSET): " + WRONGTYPE,
        );
        await cli.expect(["EXISTS", "tx:a", "tx:set"], "(integer) 0");
        await cli.expect(["GET", "tx:str"], '"s"');
        await cli.session(
          ["TXINIT backup-42", "SET tx:a 1", "LADD tx:l 7 x", "GETSET tx:a 2", "TXCOMMIT"],
          "OK",
          "QUEUED",
          "QUEUED",
          "QUEUED",
          "1) OK",
          "2) OK",
          '3) "1"',
        );
        await cli.expect(["GET", "tx:a"], '"2"');
        await cli.expect(["LINDEX", "tx:l", "7"], '"x"');
        await cli.session(
          ["TXINIT", "SET tx:b 1", "TXDISCARD", "GET tx:b", "TXCOMMIT", "TXDISCARD"],
          "OK",
          "QUEUED",
          "OK",
          "(nil)",
          "(error) ERR TXCOMMIT without TXINIT",
          "(error) ERR TXDISCARD without TXINIT",
        );
        // The flavours do not mix.
        await cli.session(
          ["TXINIT", "SET tx:c 1", "EXEC", "MULTI", "TXCOMMIT", "GET tx:c"],
          "OK",
          "QUEUED",
          "(error) ERR EXEC without MULTI",
          "(error) ERR MULTI calls can not be nested",
          "1) OK",
          '"1"',
        );
      });

      await ctx.step("SHUTDOWN stops the server cleanly", async () => {
        const out = await redisCli(port, ["SHUTDOWN"]);
        equal(out.code, 0, out.stdout + out.stderr);
        const status = await server.process.status;
        equal(status.code, 0, server.log());
      });
    }),
});

Deno.test({
  name: "redis-cli: AUTH with --requirepass",
  ignore: !HAS_REDIS_CLI,
  fn: (ctx) =>
    withServer(["--requirepass", "s3cret pass"], async (server, cli) => {
      const authed = cliFor(server.port, ["--no-auth-warning", "-a", "s3cret pass"]);
      const WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled.";
      const NOAUTH = "NOAUTH Authentication required.";

      await ctx.step("commands before AUTH are refused with NOAUTH", async () => {
        for (const args of [["GET", "k"], ["SET", "k", "v"], ["DBSIZE"], ["SELECT", "a"]]) {
          await cli.expectError(args, NOAUTH);
        }
        await cli.expectError(["MULTI"], NOAUTH);
        await cli.expectError(["BPUT", "x"], NOAUTH);
        await cli.expect(["PING"], "PONG"); // flagged noauth
        await cli.expectError(
          ["HELLO", "3"],
          "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
            "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and " +
            "select the RESP protocol version at the same time",
        );
      });

      await ctx.step("a wrong password is refused with WRONGPASS", async () => {
        await cli.expectError(["AUTH", "s3cret"], WRONGPASS);
        await cli.expectError(["AUTH", "other", "s3cret pass"], WRONGPASS);
        await cli.expectError(["AUTH", "default", "wrong"], WRONGPASS);
        await cli.expectError(["HELLO", "3", "AUTH", "default", "wrong"], WRONGPASS);
        await cli.session(["AUTH wrong", "GET k"], "(error) " + WRONGPASS, "(error) " + NOAUTH);
        await cli.expectError(["AUTH", "a", "b", "c"], "ERR syntax error");
      });

      await ctx.step("redis-cli -a and --user/--pass authenticate", async () => {
        await authed.expect(["SET", "k", "v"], "OK");
        await authed.expect(["GET", "k"], '"v"');
        await cliFor(server.port, [
          "--no-auth-warning",
          "--user",
          "default",
          "--pass",
          "s3cret pass",
        ])
          .expect(["GET", "k"], '"v"');
      });

      await ctx.step("AUTH in a session, then commands work", async () => {
        await cli.session(
          ['AUTH "s3cret pass"', "GET k", "AUTH default wrong", "GET k"],
          "OK",
          '"v"',
          "(error) " + WRONGPASS,
          '"v"', // a failed AUTH does not log an authenticated connection out
        );
        await cli.session(['AUTH default "s3cret pass"', "DBSIZE"], "OK", "(integer) 1");
      });

      await ctx.step(
        "HELLO 3 AUTH default <pass> authenticates and switches to RESP3",
        async () => {
          const lines = await cli.lines([], 'HELLO 3 AUTH default "s3cret pass"\nGET k\n');
          equal(lines.length, 8, lines.join("\n"));
          equal(lines[0], '1# "server" => "ddb"');
          equal(lines[2], '3# "proto" => (integer) 3');
          equal(lines[7], '"v"');
          const named = await cli.lines(
            [],
            'HELLO 2 AUTH default "s3cret pass" SETNAME job-7\nCLIENT GETNAME\n',
          );
          equal(named.at(-1), '"job-7"');
        },
      );
    }),
});
