import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BlobCorruptError,
  type BlobInfo,
  BlobNotFoundError,
  type BlobStorage,
  InvalidBlobIdError,
} from "./blob_storage.ts";
import { blobIdOf } from "./blob_id.ts";
import { LocalStorage } from "./local/local_storage.ts";
import { runConformanceSuite } from "./_testing/conformance.ts";
import {
  backoffDelay,
  isTransientError,
  RetriesExhaustedError,
  type RetryEvent,
  RetryingStorage,
} from "./retrying_storage.ts";
import { SftpAuthError, SftpConnectionError } from "./sftp/sftp_errors.ts";

const encoder = new TextEncoder();

/**
 * A real LocalStorage whose calls fail while `failures` says so: it is asked
 * before each call with the operation name and returns the error to throw, if
 * any. `list` also asks before each blob it yields (operation `list-item`).
 */
class FlakyStorage implements BlobStorage {
  readonly inner: LocalStorage;
  readonly displayUrl: string;
  readonly calls: string[] = [];
  failures: (operation: string) => Error | undefined;

  constructor(inner: LocalStorage, failures: (operation: string) => Error | undefined) {
    this.inner = inner;
    this.displayUrl = inner.displayUrl;
    this.failures = failures;
  }

  #check(operation: string): void {
    this.calls.push(operation);
    const error = this.failures(operation);
    if (error) throw error;
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    this.#check("put");
    await this.inner.put(id, data);
  }

  async get(id: string): Promise<Uint8Array> {
    this.#check("get");
    return await this.inner.get(id);
  }

  async has(id: string): Promise<boolean> {
    this.#check("has");
    return await this.inner.has(id);
  }

  async delete(id: string): Promise<void> {
    this.#check("delete");
    await this.inner.delete(id);
  }

  async *list(): AsyncGenerator<BlobInfo> {
    this.#check("list");
    for await (const info of this.inner.list()) {
      this.#check("list-item");
      yield info;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Fails the first `count` calls of `operation` with `make()`. */
function failFirst(operation: string, count: number, make: () => Error) {
  let seen = 0;
  return (op: string) => op === operation && seen++ < count ? make() : undefined;
}

/** A fake clock: records the delays instead of waiting. */
function fakeSleep(): { sleeps: number[]; sleep: (ms: number) => Promise<void> } {
  const sleeps: number[] = [];
  return { sleeps, sleep: (ms) => (sleeps.push(ms), Promise.resolve()) };
}

const transient = () => new SftpConnectionError("connection lost");

runConformanceSuite("RetryingStorage", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-retrying-storage-conformance-" });
  const storage = new RetryingStorage(await LocalStorage.open(dir));
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

async function withFlaky(
  fn: (flaky: FlakyStorage, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-retrying-storage-test-" });
  const flaky = new FlakyStorage(await LocalStorage.open(dir), () => undefined);
  try {
    await fn(flaky, dir);
  } finally {
    await flaky.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("RetryingStorage retries transient failures with growing, jittered delays", async () => {
  await withFlaky(async (flaky) => {
    const { sleeps, sleep } = fakeSleep();
    const events: RetryEvent[] = [];
    const storage = new RetryingStorage(flaky, {
      sleep,
      random: () => 0.5,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      onRetry: (event) => events.push(event),
    });
    assert.equal(storage.displayUrl, flaky.displayUrl);
    const data = encoder.encode("retried");
    const id = blobIdOf(data);
    flaky.failures = failFirst("put", 3, transient);
    await storage.put(id, data);
    assert.deepEqual(flaky.calls, ["put", "put", "put", "put"]);
    // Half of 100, 200, 400 plus half of the other half.
    assert.deepEqual(sleeps, [75, 150, 300]);
    assert.deepEqual(events.map((e) => [e.operation, e.attempt, e.delayMs]), [
      ["put", 1, 75],
      ["put", 2, 150],
      ["put", 3, 300],
    ]);
    assert.ok(events.every((e) => e.error instanceof SftpConnectionError));

    flaky.failures = failFirst("get", 1, transient);
    assert.deepEqual(await storage.get(id), data);
    flaky.failures = failFirst("get", 1, transient);
    assert.deepEqual(await storage.getRange(id, 2, 3), data.subarray(2, 5));
    await assert.rejects(storage.getRange(id, 5, 3), BlobCorruptError);
    flaky.failures = failFirst("has", 2, () => new Error("EOF"));
    assert.equal(await storage.has(id), true);
    flaky.failures = failFirst("delete", 1, () => new Deno.errors.ConnectionReset("reset"));
    await storage.delete(id);
    assert.equal(await flaky.inner.has(id), false);
  });
});

Deno.test("RetryingStorage gives up after its attempts, saying how many, with the cause", async () => {
  await withFlaky(async (flaky) => {
    const { sleeps, sleep } = fakeSleep();
    const storage = new RetryingStorage(flaky, { sleep, attempts: 4, random: () => 0 });
    let n = 0;
    flaky.failures = () => new SftpConnectionError(`timeout ${++n}`);
    const id = blobIdOf(encoder.encode("never"));
    await assert.rejects(storage.get(id), (error: unknown) => {
      assert.ok(error instanceof RetriesExhaustedError);
      assert.equal(error.name, "RetriesExhaustedError");
      assert.equal(error.attempts, 4);
      assert.equal(error.operation, "get");
      assert.ok(error.cause instanceof SftpConnectionError);
      assert.equal((error.cause as Error).message, "timeout 4");
      assert.equal(
        error.message,
        `Cannot get blob "${id}" from storage "${flaky.displayUrl}": 4 attempts failed; ` +
          "the last with: timeout 4",
      );
      return true;
    });
    assert.equal(flaky.calls.length, 4);
    assert.deepEqual(sleeps, [100, 200, 400]);

    const once = new RetryingStorage(flaky, { sleep, attempts: 1 });
    await assert.rejects(once.has(id), /: 1 attempt failed; the last with: timeout 5$/);
  });
});

Deno.test("RetryingStorage never retries the contract's answers or permanent errors", async () => {
  await withFlaky(async (flaky, dir) => {
    const { sleeps, sleep } = fakeSleep();
    const storage = new RetryingStorage(flaky, { sleep });
    const missing = blobIdOf(encoder.encode("missing"));
    await assert.rejects(storage.get(missing), BlobNotFoundError);
    await assert.rejects(storage.get("../../etc/passwd"), InvalidBlobIdError);
    await assert.rejects(storage.put(missing, encoder.encode("not it")), BlobCorruptError);

    const data = encoder.encode("to be damaged");
    const id = blobIdOf(data);
    await storage.put(id, data);
    const path = join(dir, id.slice(0, 2), id);
    await Deno.chmod(path, 0o644);
    await Deno.writeFile(path, encoder.encode("to be dAmaged"));
    await assert.rejects(storage.get(id), BlobCorruptError);

    const auth = new SftpAuthError('Cannot connect to storage "sftp://h/x": login refused');
    flaky.failures = () => auth;
    await assert.rejects(storage.has(id), (error: unknown) => error === auth);
    flaky.failures = () => new Deno.errors.PermissionDenied("read-only file system");
    await assert.rejects(storage.delete(id), Deno.errors.PermissionDenied);
    // A transient error then a permanent one: the permanent one, as it is.
    let calls = 0;
    flaky.failures = () => ++calls === 1 ? transient() : auth;
    await assert.rejects(storage.get(id), (error: unknown) => error === auth);

    assert.equal(sleeps.length, 1, "only the transient error was retried");
    assert.equal(
      flaky.calls.filter((c) => c === "get").length,
      5,
      "missing, invalid, corrupt, then transient + auth",
    );
  });
});

Deno.test("RetryingStorage retries list only until the first blob", async () => {
  await withFlaky(async (flaky) => {
    const { sleeps, sleep } = fakeSleep();
    const storage = new RetryingStorage(flaky, { sleep });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const data = encoder.encode(`blob ${i}`);
      ids.push(blobIdOf(data));
      await flaky.inner.put(blobIdOf(data), data);
    }
    flaky.failures = failFirst("list", 2, transient);
    const seen: string[] = [];
    for await (const { id } of storage.list()) seen.push(id);
    assert.deepEqual(seen.sort(), ids.sort());
    assert.equal(sleeps.length, 2);

    // A failure before the first blob is retried too.
    flaky.failures = failFirst("list-item", 1, transient);
    const again: string[] = [];
    for await (const { id } of storage.list()) again.push(id);
    assert.deepEqual(again.sort(), ids.sort());
    assert.equal(sleeps.length, 3);

    // A failure after the first blob passes through: a restart would repeat blobs.
    let items = 0;
    flaky.failures = (op) => op === "list-item" && ++items === 2 ? transient() : undefined;
    const partial: string[] = [];
    await assert.rejects(async () => {
      for await (const { id } of storage.list()) partial.push(id);
    }, SftpConnectionError);
    assert.equal(partial.length, 1);
    assert.equal(sleeps.length, 3);
  });
});

Deno.test("RetryingStorage waits with a real timer by default", async () => {
  await withFlaky(async (flaky) => {
    const storage = new RetryingStorage(flaky, { baseDelayMs: 1 });
    flaky.failures = failFirst("has", 2, transient);
    assert.equal(await storage.has(blobIdOf(encoder.encode("x"))), false);
    assert.equal(flaky.calls.length, 3);
  });
});

Deno.test("backoffDelay doubles up to the cap; isTransientError sorts errors", () => {
  const delays = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 200, 3000, () => 0));
  assert.deepEqual(delays, [100, 200, 400, 800, 1500, 1500]);
  assert.equal(backoffDelay(3, 200, 3000, () => 0.999999), 800);

  assert.equal(isTransientError(new Error("socket hang up")), true);
  assert.equal(isTransientError(new SftpConnectionError("lost")), true);
  assert.equal(isTransientError(new Deno.errors.ConnectionRefused("refused")), true);
  assert.equal(isTransientError(new SftpAuthError("no")), false);
  assert.equal(isTransientError(Object.assign(new Error("gone"), { permanent: true })), false);
  assert.equal(isTransientError(new BlobNotFoundError("a".repeat(64))), false);
  assert.equal(isTransientError(new InvalidBlobIdError("x")), false);
  assert.equal(isTransientError(new TypeError("bug")), false);
});
