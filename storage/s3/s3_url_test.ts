import assert from "node:assert/strict";
import { DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_MS, parseS3Url, s3RequestUrl } from "./s3_url.ts";
import { S3StorageError } from "./s3_errors.ts";

Deno.test("parseS3Url reads a local endpoint URL with path-style default", () => {
  const location = parseS3Url(
    "s3://backups/ddb/main/?endpoint=http://127.0.0.1:7480&region=eu-west-3&max_in_flight=16",
  );
  assert.deepEqual(location, {
    bucket: "backups",
    prefix: "ddb/main",
    endpoint: "http://127.0.0.1:7480",
    region: "eu-west-3",
    pathStyle: true,
    createBucket: false,
    profile: undefined,
    maxInFlight: 16,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    keys: undefined,
  });
  assert.equal(
    s3RequestUrl(location, "ddb/main/ab/abcd"),
    "http://127.0.0.1:7480/backups/ddb/main/ab/abcd",
  );
  assert.equal(
    s3RequestUrl(location, "", new URLSearchParams({ "list-type": "2", prefix: "ddb/main/" })),
    "http://127.0.0.1:7480/backups?list-type=2&prefix=ddb%2Fmain%2F",
  );
});

Deno.test("parseS3Url defaults to AWS, virtual-hosted, region from the environment", () => {
  const env: Record<string, string> = { AWS_DEFAULT_REGION: "ap-south-1" };
  const location = parseS3Url("s3://my.bucket-1", (name) => env[name]);
  assert.equal(location.prefix, "");
  assert.equal(location.region, "ap-south-1");
  assert.equal(location.endpoint, "https://s3.ap-south-1.amazonaws.com");
  assert.equal(location.pathStyle, false);
  assert.equal(location.maxInFlight, DEFAULT_MAX_IN_FLIGHT);
  assert.equal(
    s3RequestUrl(location, "ab/cd"),
    "https://my.bucket-1.s3.ap-south-1.amazonaws.com/ab/cd",
  );
  assert.equal(s3RequestUrl(location, ""), "https://my.bucket-1.s3.ap-south-1.amazonaws.com/");
  // AWS_REGION wins over AWS_DEFAULT_REGION, the URL over both.
  env.AWS_REGION = "eu-north-1";
  assert.equal(parseS3Url("s3://bucket", (name) => env[name]).region, "eu-north-1");
  assert.equal(parseS3Url("s3://bucket?region=us-west-2", (name) => env[name]).region, "us-west-2");
  assert.equal(parseS3Url("s3://bucket").region, "us-east-1");
});

Deno.test("parseS3Url reads keys from the userinfo and the boolean and numeric options", () => {
  const location = parseS3Url(
    "s3://AKID:se%2Fcr%2Bet@bucket/p?endpoint=https://minio.example:9000&path_style=false" +
      "&create_bucket=1&profile=work&timeout_ms=5000",
  );
  assert.deepEqual(location.keys, { accessKeyId: "AKID", secretAccessKey: "se/cr+et" });
  assert.equal(location.pathStyle, false);
  assert.equal(location.createBucket, true);
  assert.equal(location.profile, "work");
  assert.equal(location.timeoutMs, 5000);
  assert.equal(s3RequestUrl(location, "p/x"), "https://bucket.minio.example:9000/p/x");
});

Deno.test("parseS3Url refuses bad URLs with a redacted message", () => {
  const cases: [string, RegExp][] = [
    ["s3://AB/p", /invalid bucket name "AB"/],
    ["s3://ab/p", /invalid bucket name "ab"/],
    ["s3://bucket_1/p", /invalid bucket name/],
    ["s3://bucket:9000/p", /no port: give the endpoint= parameter/],
    ["s3://bucket/a//b", /invalid prefix "a\/\/b"/],
    ["s3://bucket/a/../b", /invalid prefix/],
    ["s3://bucket/a%20b", /invalid prefix "a b"/],
    ["s3://bucket/p?endpoint=ftp://host", /must be an http: or https: URL/],
    ["s3://bucket/p?endpoint=http://u:pw@host", /must not hold credentials/],
    ["s3://bucket/p?endpoint=http://host/path", /bare origin/],
    ["s3://bucket/p?endpoint=nope", /endpoint "nope" is not a URL/],
    ["s3://bucket/p?regoin=eu-west-1", /unknown parameter "regoin"/],
    ["s3://bucket/p?region=a&region=b", /"region" is given twice/],
    ["s3://bucket/p?path_style=yes", /"path_style" must be true or false/],
    ["s3://bucket/p?max_in_flight=0", /"max_in_flight" must be an integer from 1 to 1024/],
    ["s3://bucket/p?timeout_ms=1.5", /"timeout_ms" must be an integer/],
    ["s3://bucket/p?region=EU", /invalid region "EU"/],
    ["s3://AKID@bucket/p", /both or neither/],
    ["s3://bucket/p#frag", /no fragment/],
    ["http://bucket/p", /not an "s3:" URL/],
  ];
  for (const [url, pattern] of cases) {
    assert.throws(() => parseS3Url(url), (error: unknown) => {
      assert.ok(error instanceof S3StorageError, `${url}: ${error}`);
      assert.equal(error.permanent, true);
      assert.match(error.message, /^Cannot open storage "/);
      assert.match(error.message, pattern, url);
      return true;
    });
  }
  assert.throws(
    () => parseS3Url("s3://AKID:topsecret@bucket/p?regoin=x"),
    (error: unknown) =>
      error instanceof S3StorageError && !error.message.includes("topsecret") &&
      error.message.includes("AKID:***@bucket"),
  );
});
