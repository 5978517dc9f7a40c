/**
 * S3 storage URLs:
 *
 * ```text
 * s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true|false&create_bucket=true
 *                      &profile=NAME&max_in_flight=N&timeout_ms=MS]
 * s3://ACCESS_KEY:SECRET_KEY@BUCKET/PREFIX?…   (keys in the URL: discouraged)
 * ```
 *
 * | Parameter       | Default                                                        |
 * | --------------- | -------------------------------------------------------------- |
 * | `endpoint`      | `https://s3.<region>.amazonaws.com`                            |
 * | `region`        | `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`      |
 * | `path_style`    | `true` with an `endpoint`, `false` (virtual-hosted) without    |
 * | `create_bucket` | `false`: a missing bucket is an error                          |
 * | `profile`       | `AWS_PROFILE`, else `default` (see `s3_credentials.ts`)        |
 * | `max_in_flight` | `8` requests at once                                           |
 * | `timeout_ms`    | `60000`: one request, body included                            |
 *
 * @module
 */

import { redactUrl } from "../registry.ts";
import { S3StorageError } from "./s3_errors.ts";

/** Default number of requests in flight at once. */
export const DEFAULT_MAX_IN_FLIGHT = 8;
/** Default timeout of one request, its body included (ms). */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Default region. */
export const DEFAULT_REGION = "us-east-1";

/** Where an S3 storage is and how to talk to it, parsed from its URL. */
export interface S3Location {
  /** The bucket. */
  bucket: string;
  /** The key prefix without leading or trailing `/`; `""` for the bucket's root. */
  prefix: string;
  /** The endpoint's origin, such as `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: string;
  /** The region requests are signed for. */
  region: string;
  /** Path-style (`endpoint/bucket/key`) rather than virtual-hosted (`bucket.endpoint/key`) URLs. */
  pathStyle: boolean;
  /** Create the bucket when it does not exist. */
  createBucket: boolean;
  /** The credentials file profile asked for by the URL, if any. */
  profile?: string;
  /** Requests in flight at once. */
  maxInFlight: number;
  /** Timeout of one request (ms). */
  timeoutMs: number;
  /** Keys given in the URL's userinfo, if any. */
  keys?: { accessKeyId: string; secretAccessKey: string };
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;
const PARAMS = new Set([
  "endpoint",
  "region",
  "path_style",
  "create_bucket",
  "profile",
  "max_in_flight",
  "timeout_ms",
]);

/**
 * Parses an `s3:` storage URL (see the module documentation). `env` reads
 * environment variables (for the default region).
 *
 * @throws {S3StorageError} (permanent) naming what is wrong, with the URL redacted.
 *
 * @example
 * ```ts
 * const location = parseS3Url("s3://backups/ddb/main?endpoint=http://127.0.0.1:7480");
 * // { bucket: "backups", prefix: "ddb/main", endpoint: "http://127.0.0.1:7480",
 * //   region: "us-east-1", pathStyle: true, createBucket: false, maxInFlight: 8, … }
 * ```
 */
export function parseS3Url(
  url: string,
  env: (name: string) => string | undefined = () => undefined,
): S3Location {
  const fail = (reason: string, cause?: unknown) =>
    new S3StorageError(`Cannot open storage "${redactUrl(url)}": ${reason}`, {
      permanent: true,
      cause,
    });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw fail("not a URL", error);
  }
  if (parsed.protocol !== "s3:") throw fail('not an "s3:" URL');
  if (parsed.hash) throw fail("an s3: URL takes no fragment");
  if (parsed.port) throw fail("an s3: URL takes no port: give the endpoint= parameter");
  const bucket = parsed.hostname;
  if (!BUCKET.test(bucket) || bucket.includes("..")) {
    throw fail(
      `invalid bucket name "${bucket}" (3 to 63 of a-z, 0-9, "." and "-", starting and ` +
        "ending with a letter or digit)",
    );
  }

  // The path as written: URL parsing would silently resolve "a/../b" to "b".
  const afterScheme = url.slice(url.indexOf("//") + 2);
  const slash = afterScheme.search(/[/?#]/);
  const rawPath = slash === -1 || afterScheme[slash] !== "/"
    ? ""
    : afterScheme.slice(slash).replace(/[?#].*$/s, "");
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch (error) {
    throw fail("the prefix is not valid percent-encoding", error);
  }
  const prefix = path.replace(/^\/+|\/+$/g, "");
  if (prefix !== "") {
    for (const segment of prefix.split("/")) {
      if (!PREFIX_SEGMENT.test(segment) || segment === "." || segment === "..") {
        throw fail(
          `invalid prefix "${prefix}": segments of A-Z, a-z, 0-9, ".", "_" and "-" ` +
            'separated by single "/" (not "." or "..")',
        );
      }
    }
  }

  let keys: S3Location["keys"];
  if (parsed.username || parsed.password) {
    if (!parsed.username || !parsed.password) {
      throw fail("the URL's userinfo must be ACCESS_KEY:SECRET_KEY, both or neither");
    }
    try {
      keys = {
        accessKeyId: decodeURIComponent(parsed.username),
        secretAccessKey: decodeURIComponent(parsed.password),
      };
    } catch (error) {
      throw fail("the keys in the URL are not valid percent-encoding", error);
    }
  }

  const params = parsed.searchParams;
  for (const name of new Set(params.keys())) {
    if (!PARAMS.has(name)) {
      throw fail(`unknown parameter "${name}" (known: ${[...PARAMS].join(", ")})`);
    }
    if (params.getAll(name).length > 1) throw fail(`parameter "${name}" is given twice`);
  }
  const boolean = (name: string, fallback: boolean): boolean => {
    const value = params.get(name);
    if (value === null) return fallback;
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw fail(`parameter "${name}" must be true or false, not "${value}"`);
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const value = params.get(name);
    if (value === null) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw fail(`parameter "${name}" must be an integer from ${min} to ${max}, not "${value}"`);
    }
    return n;
  };

  const region = params.get("region") || env("AWS_REGION") || env("AWS_DEFAULT_REGION") ||
    DEFAULT_REGION;
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw fail(`invalid region "${region}"`);

  const endpointParam = params.get("endpoint");
  let endpoint = `https://s3.${region}.amazonaws.com`;
  if (endpointParam !== null) {
    let parsedEndpoint: URL;
    try {
      parsedEndpoint = new URL(endpointParam);
    } catch (error) {
      throw fail(`endpoint "${endpointParam}" is not a URL`, error);
    }
    if (parsedEndpoint.protocol !== "http:" && parsedEndpoint.protocol !== "https:") {
      throw fail("the endpoint must be an http: or https: URL");
    }
    if (parsedEndpoint.username || parsedEndpoint.password) {
      throw fail("the endpoint must not hold credentials");
    }
    if (parsedEndpoint.pathname !== "/" || parsedEndpoint.search || parsedEndpoint.hash) {
      throw fail("the endpoint must be a bare origin such as http://127.0.0.1:7480");
    }
    endpoint = parsedEndpoint.origin;
  }

  const profile = params.get("profile") ?? undefined;
  if (profile !== undefined && !/^[A-Za-z0-9._-]+$/.test(profile)) {
    throw fail(`invalid profile name "${profile}"`);
  }
  return {
    bucket,
    prefix,
    endpoint,
    region,
    pathStyle: boolean("path_style", endpointParam !== null),
    createBucket: boolean("create_bucket", false),
    profile,
    maxInFlight: integer("max_in_flight", DEFAULT_MAX_IN_FLIGHT, 1, 1024),
    timeoutMs: integer("timeout_ms", DEFAULT_TIMEOUT_MS, 1, 3_600_000),
    keys,
  };
}

/**
 * The HTTP URL of `key` in the location's bucket (the bucket itself when
 * `key` is empty), with `query` appended. Each key segment is
 * percent-encoded.
 */
export function s3RequestUrl(
  location: S3Location,
  key: string,
  query?: URLSearchParams,
): string {
  const path = key.split("/").map(encodeURIComponent).join("/");
  let base: string;
  if (location.pathStyle) {
    base = `${location.endpoint}/${location.bucket}${key === "" ? "" : `/${path}`}`;
  } else {
    const endpoint = new URL(location.endpoint);
    base = `${endpoint.protocol}//${location.bucket}.${endpoint.host}/${path}`;
  }
  const search = query?.toString();
  return search ? `${base}?${search}` : base;
}
