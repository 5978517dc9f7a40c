import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BlobCorruptError, BlobNotFoundError } from "../blob_storage.ts";
import { blobIdOf } from "../blob_id.ts";
import { runConformanceSuite } from "../_testing/conformance.ts";
import {
  canRunRadosgw,
  listKeys,
  removeKeys,
  s3Request,
  startRadosgw,
  type TestRadosgw,
} from "../../tests/_radosgw.ts";
import { S3_MARKER_KEY, S3Storage } from "./s3_storage.ts";
import { S3BucketNotFoundError, S3CredentialsError, S3StorageError } from "./s3_errors.ts";
import { openStorage } from "../registry.ts";
import { RetryingStorage } from "../retrying_storage.ts";

const encoder = new TextEncoder();
const BUCKET = "ddb-test";

// One cluster for the whole file (it takes seconds to start); stopped by the last test.
const radosgw: TestRadosgw | undefined = canRunRadosgw() ? await startRadosgw() : undefined;

/** Environment variables holding the cluster's keys. */
function envOf(gw: TestRadosgw, more: Record<string, string> = {}) {
  const vars: Record<string, string> = {
    AWS_ACCESS_KEY_ID: gw.accessKey,
    AWS_SECRET_ACCESS_KEY: gw.secretKey,
    ...more,
  };
  return (name: string) => vars[name];
}

/** The storage URL of `prefix` in `bucket` on the cluster. */
function urlOf(gw: TestRadosgw, prefix: string, extra = "", bucket = BUCKET): string {
  return `s3://${bucket}/${prefix}?endpoint=${gw.endpoint}&create_bucket=true${extra}`;
}

/** Sends one request to `path` (`/bucket/key…`); returns the status and body text. */
async function raw(
  gw: TestRadosgw,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Uint8Array<ArrayBuffer> } = {},
): Promise<{ status: number; body: string }> {
  const reply = await s3Request(gw, method, path, init);
  return { status: reply.status, body: reply.text };
}

/** Every key under `prefix` in `bucket`. */
function keysUnder(gw: TestRadosgw, prefix: string, bucket = BUCKET): Promise<string[]> {
  return listKeys(gw, bucket, prefix);
}

/** Deletes every object under `prefix`. */
function removePrefix(gw: TestRadosgw, prefix: string, bucket = BUCKET): Promise<void> {
  return removeKeys(gw, bucket, prefix);
}

let prefixes = 0;

/** Runs `fn` with a storage in a fresh prefix, closed and emptied afterwards. */
async function withStorage(
  gw: TestRadosgw,
  fn: (storage: S3Storage, prefix: string) => Promise<void>,
  extra = "",
): Promise<void> {
  const prefix = `t${++prefixes}`;
  const storage = await S3Storage.open(urlOf(gw, prefix, extra), { env: envOf(gw) });
  try {
    await fn(storage, prefix);
  } finally {
    await storage.close();
    await removePrefix(gw, `${prefix}/`);
  }
}

async function listIds(storage: S3Storage): Promise<string[]> {
  const ids: string[] = [];
  for await (const { id } of storage.list()) ids.push(id);
  return ids.sort();
}

/** The error `promise` rejects with (fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return await promise.then(
    () => assert.fail("expected a rejection"),
    (error: unknown) => error as Error,
  );
}

if (radosgw) {
  const gw = radosgw;

  runConformanceSuite(
    "S3Storage (radosgw)",
    async () => {
      const prefix = `conformance-${++prefixes}`;
      const storage = await S3Storage.open(urlOf(gw, prefix), { env: envOf(gw) });
      return {
        storage,
        cleanup: async () => {
          await storage.close();
          await removePrefix(gw, `${prefix}/`);
        },
      };
    },
    {
      // An unconditional PUT of other bytes of the same length, behind the storage's back.
      corrupt: async (id, storage) => {
        const { prefix } = (storage as S3Storage).location;
        const key = `/${BUCKET}/${prefix}/${id.slice(0, 2)}/${id}`;
        const data = (await s3Request(gw, "GET", key)).body;
        data[data.length >> 1] ^= 0x01;
        const put = await raw(gw, "PUT", key, { body: data });
        assert.equal(put.status, 200, put.body);
      },
    },
  );

  Deno.test("S3Storage lays out blobs as <prefix>/<id[0:2]>/<id> under a marker", async () => {
    await withStorage(gw, async (storage, prefix) => {
      assert.deepEqual(await keysUnder(gw, `${prefix}/`), [`${prefix}/${S3_MARKER_KEY}`]);
      const marker = await raw(gw, "GET", `/${BUCKET}/${prefix}/${S3_MARKER_KEY}`);
      assert.deepEqual(JSON.parse(marker.body), { format: "ddb-s3-blobs", version: 1 });

      const data = encoder.encode("layout");
      const id = blobIdOf(data);
      await storage.put(id, data);
      assert.deepEqual(
        (await keysUnder(gw, `${prefix}/`)).sort(),
        [`${prefix}/${id.slice(0, 2)}/${id}`, `${prefix}/${S3_MARKER_KEY}`],
      );
      const object = await raw(gw, "GET", `/${BUCKET}/${prefix}/${id.slice(0, 2)}/${id}`);
      assert.equal(object.body, "layout");
      assert.equal(storage.location.bucket, BUCKET);
      assert.equal(storage.location.prefix, prefix);
      assert.equal(storage.displayUrl, urlOf(gw, prefix));
    });
  });

  Deno.test("S3Storage lists through many pages and skips foreign keys", async () => {
    await withStorage(gw, async (storage, prefix) => {
      const blobs = Array.from({ length: 50 }, (_, i) => encoder.encode(`page blob ${i}`));
      await Promise.all(blobs.map((data) => storage.put(blobIdOf(data), data)));
      // Keys that are not blobs of this layout: a note, a blob in the wrong shard, a deeper key.
      const stray = blobIdOf(encoder.encode("stray"));
      const wrongShard = stray.startsWith("00") ? "01" : "00";
      for (
        const key of [`notes.txt`, `${wrongShard}/${stray}`, `${stray.slice(0, 2)}/x/${stray}`]
      ) {
        const put = await raw(gw, "PUT", `/${BUCKET}/${prefix}/${key}`, {
          body: encoder.encode("stray"),
        });
        assert.equal(put.status, 200, put.body);
      }
      // 7 keys a page: the 54 keys under the prefix take 8 pages.
      const paged = await S3Storage.open(urlOf(gw, prefix), { env: envOf(gw), listPageSize: 7 });
      try {
        const seen = new Map<string, number>();
        for await (const { id, size } of paged.list()) {
          assert.ok(!seen.has(id), `listed twice: ${id}`);
          seen.set(id, size);
        }
        assert.equal(seen.size, blobs.length);
        for (const data of blobs) assert.equal(seen.get(blobIdOf(data)), data.length);
      } finally {
        await paged.close();
      }
    });
  });

  Deno.test("S3Storage refuses a wrong secret or an unknown access key clearly", async () => {
    const prefix = "credentials";
    const wrongSecret = "wrong-secret-0123456789";
    const error = await rejection(
      S3Storage.open(urlOf(gw, prefix), {
        env: envOf(gw, { AWS_SECRET_ACCESS_KEY: wrongSecret }),
      }),
    );
    assert.ok(error instanceof S3CredentialsError, String(error));
    assert.equal(error.code, "SignatureDoesNotMatch");
    assert.equal(error.permanent, true);
    assert.match(
      error.message,
      /^Cannot open storage "s3:\/\/ddb-test\/credentials\?.*": the secret key is wrong \(HTTP 403 SignatureDoesNotMatch\) \(credentials from the environment\)$/,
    );
    assert.ok(!error.message.includes(wrongSecret), "the secret is not shown");

    const unknown = await rejection(
      S3Storage.open(urlOf(gw, prefix), {
        env: envOf(gw, { AWS_ACCESS_KEY_ID: "NOSUCHKEY" }),
      }),
    );
    assert.ok(unknown instanceof S3CredentialsError);
    assert.equal(unknown.code, "InvalidAccessKeyId");
    assert.match(unknown.message, /the server does not know the access key/);

    // Keys in the URL: redacted in every message.
    const inUrl = `s3://${gw.accessKey}:${wrongSecret}@${BUCKET}/${prefix}?endpoint=${gw.endpoint}`;
    const fromUrl = await rejection(S3Storage.open(inUrl, { env: () => undefined }));
    assert.ok(fromUrl instanceof S3CredentialsError);
    assert.ok(!fromUrl.message.includes(wrongSecret), fromUrl.message);
    assert.match(fromUrl.message, /:\*\*\*@ddb-test/);
    assert.match(fromUrl.message, /credentials from the URL/);

    assert.deepEqual(await keysUnder(gw, `${prefix}/`), [], "nothing was written");
  });

  Deno.test("S3Storage takes keys from the URL or a credentials file profile", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ddb-s3-credentials-" });
    try {
      const file = `${dir}/credentials`;
      await Deno.writeTextFile(
        file,
        `[default]\naws_access_key_id = NOSUCHKEY\naws_secret_access_key = nope\n\n` +
          `[ddb]\naws_access_key_id = ${gw.accessKey}\naws_secret_access_key = ${gw.secretKey}\n`,
      );
      const vars: Record<string, string> = { AWS_SHARED_CREDENTIALS_FILE: file };
      const viaEnvProfile = await S3Storage.open(urlOf(gw, "profile"), {
        env: (name) => ({ ...vars, AWS_PROFILE: "ddb" } as Record<string, string>)[name],
      });
      await viaEnvProfile.close();
      // profile= in the URL wins over the environment's keys.
      const viaUrlProfile = await S3Storage.open(urlOf(gw, "profile", "&profile=ddb"), {
        env: envOf(gw, { ...vars, AWS_ACCESS_KEY_ID: "NOSUCHKEY" }),
      });
      await viaUrlProfile.close();
      const viaDefault = await rejection(
        S3Storage.open(urlOf(gw, "profile"), { env: (name) => vars[name] }),
      );
      assert.ok(viaDefault instanceof S3CredentialsError);
      assert.match(viaDefault.message, /credentials from .*credentials \[default\]/);

      const secret = encodeURIComponent(gw.secretKey);
      const inUrl = await S3Storage.open(
        `s3://${gw.accessKey}:${secret}@${BUCKET}/profile?endpoint=${gw.endpoint}`,
        { env: () => undefined },
      );
      assert.ok(!inUrl.displayUrl.includes(gw.secretKey));
      assert.equal("keys" in inUrl.location, false, "the keys are not kept in sight");
      await inUrl.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await removePrefix(gw, "profile/");
    }
  });

  Deno.test("S3Storage reports a missing bucket unless asked to create it", async () => {
    const url = `s3://ddb-missing-bucket/p?endpoint=${gw.endpoint}`;
    const error = await rejection(S3Storage.open(url, { env: envOf(gw) }));
    assert.ok(error instanceof S3BucketNotFoundError, String(error));
    assert.equal(error.bucket, "ddb-missing-bucket");
    assert.match(error.message, /bucket "ddb-missing-bucket" does not exist .*create_bucket=true/);

    const created = await S3Storage.open(`${url}&create_bucket=true`, { env: envOf(gw) });
    try {
      const data = encoder.encode("in a new bucket");
      await created.put(blobIdOf(data), data);
      assert.deepEqual(await created.get(blobIdOf(data)), data);
    } finally {
      await created.close();
      await removePrefix(gw, "p/", "ddb-missing-bucket");
      assert.equal((await raw(gw, "DELETE", "/ddb-missing-bucket")).status, 204);
    }
  });

  Deno.test("S3Storage refuses a prefix holding other data or another format", async () => {
    try {
      const put = await raw(gw, "PUT", `/${BUCKET}/foreign/photo.jpg`, {
        body: encoder.encode("x"),
      });
      assert.equal(put.status, 200);
      const error = await rejection(S3Storage.open(urlOf(gw, "foreign"), { env: envOf(gw) }));
      assert.ok(error instanceof S3StorageError);
      assert.equal(error.permanent, true);
      assert.match(error.message, /holds objects but no ddb-storage\.json/);
      assert.deepEqual(await keysUnder(gw, "foreign/"), ["foreign/photo.jpg"]);

      await raw(gw, "PUT", `/${BUCKET}/other/${S3_MARKER_KEY}`, {
        body: encoder.encode('{"format":"ddb-s3-blobs","version":9}'),
      });
      const version = await rejection(S3Storage.open(urlOf(gw, "other"), { env: envOf(gw) }));
      assert.match(version.message, /has version 9; this ddb reads version 1/);
    } finally {
      await removePrefix(gw, "foreign/");
      await removePrefix(gw, "other/");
    }
  });

  Deno.test("S3Storage: a put replaces an object of the wrong size, ranges read parts", async () => {
    await withStorage(gw, async (storage, prefix) => {
      const data = encoder.encode("a blob that loses its tail");
      const id = blobIdOf(data);
      await storage.put(id, data);
      const key = `/${BUCKET}/${prefix}/${id.slice(0, 2)}/${id}`;
      await raw(gw, "PUT", key, { body: data.slice(0, 10) });
      await assert.rejects(storage.get(id), BlobCorruptError);
      await assert.rejects(storage.getRange(id, 5, 10), BlobCorruptError);
      await storage.put(id, data);
      assert.deepEqual(await storage.get(id), data);
      assert.deepEqual(await storage.getRange(id, 2, 4), data.subarray(2, 6));
      assert.deepEqual(await storage.getRange(id, data.length, 0), new Uint8Array(0));
      await assert.rejects(storage.getRange(id, data.length + 1, 0), BlobCorruptError);
      await assert.rejects(storage.getRange(blobIdOf(data.subarray(1)), 0, 0), BlobNotFoundError);
    });
  });

  Deno.test("radosgw rejects a put whose body does not match its digests", async () => {
    // What makes puts safe from torn or damaged uploads: the server checks both headers.
    const sent = encoder.encode("the bytes that were meant");
    const arrived = encoder.encode("the bytes that arrived!!");
    const md5 = createHash("md5").update(sent).digest("base64");
    const sha = createHash("sha256").update(sent).digest("hex");
    const byMd5 = await raw(gw, "PUT", `/${BUCKET}/torn/a`, {
      headers: { "content-md5": md5 },
      body: arrived,
    });
    assert.equal(byMd5.status, 400);
    assert.match(byMd5.body, /BadDigest/);
    const bySha = await raw(gw, "PUT", `/${BUCKET}/torn/b`, {
      headers: { "x-amz-content-sha256": sha },
      body: arrived,
    });
    assert.equal(bySha.status, 400);
    assert.match(bySha.body, /XAmzContentSHA256Mismatch/);
    assert.deepEqual(await keysUnder(gw, "torn/"), []);
  });

  Deno.test("S3Storage bounds requests in flight and refuses calls after close", async () => {
    await withStorage(gw, async (storage) => {
      assert.equal(storage.location.maxInFlight, 2);
      const blobs = Array.from({ length: 20 }, (_, i) => encoder.encode(`in flight ${i}`));
      await Promise.all(blobs.map((data) => storage.put(blobIdOf(data), data)));
      assert.equal((await listIds(storage)).length, 20);
      await storage.close();
      const error = await rejection(storage.get(blobIdOf(blobs[0])));
      assert.ok(error instanceof S3StorageError);
      assert.match(error.message, /it is closed/);
    }, "&max_in_flight=2");
  });

  Deno.test("openStorage opens an s3: URL as a retrying S3Storage", async () => {
    // openStorage reads the keys from the process environment.
    const saved = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((n) => [n, Deno.env.get(n)]);
    Deno.env.set("AWS_ACCESS_KEY_ID", gw.accessKey);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", gw.secretKey);
    try {
      const storage = await openStorage(urlOf(gw, "registry"));
      try {
        assert.ok(storage instanceof RetryingStorage);
        assert.equal(storage.displayUrl, urlOf(gw, "registry"));
        const data = encoder.encode("via the registry");
        await storage.put(blobIdOf(data), data);
        assert.deepEqual(await storage.get(blobIdOf(data)), data);
      } finally {
        await storage.close();
      }
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) Deno.env.delete(name!);
        else Deno.env.set(name!, value);
      }
      await removePrefix(gw, "registry/");
    }
  });

  Deno.test({
    name: "stop radosgw",
    // The cluster was started at module load, outside any test: its processes
    // and their status ops end here.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await gw.stop();
    },
  });
}

Deno.test("S3Storage times out a server that never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const url = `s3://silent/p?endpoint=http://127.0.0.1:${port}&timeout_ms=300`;
    const error = await rejection(
      S3Storage.open(url, {
        env: (name) => ({ AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b" })[name],
      }),
    );
    assert.ok(error instanceof S3StorageError, String(error));
    assert.equal(error.permanent, false, "a timeout may pass on retry");
    assert.match(error.message, /^Cannot open storage ".*": no complete reply within 300 ms$/);
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

Deno.test("S3Storage names missing credentials without asking the server", async () => {
  const error = await rejection(
    S3Storage.open("s3://bucket/p?endpoint=http://127.0.0.1:9", {
      env: (name) => ({ HOME: "/nonexistent" } as Record<string, string>)[name],
    }),
  );
  assert.ok(error instanceof S3CredentialsError);
  assert.match(error.message, /no S3 credentials .*no \/nonexistent\/\.aws\/credentials/);
});

Deno.test("openStorage refuses a bad s3: URL at once, without its secret", async () => {
  const error = await rejection(openStorage("s3://AKID:hunter2@bucket/prefix?regoin=eu-west-1"));
  assert.ok(error instanceof S3StorageError, String(error));
  assert.equal(error.permanent, true, "not retried");
  assert.match(
    error.message,
    /^Cannot open storage "s3:\/\/AKID:\*\*\*@bucket\/prefix\?regoin=eu-west-1": unknown parameter "regoin"/,
  );
  assert.ok(!error.message.includes("hunter2"));
});
