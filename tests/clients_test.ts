/**
 * End-to-end tests of `ddb serve` with real Redis client libraries: npm
 * `ioredis` (binary safety, large blobs, pipelining, MULTI, concurrent
 * clients) and npm `redis` (RESP3 and RESP2 handshakes, maps, AUTH).
 *
 * @module
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { createClient } from "redis";
import { startServer, type TestServer } from "./_server.ts";

const MiB = 1024 * 1024;

/** Runs `fn` with a fresh server, then stops it and removes its data directory. */
async function withServer(args: string[], fn: (server: TestServer) => Promise<void>) {
  const server = await startServer({ args });
  try {
    await fn(server);
  } finally {
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
}

/** An ioredis client connected to `port`, ready (its INFO ready check passed). */
async function connectIoredis(port: number, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    retryStrategy: () => null, // a test server never comes back: fail instead of retrying
    ...options,
  });
  await client.connect();
  equal(client.status, "ready");
  return client;
}

/** `n` bytes of a fixed pseudo-random sequence (deterministic across runs). */
function pseudoRandomBytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `n` RESP-encoded `SET long:<i> v<i>` requests, back to back. */
function encodeSets(n: number): Uint8Array {
  const text: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = `long:${i}`;
    const value = `v${i}`;
    text.push(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`);
  }
  return new TextEncoder().encode(text.join(""));
}

function sortedBytes(items: readonly Buffer[]): Buffer[] {
  return [...items].sort(Buffer.compare);
}

Deno.test("ioredis: binary safety, large blobs, pipelining, MULTI", async (t) => {
  await withServer([], async ({ port }) => {
    const redis = await connectIoredis(port);
    try {
      await t.step("the ready check (INFO) passes and the client speaks RESP3", async () => {
        equal(redis.status, "ready");
        equal(await redis.ping(), "PONG");
        const info = await redis.info("keyspace");
        ok(info.startsWith("# Keyspace\r\n"), info);
        const hello = await redis.call("HELLO") as unknown[];
        deepEqual(hello.slice(4, 6), ["proto", 3]);
      });

      await t.step(
        "a blob of CR LF NUL and all 256 byte values round-trips byte-exact",
        async () => {
          const every = Buffer.alloc(256 * 4 + 3);
          for (let i = 0; i < 256 * 4; i++) every[i] = i & 0xff;
          every.set([13, 10, 0], 256 * 4);
          const hash = await redis.callBuffer("BPUT", every) as Buffer;
          equal(hash.toString("latin1"), sha256Hex(every));
          const back = await redis.callBuffer("BGET", hash.toString()) as Buffer;
          ok(Buffer.isBuffer(back));
          ok(back.equals(every), "BGET returned other bytes than BPUT stored");
          equal(await redis.call("BSIZE", hash.toString()), every.length);
          equal(await redis.call("BEXISTS", hash.toString()), 1);
          // A blob that looks like RESP framing is still just bytes.
          const framing = Buffer.from("$5\r\nhello\r\n*1\r\n$-1\r\n+OK\r\n-ERR x\r\n");
          const framingHash = (await redis.callBuffer("BPUT", framing) as Buffer).toString();
          ok((await redis.callBuffer("BGET", framingHash) as Buffer).equals(framing));
        },
      );

      await t.step("a 5 MiB blob round-trips byte-exact", async () => {
        const big = pseudoRandomBytes(5 * MiB, 7);
        const hash = (await redis.callBuffer("BPUT", big) as Buffer).toString();
        equal(hash, sha256Hex(big));
        const back = await redis.callBuffer("BGET", hash) as Buffer;
        equal(back.length, big.length);
        ok(back.equals(big), "the 5 MiB blob came back different");
        equal(await redis.call("BSIZE", hash), 5 * MiB);
        // Storing it again stores nothing new.
        const count = await redis.call("BCNT");
        equal((await redis.callBuffer("BPUT", big) as Buffer).toString(), hash);
        equal(await redis.call("BCNT"), count);
      });

      await t.step("binary strings: key and value with every byte value", async () => {
        const key = Buffer.from([0, 13, 10, 255, 0x80, 0x2a, 0x24, 0x20]);
        const value = pseudoRandomBytes(1000, 3);
        equal(await redis.set(key, value), "OK");
        ok((await redis.getBuffer(key))?.equals(value));
        equal(await redis.type(key), "string");
        equal(await redis.exists(key), 1);
        equal(await redis.get(Buffer.from([0, 13, 10, 255, 0x80, 0x2a, 0x24])), null);
        const empty = Buffer.alloc(0);
        equal(await redis.set(empty, empty), "OK");
        ok((await redis.getBuffer(empty))?.equals(empty));
      });

      await t.step("binary hash fields and values round-trip, fields in byte order", async () => {
        const key = Buffer.from([0xff, 0, 0x68]);
        const fields: Buffer[] = [
          Buffer.from([0x80]),
          Buffer.from([0]),
          Buffer.from([0, 0]),
          Buffer.from([13, 10]),
          Buffer.from([0xff, 0xff]),
          Buffer.from("plain"),
          Buffer.alloc(0),
        ];
        const args: Buffer[] = [];
        fields.forEach((field, i) => args.push(field, pseudoRandomBytes(50 + i, i)));
        equal(await redis.hset(key, ...args), fields.length);
        const flat = await redis.callBuffer("HGETALL", key) as Buffer[];
        const expected: Buffer[] = [];
        for (const field of sortedBytes(fields)) {
          expected.push(
            field,
            pseudoRandomBytes(50 + fields.indexOf(field), fields.indexOf(field)),
          );
        }
        deepEqual(flat, expected);
        ok((await redis.hgetBuffer(key, Buffer.from([13, 10])))?.equals(args[7]));
        equal(await redis.hexists(key, Buffer.from([0, 0])), 1);
        equal(await redis.hexists(key, Buffer.from([0, 0, 0])), 0);
        equal(await redis.hdel(key, Buffer.from([0]), Buffer.from([1])), 1);
        equal(await redis.hlen(key), fields.length - 1);
      });

      await t.step("binary set members round-trip in byte order", async () => {
        const key = Buffer.from([0x53, 0, 0xfe]);
        const members = [0xff, 0x00, 0x7f, 0x80, 0x0d, 0x0a].map((b) => Buffer.from([b, b]));
        members.push(Buffer.from([0]), Buffer.from([0xff, 0xff, 0xff]), Buffer.alloc(0));
        equal(await redis.sadd(key, ...members), members.length);
        deepEqual(await redis.smembersBuffer(key), sortedBytes(members));
        equal(await redis.sismember(key, Buffer.from([0x0d, 0x0d])), 1);
        equal(await redis.scard(key), members.length);
      });

      await t.step("binary list values round-trip in index order", async () => {
        const key = Buffer.from([0x6c, 0x0d, 0x0a, 0x00]);
        const entries: [string, Buffer][] = [
          ["18446744073709551615", Buffer.from([0xff, 0, 13, 10])],
          ["0", Buffer.alloc(0)],
          ["256", pseudoRandomBytes(300, 9)],
          ["255", Buffer.from("\r\n")],
        ];
        for (const [index, value] of entries) {
          equal(await redis.call("LADD", key, index, value), "OK");
        }
        const ordered = [...entries].sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1));
        deepEqual(
          await redis.callBuffer("LITER", key, "WITH", "INDEX"),
          ordered.flatMap(([index, value]) => [Buffer.from(index), value]),
        );
        deepEqual(
          await redis.callBuffer("LPREV", key, "18446744073709551614", "WITH", "INDEX"),
          [Buffer.from("256"), entries[2][1]],
        );
        ok((await redis.callBuffer("LINDEX", key, "255") as Buffer).equals(Buffer.from("\r\n")));
      });

      await t.step("10,000 SETs then 10,000 GETs in one pipeline, replies in order", async () => {
        const n = 10_000;
        const pipeline = redis.pipeline();
        for (let i = 0; i < n; i++) pipeline.set(`pipe:${i}`, `value-${i}`);
        for (let i = 0; i < n; i++) pipeline.get(`pipe:${i}`);
        const results = await pipeline.exec();
        ok(results !== null);
        equal(results.length, 2 * n);
        for (let i = 0; i < n; i++) {
          deepEqual(results[i], [null, "OK"], `SET ${i}`);
          deepEqual(results[n + i], [null, `value-${i}`], `GET ${i}`);
        }
        deepEqual(await redis.call("RANGE", "pipe:9998", "pipe:9999", "0"), [
          "value-9998",
          "value-9999",
        ]);
      });

      await t.step("multi(): EXEC applies all; a run-time error fails alone", async () => {
        equal(await redis.set("tx:str", "s"), "OK");
        const results = await redis.multi()
          .set("tx:a", "1")
          .hset("tx:str", "f", "v")
          .sadd("tx:set", "m")
          .get("tx:a")
          .exec();
        ok(results !== null);
        equal(results.length, 4);
        deepEqual(results[0], [null, "OK"]);
        ok(results[1][0] instanceof Error);
        equal(
          (results[1][0] as Error).message,
          "WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        deepEqual(results[2], [null, 1]);
        deepEqual(results[3], [null, "1"]);
        equal(await redis.get("tx:a"), "1");
      });

      await t.step("multi(): a queuing error makes EXEC fail with EXECABORT", async () => {
        const tx = redis.multi().set("tx:b", "1");
        tx.call("NOSUCHCOMMAND", "x");
        await rejects(tx.exec(), /EXECABORT Transaction discarded because of previous errors/);
        equal(await redis.get("tx:b"), null);
      });

      await t.step("TXINIT/TXCOMMIT through call(): all or nothing", async () => {
        equal(await redis.set("txi:str", "s"), "OK");
        const failed = await redis.pipeline()
          .call("TXINIT")
          .set("txi:a", "1")
          .hset("txi:str", "f", "v") // WRONGTYPE when run
          .sadd("txi:s", "m")
          .call("TXCOMMIT")
          .exec();
        ok(failed !== null);
        deepEqual(failed.slice(0, 4).map(([error, reply]) => [error, reply]), [
          [null, "OK"],
          [null, "QUEUED"],
          [null, "QUEUED"],
          [null, "QUEUED"],
        ]);
        equal(
          (failed[4][0] as Error | null)?.message,
          "ERR transaction aborted, nothing applied: command 2 (HSET): " +
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        equal(await redis.exists("txi:a", "txi:s"), 0);
        equal(await redis.get("txi:str"), "s");
        const good = await redis.pipeline()
          .call("TXINIT")
          .set("txi:a", "1")
          .sadd("txi:s", "m")
          .call("TXCOMMIT")
          .exec();
        deepEqual(good?.[3], [null, ["OK", 1]]);
        equal(await redis.scard("txi:s"), 1);
        equal(await redis.get("txi:a"), "1");
      });
    } finally {
      await redis.quit();
    }
  });
});

Deno.test("concurrent clients, and a long pipeline beside a short request", async (t) => {
  await withServer([], async ({ port }) => {
    await t.step("8 concurrent clients, each its own keys, one shared set", async () => {
      const clients = await Promise.all(
        Array.from({ length: 8 }, () => connectIoredis(port)),
      );
      try {
        await Promise.all(clients.map(async (client, c) => {
          for (let i = 0; i < 100; i++) {
            equal(await client.set(`c${c}:${i}`, `${c}/${i}`), "OK");
            await client.sadd("shared", `${c}:${i}`);
            equal(await client.get(`c${c}:${i}`), `${c}/${i}`);
          }
          const blob = pseudoRandomBytes(64 * 1024, c + 100);
          const hash = (await client.callBuffer("BPUT", blob) as Buffer).toString();
          ok((await client.callBuffer("BGET", hash) as Buffer).equals(blob));
        }));
        equal(await clients[0].scard("shared"), 800);
        equal(await clients[3].dbsize(), 801);
        equal(await clients[5].call("BCNT"), 8);
      } finally {
        await Promise.all(clients.map((client) => client.quit()));
      }
    });

    await t.step("a second connection is served while the first runs a long pipeline", async () => {
      // The first connection is a plain socket streaming 100,000 SETs as fast
      // as the server takes them (no client library in between); the second
      // is an ioredis client sending one command at a time meanwhile.
      const n = 100_000;
      const request = encodeSets(n);
      const busy = await Deno.connect({ hostname: "127.0.0.1", port });
      const other = await connectIoredis(port);
      const firstReply = Promise.withResolvers<void>();
      let pipelineDone = false;
      const reading = (async () => {
        const expected = new TextEncoder().encode("+OK\r\n");
        const buffer = new Uint8Array(64 * 1024);
        let received = 0;
        while (received < expected.length * n) {
          const count = await busy.read(buffer);
          if (count === null) throw new Error(`Connection closed after ${received} reply bytes`);
          for (let i = 0; i < count; i++) {
            if (buffer[i] !== expected[(received + i) % expected.length]) {
              throw new Error(`Unexpected reply byte at ${received + i}`);
            }
          }
          received += count;
          firstReply.resolve();
        }
        pipelineDone = true;
      })();
      reading.catch(firstReply.reject);
      const writing = (async () => {
        for (let offset = 0; offset < request.length;) {
          offset += await busy.write(request.subarray(offset));
        }
      })();
      try {
        await firstReply.promise; // the pipeline is running
        // Each command of the other connection should wait for one batch of
        // the pipeline at most, not for all of it: a pipeline of 100,000 SETs
        // takes seconds, these ten round trips a few batches.
        for (let i = 0; i < 5; i++) {
          equal(await other.set(`other:${i}`, `o${i}`), "OK");
          equal(await other.get(`other:${i}`), `o${i}`);
        }
        const servedDuring = !pipelineDone;
        await Promise.all([reading, writing]);
        equal(await other.get(`long:${n - 1}`), `v${n - 1}`);
        // A connection that keeps a pipeline coming must not starve the others
        // (regression: reads that complete at once never yielded the event loop).
        ok(servedDuring, "the second connection waited for the whole pipeline of the first");
      } finally {
        busy.close();
        await Promise.allSettled([reading, writing]);
        await other.quit();
      }
    });
  });
});

Deno.test("ioredis: RESP2 client", async () => {
  await withServer([], async ({ port }) => {
    const redis = await connectIoredis(port, { protocol: 2 });
    try {
      const hello = await redis.call("HELLO") as unknown[];
      deepEqual(hello.slice(4, 6), ["proto", 2]);
      equal(await redis.hset("h", "b", "2", "a", "1"), 2);
      deepEqual(await redis.hgetall("h"), { a: "1", b: "2" });
      equal(await redis.set("k", "v"), "OK");
      equal(await redis.get("k"), "v");
    } finally {
      await redis.quit();
    }
  });
});

Deno.test("redis (node-redis): RESP3 and RESP2 clients", async (t) => {
  await withServer([], async ({ port }) => {
    const url = `redis://127.0.0.1:${port}`;
    const errors: unknown[] = [];

    await t.step("RESP3: HELLO 3 handshake, SET/GET, HGETALL as a map", async () => {
      // node-redis 6 speaks RESP3 by default; RESP: 3 makes that explicit.
      const client = createClient({ url, RESP: 3 });
      client.on("error", (error) => errors.push(error));
      await client.connect();
      try {
        const hello = await client.sendCommand(["HELLO"]) as Record<string, unknown>;
        equal(hello.proto, 3, `HELLO without a version keeps RESP3: ${JSON.stringify(hello)}`);
        equal(hello.server, "ddb");
        equal(await client.ping(), "PONG");
        equal(await client.set("k3", "v3"), "OK");
        equal(await client.get("k3"), "v3");
        equal(await client.get("missing"), null);
        equal(await client.hSet("h3", { b: "2", a: "1" }), 2);
        // In RESP3, HGETALL replies with a map (`%2`), as Redis does.
        deepEqual({ ...await client.hGetAll("h3") }, { a: "1", b: "2" });
        deepEqual(await client.sMembers("missing"), []);
        equal(await client.lLen("missing"), 0);
        deepEqual(await client.multi().set("m3", "1").get("m3").exec(), ["OK", "1"]);
      } finally {
        await client.close();
      }
    });

    await t.step("RESP2: HELLO keeps RESP2, SET/GET, HGETALL, MULTI", async () => {
      const client = createClient({ url, RESP: 2 });
      client.on("error", (error) => errors.push(error));
      await client.connect();
      try {
        const hello = await client.sendCommand(["HELLO"]) as unknown[];
        deepEqual(hello.slice(4, 6), ["proto", 2]);
        equal(await client.set("k2", "v2"), "OK");
        equal(await client.get("k2"), "v2");
        equal(await client.get("k3"), "v3");
        equal(await client.hSet("h2", { b: "2", a: "1" }), 2);
        deepEqual({ ...await client.hGetAll("h2") }, { a: "1", b: "2" });
        equal(await client.sAdd("s2", ["z", "a"]), 2);
        deepEqual(await client.sMembers("s2"), ["a", "z"]);
        deepEqual(await client.multi().set("m2", "1").get("m2").exec(), ["OK", "1"]);
        equal(await client.exists(["k2", "h2", "s2", "m2"]), 4);
      } finally {
        await client.close();
      }
    });

    deepEqual(errors, []);
  });
});

Deno.test("redis (node-redis): AUTH with --requirepass", async (t) => {
  await withServer(["--requirepass", "pa ss"], async ({ port }) => {
    await t.step("RESP3 with the password in the URL: HELLO 3 AUTH", async () => {
      const client = createClient({
        url: `redis://default:${encodeURIComponent("pa ss")}@127.0.0.1:${port}`,
        RESP: 3,
      });
      await client.connect();
      try {
        equal(await client.set("k", "v"), "OK");
        equal(await client.get("k"), "v");
      } finally {
        await client.close();
      }
    });

    await t.step("RESP2 with a password option: AUTH", async () => {
      const client = createClient({ url: `redis://127.0.0.1:${port}`, password: "pa ss" });
      await client.connect();
      try {
        equal(await client.get("k"), "v");
      } finally {
        await client.close();
      }
    });

    await t.step("ioredis without a password gets NOAUTH; with a wrong one WRONGPASS", async () => {
      const anonymous = await connectIoredis(port, { protocol: 2, enableReadyCheck: false });
      try {
        await rejects(anonymous.get("k"), /NOAUTH Authentication required\./);
        await rejects(anonymous.auth("wrong"), /WRONGPASS/);
        equal(await anonymous.auth("pa ss"), "OK");
        equal(await anonymous.get("k"), "v");
      } finally {
        await anonymous.quit();
      }
    });
  });
});
