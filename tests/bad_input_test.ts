/**
 * End-to-end tests of `ddb serve` against bad and hostile clients, over raw
 * TCP: malformed frames, requests over the limits, command errors, stalled
 * requests (slow-loris), random garbage, memory under large requests, and
 * the client limit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  concat,
  encodeCommand,
  Random,
  RawConnection,
  residentBytes,
  type RespReply,
  showReply,
  startServer,
  type TestServer,
} from "./_server.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Small limits, so that breaking them is cheap. */
const SMALL_LIMITS = {
  maxBulkBytes: 1 * MiB,
  maxRequestBytes: 4 * MiB,
  maxArgs: 1000,
  requestTimeoutMs: 1500,
};

/** Runs `fn` against a server started with a config file holding `limits`; cleans up. */
async function withServer(
  limits: Record<string, number>,
  fn: (server: TestServer) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-bad-input-" });
  try {
    const config = join(dir, "config.json");
    await Deno.writeTextFile(config, JSON.stringify({ limits }));
    const server = await startServer({ dataDir: join(dir, "data"), args: ["--config", config] });
    let status: Deno.CommandStatus | undefined;
    try {
      await fn(server);
    } finally {
      status = await server.stop("SIGTERM");
    }
    assert.equal(status.code, 0, `the server exited with ${status.code}:\n${server.log()}`);
    assertCleanLog(server.log());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** No uncaught exception, panic, internal command failure or unexpected connection error. */
function assertCleanLog(log: string): void {
  const bad = log.split("\n").filter((line) => /Uncaught|panicked| ERROR |conn\.error/.test(line));
  assert.deepEqual(bad, [], `unexpected lines in the server log:\n${bad.join("\n")}`);
}

function text(reply: RespReply | undefined): string {
  if (reply?.kind !== "bulk") throw new Error(`Expected a bulk string, got ${showReply(reply)}`);
  return decoder.decode(reply.value);
}

function assertSimple(reply: RespReply | undefined, value: string): void {
  assert.equal(showReply(reply), `+${value}`);
}

function assertError(reply: RespReply | undefined, pattern: RegExp): void {
  assert.ok(reply?.kind === "error", `expected an error reply, got ${showReply(reply)}`);
  assert.match(reply.message, pattern);
}

/** Reads one error reply matching `pattern`, then the end of the stream. */
async function assertErrorThenClose(client: RawConnection, pattern: RegExp): Promise<void> {
  assertError(await client.read(5_000), pattern);
  const after = await client.read(5_000);
  assert.equal(after, undefined, `expected the server to close, got ${showReply(after)}`);
}

/** Opens a new connection and checks that PING answers PONG. */
async function assertServes(server: TestServer): Promise<void> {
  const client = await RawConnection.open(server.port);
  try {
    assertSimple(await client.command("PING"), "PONG");
  } finally {
    client.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("ddb serve answers a malformed frame with a protocol error and closes", async () => {
  const cases: { input: string; before: string[]; error: RegExp }[] = [
    { input: "*abc\r\n", before: [], error: /^ERR Protocol error: invalid multibulk length$/ },
    { input: "*1\r\n$-5\r\n", before: [], error: /^ERR Protocol error: invalid bulk length$/ },
    { input: "*1\r\n$04\r\nPING\r\n", before: [], error: /^ERR Protocol error: invalid bulk/ },
    {
      input: "*1\r\n$1234567890123456\r\n",
      before: [],
      error: /^ERR Protocol error: invalid bulk length$/,
    },
    {
      input: "*1\r\n$4\r\nPINGxx",
      before: [],
      error: /^ERR Protocol error: expected CRLF after bulk string$/,
    },
    {
      input: "*2\r\n$3\r\nGET\r\n:1\r\n",
      before: [],
      error: /^ERR Protocol error: expected '\$', got ':'$/,
    },
    {
      input: 'SET "unbalanced value\r\n',
      before: [],
      error: /^ERR Protocol error: unbalanced quotes in request$/,
    },
    {
      input: "*1\r\n$4\r\nPING\r\nPING\r\n*1\r\nx\r\n",
      before: ["+PONG", "+PONG"],
      error: /^ERR Protocol error: expected '\$', got 'x'$/,
    },
    {
      // More commands than one batch of the connection, then garbage.
      input: "PING\r\n".repeat(2000) + "*1\r\n$x\r\n",
      before: Array(2000).fill("+PONG"),
      error: /^ERR Protocol error: invalid bulk length$/,
    },
  ];
  await withServer(SMALL_LIMITS, async (server) => {
    for (const { input, before, error } of cases) {
      const client = await RawConnection.open(server.port);
      try {
        await client.send(input);
        for (const expected of before) assert.equal(showReply(await client.read(5_000)), expected);
        await assertErrorThenClose(client, error);
      } catch (cause) {
        throw new Error(`Input ${JSON.stringify(input.slice(-80))}: ${(cause as Error).message}`, {
          cause,
        });
      } finally {
        client.close();
      }
      await assertServes(server);
    }
  });
});

Deno.test("ddb serve rejects a request over its limits as soon as the header arrives", async (t) => {
  await withServer(SMALL_LIMITS, async (server) => {
    await t.step("a bulk string over maxBulkBytes, body never sent", async () => {
      const client = await RawConnection.open(server.port);
      try {
        await client.send("*2\r\n$4\r\nBPUT\r\n$2000000\r\n");
        await assertErrorThenClose(
          client,
          /^ERR Protocol error: bulk string exceeds the limit of 1048576 bytes$/,
        );
      } finally {
        client.close();
      }
    });

    await t.step("more arguments than maxArgs", async () => {
      const client = await RawConnection.open(server.port);
      try {
        await client.send("*1001\r\n");
        await assertErrorThenClose(client, /^ERR Protocol error: too many arguments$/);
      } finally {
        client.close();
      }
    });

    await t.step("exactly maxArgs arguments are accepted", async () => {
      const client = await RawConnection.open(server.port);
      try {
        await client.send(
          encodeCommand(["SADD", "many", ...Array.from({ length: 998 }, (_, i) => `m${i}`)]),
        );
        assert.equal(showReply(await client.read()), ":998");
        assertSimple(await client.command("PING"), "PONG");
      } finally {
        client.close();
      }
    });

    await t.step("a request over maxRequestBytes", async () => {
      const client = await RawConnection.open(server.port);
      try {
        // Three 1 MiB arguments fit in 4 MiB; the header of a fourth does not.
        const bulk = concat([
          encoder.encode(`$${MiB}\r\n`),
          new Uint8Array(MiB),
          encoder.encode("\r\n"),
        ]);
        await client.send(concat([encoder.encode("*5\r\n"), bulk, bulk, bulk]));
        await client.send(`$${MiB}\r\n`);
        await assertErrorThenClose(
          client,
          /^ERR Protocol error: request exceeds the limit of 4194304 bytes$/,
        );
      } finally {
        client.close();
      }
    });

    await t.step("an inline line over 64 KiB without a newline", async () => {
      const client = await RawConnection.open(server.port);
      try {
        await client.send(new Uint8Array(64 * KiB + 1).fill(0x61));
        await assertErrorThenClose(client, /^ERR Protocol error: too big inline request$/);
      } finally {
        client.close();
      }
    });

    await assertServes(server);
  });
});

Deno.test("ddb serve answers command errors and keeps the connection usable", async () => {
  await withServer(SMALL_LIMITS, async (server) => {
    const client = await RawConnection.open(server.port);
    try {
      const checks: [string[], RegExp][] = [
        [
          ["NOSUCHCOMMAND", "a", "b"],
          /^-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' 'b' $/,
        ],
        [["GET"], /^-ERR wrong number of arguments for 'get' command$/],
        [["SET", "k", "v"], /^\+OK$/],
        [["SADD", "k", "m"], /^-WRONGTYPE /],
        [["HGET", "k", "f"], /^-WRONGTYPE /],
        [["LADD", "k", "1", "v"], /^-WRONGTYPE /],
        [["LADD", "list", "not-a-number", "v"], /^-ERR /],
        [["BGET", "not-a-hash"], /^-ERR invalid blob hash/],
        [["TXCOMMIT"], /^-ERR TXCOMMIT without TXINIT$/],
        [["EXEC"], /^-ERR EXEC without MULTI$/],
        [["GET", "k"], /^\$v$/],
      ];
      for (const [command, expected] of checks) {
        const reply = await client.command(...command);
        assert.match(showReply(reply), expected, `${command.join(" ")}`);
        assertSimple(await client.command("PING"), "PONG");
      }
      // The same as one pipelined write: every reply, in order.
      await client.send(concat(checks.map(([command]) => encodeCommand(command))));
      for (const [command, expected] of checks) {
        assert.match(showReply(await client.read()), expected, `pipelined ${command.join(" ")}`);
      }
      assertSimple(await client.command("PING"), "PONG");
    } finally {
      client.close();
    }
  });
});

Deno.test("ddb serve drops a stalled partial request but not idle or slow clients", async () => {
  // Partial requests that then stall: in a bulk string, in a header, inline,
  // and inside a large bulk string being filled in place.
  const partials: (string | Uint8Array)[] = [
    "*2\r\n$4\r\nECHO\r\n$5\r\nhel",
    "*",
    "PIN",
    concat([encoder.encode("*2\r\n$4\r\nBPUT\r\n$500000\r\n"), new Uint8Array(100_000)]),
  ];
  await withServer(SMALL_LIMITS, async (server) => {
    const stalled: RawConnection[] = [];
    const idle = await RawConnection.open(server.port);
    const slow = await RawConnection.open(server.port);
    const busy = await RawConnection.open(server.port);
    try {
      const started = Date.now();
      let open = partials.length;
      for (const partial of partials) {
        const client = await RawConnection.open(server.port);
        stalled.push(client);
        await client.send(partial);
      }
      const dropped = stalled.map((client) =>
        client.read(10_000).then((reply) => {
          open--;
          return { reply, after: Date.now() - started };
        })
      );

      // A slow client that makes progress every 300 ms (less than requestTimeoutMs).
      const slowDone = (async () => {
        await slow.send("*2\r\n$4\r\nECHO\r\n$10\r\n");
        for (const digit of "0123456789") {
          await sleep(300);
          await slow.send(digit);
        }
        await slow.send("\r\n");
        return await slow.read(5_000);
      })();

      // A well-behaved client keeps being answered meanwhile.
      let answered = 0;
      while (open > 0 && Date.now() - started < 10_000) {
        const before = Date.now();
        assertSimple(await busy.command("PING"), "PONG");
        assert.ok(Date.now() - before < 1_000, "a PING took more than 1 s");
        answered++;
        await sleep(100);
      }
      for (const [i, { reply, after }] of (await Promise.all(dropped)).entries()) {
        const what = `stalled client ${i}`;
        assert.equal(reply, undefined, `${what} got ${showReply(reply)}`);
        assert.ok(after >= 1_400, `${what} dropped after ${after} ms, before requestTimeoutMs`);
        assert.ok(after < 6_000, `${what} dropped only after ${after} ms`);
      }
      assert.ok(answered >= 5, `only ${answered} PINGs answered`);

      assert.equal(text(await slowDone), "0123456789");
      assert.ok(Date.now() - started > 3_000);
      // Idle for longer than requestTimeoutMs plus the watch interval, with nothing partial.
      assertSimple(await idle.command("PING"), "PONG");
      const timeouts = server.log().match(
        /conn\.timeout .*reason="partial request made no progress"/g,
      );
      assert.equal(timeouts?.length, partials.length);
    } finally {
      for (const client of [...stalled, idle, slow, busy]) client.close();
    }
  });
});

/** Commands mutated into garbage; none of them stops the server. */
const SEED_COMMANDS: string[][] = [
  ["PING"],
  ["ECHO", "hello"],
  ["SET", "k", "v"],
  ["GET", "k"],
  ["HSET", "h", "f", "v"],
  ["SADD", "s", "m"],
  ["LADD", "l", "7", "v"],
  ["LRANGE", "l", "0", "10", "WITH", "INDEX"],
  ["BPUT", "blob"],
  ["BEXISTS", "a".repeat(64)],
  ["TXINIT"],
  ["TXCOMMIT"],
  ["MULTI"],
  ["EXEC"],
  ["DEL", "k", "h"],
  ["SELECT", "garbage"],
  ["CLIENT", "SETNAME", "x"],
  ["INFO"],
];

function garbage(random: Random): Uint8Array {
  switch (random.int(6)) {
    case 0:
      return random.bytes(1 + random.int(4096));
    case 1:
    case 2:
    case 3: {
      // Valid commands with a few bytes flipped, inserted, dropped, or cut short.
      const commands = Array.from({ length: 1 + random.int(8) }, () => random.pick(SEED_COMMANDS));
      const bytes = Array.from(concat(commands.map(encodeCommand)));
      for (let n = random.int(4); n > 0; n--) {
        const at = random.int(bytes.length);
        const op = random.int(4);
        if (op === 0) bytes[at] = random.int(256);
        else if (op === 1) {
          bytes.splice(at, 0, ...random.bytes(1 + random.int(8), "*$-:+0123456789\r\n"));
        } else if (op === 2) bytes.splice(at, 1 + random.int(4));
        else bytes.length = at;
      }
      return new Uint8Array(bytes);
    }
    case 4: {
      const header = `*${random.pick(["", "-", "0", "1", "99", "1000", "999999999999999"])}`;
      return concat([encoder.encode(header), random.bytes(random.int(64), "*$-0123456789\r\nab")]);
    }
    default:
      return random.bytes(1 + random.int(512), " \t\r\n\"'\\xabcdefPINGSETGET0123456789{}");
  }
}

Deno.test("ddb serve survives random garbage from hundreds of connections", async () => {
  await withServer(SMALL_LIMITS, async (server) => {
    const random = new Random(0x5eed_0001);
    const inputs = Array.from({ length: 500 }, () => garbage(random));
    const CONCURRENT = 10;
    let exited = false;
    server.process.status.then(() => exited = true);
    for (let i = 0; i < inputs.length; i += CONCURRENT) {
      await Promise.all(
        inputs.slice(i, i + CONCURRENT).map(async (input) => {
          const client = await RawConnection.open(server.port);
          try {
            try {
              await client.send(input);
              await client.conn.closeWrite();
            } catch (error) {
              // The server may close first, after a protocol error.
              if (
                !(error instanceof Deno.errors.ConnectionReset) &&
                !(error instanceof Deno.errors.BrokenPipe) &&
                !(error instanceof Deno.errors.NotConnected)
              ) throw error;
            }
            await client.drain(10_000);
          } finally {
            client.close();
          }
        }),
      );
      assert.equal(exited, false, `the server exited:\n${server.log()}`);
    }
    await assertServes(server);
    assert.equal(exited, false);
    // The garbage reached both the decoder's error paths and the commands.
    const protocolErrors = server.log().match(/conn\.protocol_error/g)?.length ?? 0;
    assert.ok(protocolErrors >= 50, `only ${protocolErrors} protocol errors`);
    const info = await RawConnection.open(server.port);
    try {
      const reply = await info.command("INFO", "stats");
      const processed = /total_commands_processed:(\d+)/.exec(text(reply));
      assert.ok(Number(processed?.[1]) >= inputs.length, `commands run: ${processed?.[1]}`);
      console.log(`garbage: ${protocolErrors} protocol errors, ${processed?.[1]} commands run`);
    } finally {
      info.close();
    }
  });
});

Deno.test("ddb serve memory does not keep growing under 1 MiB requests", async () => {
  await withServer(SMALL_LIMITS, async (server) => {
    const client = await RawConnection.open(server.port);
    try {
      const value = new Uint8Array(MiB);
      const round = async (first: number) => {
        for (let i = first; i < first + 100; i++) {
          value.fill(i & 0xff);
          const reply = i % 2 === 0
            ? await client.command("ECHO", value)
            : await client.command("SET", `big:${i % 4}`, value);
          if (i % 2 === 0) {
            assert.ok(
              reply.kind === "bulk" && reply.value.length === MiB && reply.value[7] === (i & 0xff),
            );
          } else {
            assertSimple(reply, "OK");
          }
        }
        return await residentBytes(server.process.pid);
      };
      const before = await residentBytes(server.process.pid);
      const first = await round(0);
      const second = await round(100);
      console.log(
        `server RSS: start ${(before / MiB).toFixed(0)} MiB, after 100 requests ` +
          `${(first / MiB).toFixed(0)} MiB, after 200 ${(second / MiB).toFixed(0)} MiB`,
      );
      assert.ok(
        second < first * 1.5 + 50 * MiB,
        `RSS grew from ${first} to ${second} bytes between rounds`,
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("ddb serve refuses the connection over maxClients", async () => {
  await withServer({ maxClients: 5 }, async (server) => {
    const clients: RawConnection[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const client = await RawConnection.open(server.port);
        clients.push(client);
        assertSimple(await client.command("PING"), "PONG");
      }
      const sixth = await RawConnection.open(server.port);
      try {
        await assertErrorThenClose(sixth, /^ERR max number of clients reached$/);
      } finally {
        sixth.close();
      }
      for (const client of clients) assertSimple(await client.command("PING"), "PONG");

      // Once one leaves, a new client gets in.
      clients.shift()?.close();
      const deadline = Date.now() + 5_000;
      for (;;) {
        const next = await RawConnection.open(server.port);
        const reply = await next.command("PING").catch(() => undefined);
        if (reply?.kind === "simple") {
          clients.push(next);
          assertSimple(reply, "PONG");
          break;
        }
        next.close();
        assert.ok(Date.now() < deadline, `still refused: ${showReply(reply)}`);
        await sleep(50);
      }
      assert.match(server.log(), /conn\.rejected .*reason=maxclients/);
    } finally {
      for (const client of clients) client.close();
    }
  });
});

Deno.test("a pipeline of 300 BGETs of 1 MiB that is read late does not grow the server by its size", async () => {
  await withServer({}, async (server) => {
    const client = await RawConnection.open(server.port);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const reply = await client.command("BPUT", new Uint8Array(MiB).fill(i + 1));
        assert.ok(reply.kind === "bulk");
        ids.push(new TextDecoder().decode(reply.value));
      }
      const before = await residentBytes(server.process.pid);
      const count = 300;
      await client.send(
        concat(Array.from({ length: count }, (_, i) => encodeCommand(["BGET", ids[i % 4]]))),
      );
      // The replies are not read for a while: the server must wait for the
      // socket rather than hold all 300 MiB of them.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const during = await residentBytes(server.process.pid);
      for (let i = 0; i < count; i++) {
        const reply = await client.read();
        assert.ok(
          reply?.kind === "bulk" && reply.value.length === MiB && reply.value[9] === (i % 4) + 1,
        );
      }
      console.log(
        `server RSS: ${(before / MiB).toFixed(0)} MiB before, ${(during / MiB).toFixed(0)} MiB ` +
          `with ${count} MiB of replies pending`,
      );
      assert.ok(during < before + 150 * MiB, `RSS grew from ${before} to ${during} bytes`);
    } finally {
      client.close();
    }
  });
});
