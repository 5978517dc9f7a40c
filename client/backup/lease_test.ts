import assert from "node:assert/strict";
import { startServer, type TestServer } from "../../tests/_server.ts";
import { asArray, RespClient } from "../remote/resp_client.ts";
import { BackupLease, LeaseLostError, LeaseWaitTimeoutError } from "./lease.ts";

async function withServer(
  fn: (server: TestServer, conn: RespClient, raw: RespClient) => Promise<void>,
) {
  const server = await startServer();
  const options = { hostname: "127.0.0.1", port: server.port };
  const conn = await RespClient.connect(options);
  const raw = await RespClient.connect(options);
  try {
    await fn(server, conn, raw);
  } finally {
    await conn.closed();
    await raw.closed();
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("BackupLease: held while the backup runs, confirmed, released", async () => {
  await withServer(async (_server, conn, raw) => {
    const lease = await BackupLease.acquire(conn, "b1", { renewEveryMs: 10 });
    await assert.rejects(raw.call("LEASE", "ACQUIRE", "gc", "g", "1000"), /backup lease "b1"/);
    await sleep(30);
    await lease.confirm();
    await lease.release();
    assert.deepEqual(asArray(await raw.call("LEASE", "LIST")), []);
    await raw.call("LEASE", "ACQUIRE", "gc", "g", "1000");
  });
});

Deno.test("BackupLease: waits while a gc holds the database, says so once", async () => {
  await withServer(async (_server, conn, raw) => {
    await raw.call("LEASE", "ACQUIRE", "gc", "g", "300");
    const told: string[] = [];
    const lease = await BackupLease.acquire(conn, "b1", {
      retryEveryMs: 20,
      onWait: (message) => told.push(message),
    });
    assert.equal(told.length, 1);
    assert.match(told[0], /^waiting for a garbage collection to end: .*gc lease "g" until/);
    await lease.release();

    await raw.call("LEASE", "ACQUIRE", "gc", "g2", "60000");
    await assert.rejects(
      BackupLease.acquire(conn, "b2", { retryEveryMs: 10, maxWaitMs: 50 }),
      (error: unknown) =>
        error instanceof LeaseWaitTimeoutError &&
        /Cannot start the backup: a garbage collection held the database/.test(error.message) &&
        /gc lease "g2"/.test(error.message),
    );
  });
});

Deno.test("BackupLease: a lease that expired is confirmed unless a gc took the database", async () => {
  await withServer(async (_server, conn, raw) => {
    const stalled = await BackupLease.acquire(conn, "stalled", { ttlMs: 1, renewEveryMs: 60_000 });
    await sleep(20);
    await stalled.confirm();
    await stalled.release();

    const lost = await BackupLease.acquire(conn, "lost", { ttlMs: 1, renewEveryMs: 60_000 });
    await sleep(20);
    await raw.call("LEASE", "ACQUIRE", "gc", "g", "1000");
    await raw.call("LEASE", "RELEASE", "g");
    await assert.rejects(
      lost.confirm(),
      (error: unknown) =>
        error instanceof LeaseLostError &&
        /Cannot commit the snapshot: the backup lease was lost/.test(error.message),
    );
    await lost.release();
  });
});
