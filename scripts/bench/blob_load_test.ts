import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { RequestDecoder } from "../../server/resp/decode.ts";
import { encodeCommand } from "./resp_command.ts";
import { BlobLoadError, runBlobLoad } from "./blob_load.ts";
import { respCall } from "./resp_call.ts";

/** A fake server: answers BPUT with the content's hash (or `reply`), records what it saw. */
function fakeServer(reply?: (content: Uint8Array) => Uint8Array) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hashes: string[] = [];
  let maxInFlight = 0;
  const serving = (async () => {
    const handlers: Promise<void>[] = [];
    for await (const conn of listener) {
      handlers.push((async () => {
        const decoder = new RequestDecoder();
        const buffer = new Uint8Array(64 * 1024);
        try {
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            decoder.push(buffer.subarray(0, n));
            const out: Uint8Array[] = [];
            for (let args = decoder.next(); args !== undefined; args = decoder.next()) {
              const name = new TextDecoder().decode(args[0]);
              const hash = createHash("sha256").update(args[1] ?? new Uint8Array()).digest("hex");
              if (name === "BPUT") hashes.push(hash);
              out.push(
                reply?.(args[1]) ??
                  new TextEncoder().encode(name === "PING" ? "+PONG\r\n" : `$64\r\n${hash}\r\n`),
              );
            }
            maxInFlight = Math.max(maxInFlight, out.length);
            for (const bytes of out) await conn.write(bytes);
          }
        } catch {
          // The client closed the connection.
        } finally {
          conn.close();
        }
      })());
    }
    await Promise.all(handlers);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    hashes,
    maxInFlight: () => maxInFlight,
    async close() {
      listener.close();
      await serving;
    },
  };
}

Deno.test("runBlobLoad sends distinct blobs over several connections and counts bytes", async () => {
  const server = fakeServer();
  try {
    const result = await runBlobLoad({
      port: server.port,
      size: 100_000,
      count: 37,
      connections: 3,
      depth: 4,
      timeoutMs: 10_000,
    });
    assert.equal(result.requests, 37);
    assert.equal(result.bytes, 3_700_000);
    assert.ok(result.mbPerSecond > 0 && result.seconds > 0);
    assert.equal(server.hashes.length, 37);
    assert.equal(new Set(server.hashes).size, 37);
    assert.ok(server.maxInFlight() <= 4);
  } finally {
    await server.close();
  }
});

Deno.test("runBlobLoad repeats content for equal blob numbers and honours a duration", async () => {
  const server = fakeServer();
  try {
    const result = await runBlobLoad({
      port: server.port,
      size: 64,
      durationMs: 300,
      connections: 2,
      depth: 1,
      ratePerSecond: 50,
      blobNumber: (i) => i % 3,
      timeoutMs: 10_000,
    });
    assert.ok(result.requests >= 10 && result.requests <= 15, `${result.requests} requests`);
    assert.equal(new Set(server.hashes).size, 3);
  } finally {
    await server.close();
  }
});

Deno.test("runBlobLoad fails on an error reply or a wrong hash", async () => {
  for (
    const [reply, message] of [
      ["-ERR disk full\r\n", /BPUT failed: ERR disk full/],
      [`$64\r\n${"0".repeat(64)}\r\n`, /expected [0-9a-f]{64}/],
      [":1\r\n", /BPUT replied/],
    ] as const
  ) {
    const server = fakeServer(() => new TextEncoder().encode(reply));
    try {
      await assert.rejects(
        runBlobLoad({
          port: server.port,
          size: 64,
          count: 5,
          connections: 2,
          depth: 2,
          timeoutMs: 5000,
        }),
        (error: Error) => error instanceof BlobLoadError && message.test(error.message),
      );
    } finally {
      await server.close();
    }
  }
});

Deno.test("runBlobLoad needs a bound and a payload that holds the stamp", async () => {
  const base = { port: 1, connections: 1, depth: 1, timeoutMs: 1000 };
  await assert.rejects(runBlobLoad({ ...base, size: 64 }), /neither a count nor a duration/);
  await assert.rejects(runBlobLoad({ ...base, size: 4, count: 1 }), /size 4 under 8/);
});

Deno.test("respCall sends one command and returns its reply", async () => {
  const server = fakeServer();
  try {
    assert.deepEqual(await respCall(server.port, ["PING"]), { kind: "simple", value: "PONG" });
    const content = encodeCommand(["x"]);
    const hash = createHash("sha256").update(content).digest("hex");
    const reply = await respCall(server.port, ["BPUT", content]);
    assert.deepEqual(reply, { kind: "bulk", value: new TextEncoder().encode(hash) });
  } finally {
    await server.close();
  }
  await assert.rejects(respCall(server.port, ["PING"], 1000), /Cannot call "PING" on port/);
});
