/**
 * End-to-end tests of the life of a `ddb` process: clean stops on signals
 * and SHUTDOWN, a stop while a client is busy, the data directory lock, and
 * exit codes and messages of bad usage and bad configuration.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  encodeCommand,
  RawConnection,
  redisCli,
  type RespReply,
  showReply,
  startServer,
} from "./_server.ts";
import { canRunWith } from "./_skip.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const decoder = new TextDecoder();

/** Runs `ddb` with `args`; kills it if it runs longer than `timeoutMs`. */
async function ddb(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const out = await child.output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the exit status, or rejects after `timeoutMs`. */
async function exitWithin(
  process: Deno.ChildProcess,
  timeoutMs: number,
): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([process.status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`ddb serve stops cleanly with exit code 0 on ${signal}`, async () => {
    const server = await startServer();
    try {
      const idle = await RawConnection.open(server.port);
      try {
        assert.equal(showReply(await idle.command("SET", "kept", signal)), "+OK");
        const status = await server.stop(signal);
        assert.equal(status.code, 0, server.log());
        assert.equal(await idle.read(5_000), undefined, "the idle client was not closed");
      } finally {
        idle.close();
      }
      assert.match(server.log(), new RegExp(`shutdown\\.start reason=${signal}`));
      assert.match(server.log(), /shutdown\.done/);

      const again = await startServer({ dataDir: server.dataDir });
      const client = await RawConnection.open(again.port);
      try {
        assert.equal(showReply(await client.command("GET", "kept")), `$${signal}`);
      } finally {
        client.close();
        await again.stop();
      }
    } finally {
      await Deno.remove(server.dataDir, { recursive: true });
    }
  });
}

Deno.test("ddb serve stops cleanly with exit code 0 on SHUTDOWN", async () => {
  if (!canRunWith("redis-cli", "redis-tools")) return;
  const server = await startServer();
  try {
    const result = await redisCli(server.port, ["SHUTDOWN"]);
    assert.equal(result.code, 0, result.stderr);
    const status = await exitWithin(server.process, 30_000);
    assert.equal(status.code, 0, server.log());
    await server.stop();
    assert.match(server.log(), /shutdown\.start reason="SHUTDOWN from 127\.0\.0\.1:\d+"/);
    assert.match(server.log(), /shutdown\.done/);
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("ddb serve answers the commands it runs when stopped mid-pipeline", async () => {
  const server = await startServer();
  try {
    // SETs with a durable BPUT every 100 commands, so the pipeline takes a while.
    const commands: (string | Uint8Array)[][] = [];
    const expected: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      if (i % 100 === 0) {
        const content = new TextEncoder().encode(`blob ${i} `.repeat(50));
        commands.push(["BPUT", content]);
        expected.push(`$${createHash("sha256").update(content).digest("hex")}`);
      } else {
        commands.push(["SET", `key:${i}`, `value ${i} `.repeat(10)]);
        expected.push("+OK");
      }
    }
    const client = await RawConnection.open(server.port);
    const replies: RespReply[] = [];
    let status: Deno.CommandStatus;
    try {
      const writing = client.send(encodeCommand(["PING"]))
        .then(async () => {
          for (let i = 0; i < commands.length; i += 1000) {
            const chunk = commands.slice(i, i + 1000).map(encodeCommand);
            const bytes = new Uint8Array(chunk.reduce((n, c) => n + c.length, 0));
            let at = 0;
            for (const c of chunk) {
              bytes.set(c, at);
              at += c.length;
            }
            await client.send(bytes);
          }
        })
        .catch((error) => {
          // The server closes once it has stopped; the rest of the pipeline is not sent.
          if (
            !(error instanceof Deno.errors.ConnectionReset) &&
            !(error instanceof Deno.errors.BrokenPipe) &&
            !(error instanceof Deno.errors.NotConnected)
          ) throw error;
        });
      assert.equal(showReply(await client.read()), "+PONG");
      for (;;) {
        const reply = await client.read(30_000);
        if (reply === undefined) break;
        replies.push(reply);
        if (replies.length === 200) server.process.kill("SIGTERM");
      }
      status = await exitWithin(server.process, 30_000);
      await writing;
    } finally {
      client.close();
      await server.stop();
    }
    assert.equal(status.code, 0, server.log());
    assert.match(server.log(), /shutdown\.done/);
    assert.ok(replies.length >= 200, `only ${replies.length} replies`);
    assert.ok(replies.length < commands.length, "the whole pipeline ran: no stop in the middle");
    replies.forEach((reply, i) => assert.equal(showReply(reply), expected[i], `reply ${i}`));
    // A clean close leaves no partial reply; a reset may cut the last one short.
    if (!client.reset) assert.equal(client.pending.length, 0, "a partial reply");

    // Every acknowledged write is there after a restart.
    const again = await startServer({ dataDir: server.dataDir });
    const check = await RawConnection.open(again.port);
    try {
      const keys = replies.flatMap((_, i) => i % 100 === 0 ? [] : [`key:${i}`]);
      for (let i = 0; i < keys.length; i += 500) {
        const some = keys.slice(i, i + 500);
        assert.equal(showReply(await check.command("EXISTS", ...some)), `:${some.length}`);
      }
      for (let i = 0; i < replies.length; i += 100) {
        assert.equal(showReply(await check.command("BEXISTS", expected[i].slice(1))), ":1");
      }
    } finally {
      check.close();
      await again.stop();
    }
  } finally {
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("a second ddb serve on the same data directory fails with exit code 1", async () => {
  const server = await startServer();
  try {
    const second = await ddb(["serve", "--listen", "127.0.0.1:0", "--data", server.dataDir]);
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stderr,
      /^ddb serve: Cannot use data directory ".*": another ddb server is using it\n$/,
    );
    // The first server is unharmed.
    const client = await RawConnection.open(server.port);
    try {
      assert.equal(showReply(await client.command("PING")), "+PONG");
    } finally {
      client.close();
    }
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(server.dataDir, { recursive: true });
  }
});

Deno.test("ddb reports bad usage with exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-lifecycle-" });
  try {
    const data = join(dir, "data");
    const cases: [string[], RegExp][] = [
      [["serve", "--data", data, "--bogus"], /^ddb serve: .*--bogus.* \(see ddb serve --help\)\n$/],
      [["serve", "--listen"], /^ddb serve: .*--listen.*\(see ddb serve --help\)\n$/],
      [["bogus"], /^ddb: unknown command "bogus" \(see ddb --help\)\n$/],
      [[], /^$/],
    ];
    for (const [args, message] of cases) {
      const result = await ddb(args);
      assert.equal(result.code, 2, `ddb ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message, `ddb ${args.join(" ")}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// The hint to --help is printed once (regression: it was printed twice).
Deno.test("ddb serve reports an unexpected argument with exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-lifecycle-" });
  try {
    const result = await ddb(["serve", "--data", join(dir, "data"), "extra"]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      'ddb serve: Unexpected argument "extra" (see ddb serve --help)\n',
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ddb --help and ddb serve --help exit 0 and list every flag", async () => {
  const main = await ddb(["--help"]);
  assert.equal(main.code, 0, main.stderr);
  for (const word of ["serve", "--help", "--version"]) assert.ok(main.stdout.includes(word), word);

  for (const args of [["serve", "--help"], ["serve", "-h"], ["help", "serve"]]) {
    const serve = await ddb(args);
    assert.equal(serve.code, 0, serve.stderr);
    assert.match(serve.stdout, /^Usage: ddb serve \[options\]/);
    for (
      const flag of ["--listen", "--data", "--config", "--requirepass", "--log-level", "--help"]
    ) {
      assert.ok(serve.stdout.includes(flag), `ddb ${args.join(" ")} does not mention ${flag}`);
    }
  }

  const version = await ddb(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^ddb \d+\.\d+\.\d+/);
});

Deno.test("ddb serve refuses a bad config file with exit code 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-lifecycle-" });
  try {
    const cases: [string, RegExp][] = [
      ['{"bogus": 1}', /Cannot read config: unknown setting "bogus"/],
      ['{"listen": "127.0.0.1:0",', /Cannot parse config file ".*config\.json": /],
      ["[1, 2]", /Cannot read config: the top level must be an object/],
      ['{"limits": {"maxBogus": 5}}', /Cannot read config: unknown limit "maxBogus"/],
      ['{"limits": {"maxClients": 0}}', /limits\.maxClients must be a positive integer/],
      ['{"limits": {"maxArgs": "many"}}', /limits\.maxArgs must be a positive integer/],
      ['{"logLevel": 3}', /"logLevel" must be a string/],
      ['{"logLevel": "loud"}', /Cannot parse log level "loud"/],
      ['{"listen": "nowhere"}', /Cannot parse listen address "nowhere"/],
      ['{"databases": {"../x": {"storage": "/tmp/x"}}}', /invalid database name "\.\.\/x"/],
    ];
    const config = join(dir, "config.json");
    for (const [text, message] of cases) {
      await Deno.writeTextFile(config, text);
      // --listen would win over the file's "listen".
      const listen = text.includes('"listen"') ? [] : ["--listen", "127.0.0.1:0"];
      const args = ["serve", ...listen, "--data", join(dir, "data"), "--config", config];
      const result = await ddb(args);
      assert.equal(result.code, 1, `config ${text}: ${result.stderr}`);
      assert.match(result.stderr, /^ddb serve: /, `config ${text}`);
      assert.match(result.stderr, message, `config ${text}`);
    }
    const missing = await ddb([
      "serve",
      "--data",
      join(dir, "data"),
      "--config",
      join(dir, "nope.json"),
    ]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /^ddb serve: Cannot read config file ".*nope\.json": /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ddb serve refuses a bad flag value with exit code 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-lifecycle-" });
  try {
    const data = ["--data", join(dir, "data")];
    const cases: [string[], RegExp][] = [
      [["--listen", "nowhere"], /^ddb serve: Cannot parse listen address "nowhere"/],
      [["--listen", "127.0.0.1:99999"], /^ddb serve: Cannot parse listen address/],
      [
        ["--listen", "127.0.0.1:0", "--log-level", "loud"],
        /^ddb serve: Cannot parse log level "loud"/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await ddb(["serve", ...data, ...args]);
      assert.equal(result.code, 1, `ddb serve ${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message, `ddb serve ${args.join(" ")}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
