import assert from "node:assert/strict";
import {
  type CredentialSources,
  parseCredentialsFile,
  resolveS3Credentials,
} from "./s3_credentials.ts";
import { S3CredentialsError } from "./s3_errors.ts";

const FILE = `# shared credentials
[default]
aws_access_key_id = DEFAULTKEY
aws_secret_access_key = default/secret+1

[profile work]
AWS_ACCESS_KEY_ID=WORKKEY
aws_secret_access_key=work-secret
aws_session_token = token==
; comment

[broken]
aws_access_key_id = ONLYKEY
`;

/** Sources reading `vars` and, at `/home/u/.aws/credentials` or as named, `files`. */
function sources(vars: Record<string, string>, files: Record<string, string> = {}) {
  return {
    env: (name: string) => vars[name],
    readTextFile: (path: string) => Promise.resolve(files[path]),
  } satisfies CredentialSources;
}

const what = 'open storage "s3://b/p"';

Deno.test("parseCredentialsFile reads sections, profile headers, comments", () => {
  const sections = parseCredentialsFile(FILE);
  assert.deepEqual([...sections.keys()], ["default", "work", "broken"]);
  assert.deepEqual(sections.get("default"), {
    aws_access_key_id: "DEFAULTKEY",
    aws_secret_access_key: "default/secret+1",
  });
  assert.deepEqual(sections.get("work"), {
    aws_access_key_id: "WORKKEY",
    aws_secret_access_key: "work-secret",
    aws_session_token: "token==",
  });
});

Deno.test("resolveS3Credentials: URL keys, then the environment, then the file", async () => {
  const urlKeys = { accessKeyId: "URLKEY", secretAccessKey: "url-secret" };
  const env = {
    AWS_ACCESS_KEY_ID: "ENVKEY",
    AWS_SECRET_ACCESS_KEY: "env-secret",
    AWS_SESSION_TOKEN: "env-token",
    HOME: "/home/u",
  };
  const files = { "/home/u/.aws/credentials": FILE };
  assert.deepEqual(await resolveS3Credentials(urlKeys, undefined, sources(env, files), what), {
    ...urlKeys,
    source: "the URL",
  });
  assert.deepEqual(await resolveS3Credentials(undefined, undefined, sources(env, files), what), {
    accessKeyId: "ENVKEY",
    secretAccessKey: "env-secret",
    sessionToken: "env-token",
    source: "the environment",
  });
  assert.deepEqual(
    await resolveS3Credentials(undefined, undefined, sources({ HOME: "/home/u" }, files), what),
    {
      accessKeyId: "DEFAULTKEY",
      secretAccessKey: "default/secret+1",
      sessionToken: undefined,
      source: "/home/u/.aws/credentials [default]",
    },
  );
  // AWS_PROFILE picks a section; a profile= in the URL wins and skips the environment's keys.
  const work = await resolveS3Credentials(
    undefined,
    undefined,
    sources({ HOME: "/home/u", AWS_PROFILE: "work" }, files),
    what,
  );
  assert.equal(work.accessKeyId, "WORKKEY");
  assert.equal(work.sessionToken, "token==");
  assert.equal(
    (await resolveS3Credentials(undefined, "work", sources(env, files), what)).accessKeyId,
    "WORKKEY",
  );
  // AWS_SHARED_CREDENTIALS_FILE names another file.
  const other = await resolveS3Credentials(
    undefined,
    undefined,
    sources({ AWS_SHARED_CREDENTIALS_FILE: "/etc/ddb/aws" }, { "/etc/ddb/aws": FILE }),
    what,
  );
  assert.equal(other.source, "/etc/ddb/aws [default]");
});

Deno.test("resolveS3Credentials says what is missing, never a secret", async () => {
  const files = { "/home/u/.aws/credentials": FILE };
  const cases: [Record<string, string>, string | undefined, RegExp][] = [
    [
      { HOME: "/home/u" },
      undefined,
      /^Cannot open storage "s3:\/\/b\/p": no S3 credentials .*found no \/home\/u\/\.aws\/credentials\)$/,
    ],
    [{}, undefined, /HOME is not set/],
    [
      { AWS_ACCESS_KEY_ID: "K" },
      undefined,
      /AWS_SECRET_ACCESS_KEY is not set but AWS_ACCESS_KEY_ID is/,
    ],
    [{ AWS_SECRET_ACCESS_KEY: "hidden" }, undefined, /AWS_ACCESS_KEY_ID is not set/],
    [
      { HOME: "/home/u", AWS_PROFILE: "nope" },
      undefined,
      /no \[nope\] in \/home\/u\/\.aws\/credentials/,
    ],
    [
      { HOME: "/home/u" },
      "broken",
      /\[broken\] in .* lacks aws_access_key_id or aws_secret_access_key/,
    ],
  ];
  for (const [env, profile, pattern] of cases) {
    const homeFiles = env.HOME === "/home/u" && (env.AWS_PROFILE || profile) ? files : {};
    await assert.rejects(
      resolveS3Credentials(undefined, profile, sources(env, homeFiles), what),
      (error: unknown) => {
        assert.ok(error instanceof S3CredentialsError);
        assert.match(error.message, pattern);
        assert.ok(!error.message.includes("hidden"));
        return true;
      },
    );
  }
});
