/**
 * Where the keys of an S3 storage come from, first found wins:
 *
 * 1. the URL's userinfo, `s3://ACCESS_KEY:SECRET_KEY@bucket/…` (percent-encode
 *    `/` and `+` in the secret; discouraged: the URL sits in a config file);
 * 2. unless the URL has a `profile=` parameter: the environment variables
 *    `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, with
 *    `AWS_SESSION_TOKEN` for temporary credentials;
 * 3. the shared credentials file, `AWS_SHARED_CREDENTIALS_FILE` or else
 *    `~/.aws/credentials`, section `[PROFILE]` where PROFILE is the URL's
 *    `profile=`, else `AWS_PROFILE`, else `default`; keys
 *    `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`.
 *
 * Instance roles, SSO and `credential_process` are not supported.
 *
 * @module
 */

import { S3CredentialsError } from "./s3_errors.ts";

/** Keys to sign S3 requests with. */
export interface S3Credentials {
  /** The access key id. */
  accessKeyId: string;
  /** The secret access key. Never print it. */
  secretAccessKey: string;
  /** The session token of temporary credentials. Never print it. */
  sessionToken?: string;
  /** Where they were found, for messages: `the URL`, `the environment`, `/root/.aws/credentials [default]`. */
  source: string;
}

/** What {@linkcode resolveS3Credentials} may read. */
export interface CredentialSources {
  /** An environment variable, or undefined when unset. */
  env(name: string): string | undefined;
  /** A text file's content, or undefined when it does not exist. */
  readTextFile(path: string): Promise<string | undefined>;
}

/**
 * Parses an AWS shared credentials file (INI): section name → its
 * `key = value` pairs. Comments (`#`, `;`) and blank lines are skipped; keys
 * are lowercased; a `[profile NAME]` header is read as `[NAME]`.
 *
 * @example
 * ```ts
 * parseCredentialsFile("[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n")
 *   .get("default"); // { aws_access_key_id: "AK", aws_secret_access_key: "SK" }
 * ```
 */
export function parseCredentialsFile(text: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]*?)\s*\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]) ?? {};
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (eq === -1 || current === undefined) continue;
    current[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return sections;
}

/**
 * Finds the credentials (see the module documentation). `urlKeys` and
 * `urlProfile` come from the storage URL; `what` names the storage in
 * messages (`open storage "s3://…"`).
 *
 * @throws {S3CredentialsError} when none are found or they are incomplete;
 * the message says where it looked, never a secret.
 */
export async function resolveS3Credentials(
  urlKeys: { accessKeyId: string; secretAccessKey: string } | undefined,
  urlProfile: string | undefined,
  sources: CredentialSources,
  what: string,
): Promise<S3Credentials> {
  if (urlKeys) return { ...urlKeys, source: "the URL" };
  if (urlProfile === undefined) {
    const accessKeyId = sources.env("AWS_ACCESS_KEY_ID");
    const secretAccessKey = sources.env("AWS_SECRET_ACCESS_KEY");
    if (accessKeyId && secretAccessKey) {
      const sessionToken = sources.env("AWS_SESSION_TOKEN") || undefined;
      return { accessKeyId, secretAccessKey, sessionToken, source: "the environment" };
    }
    if (accessKeyId || secretAccessKey) {
      throw new S3CredentialsError(
        `Cannot ${what}: ${accessKeyId ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"} is ` +
          `not set but ${accessKeyId ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"} is`,
      );
    }
  }
  const profile = urlProfile ?? (sources.env("AWS_PROFILE") || "default");
  const home = sources.env("HOME") ?? sources.env("USERPROFILE");
  const path = sources.env("AWS_SHARED_CREDENTIALS_FILE") ||
    (home ? `${home}/.aws/credentials` : undefined);
  const text = path === undefined ? undefined : await sources.readTextFile(path);
  const section = text === undefined ? undefined : parseCredentialsFile(text).get(profile);
  if (section === undefined) {
    const looked = path === undefined
      ? "no credentials file (HOME is not set)"
      : text === undefined
      ? `no ${path}`
      : `no [${profile}] in ${path}`;
    throw new S3CredentialsError(
      `Cannot ${what}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
        `or a profile in ~/.aws/credentials; found ${looked})`,
    );
  }
  const accessKeyId = section.aws_access_key_id;
  const secretAccessKey = section.aws_secret_access_key;
  if (!accessKeyId || !secretAccessKey) {
    throw new S3CredentialsError(
      `Cannot ${what}: [${profile}] in ${path} lacks aws_access_key_id or aws_secret_access_key`,
    );
  }
  return {
    accessKeyId,
    secretAccessKey,
    sessionToken: section.aws_session_token || undefined,
    source: `${path} [${profile}]`,
  };
}
