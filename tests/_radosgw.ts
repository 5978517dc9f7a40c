/**
 * A throwaway Ceph cluster serving S3 for tests: one monitor, one OSD keeping
 * its objects in RAM (`memstore`) and one radosgw (the Ceph S3 gateway), all
 * on 127.0.0.1 with free ports, no cephx authentication, msgr v1 only, and
 * every file (config, monitor store, logs, sockets) in one temp directory.
 *
 * Ready in about 3 s (the monitor commits changes at once rather than every
 * second) and needs about 1 GB of RAM plus the data put, so a test file
 * starts one and shares it between its tests. Needs the Debian packages `radosgw`,
 * `ceph-mon` and `ceph-osd` (`apt-get install --no-install-recommends …`).
 *
 * @module
 */

import { join } from "node:path";
import { AwsClient } from "aws4fetch";
import { parseListObjectsV2 } from "../storage/s3/s3_xml.ts";
import { canRunWith } from "./_skip.ts";

/** A running throwaway radosgw. */
export interface TestRadosgw {
  /** The S3 endpoint, such as `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** The access key of the S3 user made at start. */
  readonly accessKey: string;
  /** Its secret key. */
  readonly secretKey: string;
  /** The region to sign for (radosgw accepts any; this is its default zonegroup's). */
  readonly region: string;
  /** The temp directory holding the cluster's config, stores and logs. */
  readonly dir: string;
  /** The last lines of every daemon's log, for failure messages. */
  logs(): Promise<string>;
  /** Kills every process of the cluster and removes {@linkcode TestRadosgw.dir}. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startRadosgw}. */
export interface RadosgwOptions {
  /** The RAM the OSD may fill with objects, in bytes. Default 4 GiB (allocated as used). */
  memoryBytes?: number;
}

/**
 * Whether the Ceph binaries a throwaway radosgw needs are installed; skips
 * (or fails under `DDB_TEST_DISALLOW_SKIP=1`) via `tests/_skip.ts` when not.
 */
export function canRunRadosgw(): boolean {
  return canRunWith("radosgw", "radosgw") && canRunWith("radosgw-admin", "radosgw") &&
    canRunWith("ceph-mon", "ceph-mon") && canRunWith("ceph-osd", "ceph-osd") &&
    canRunWith("monmaptool", "ceph-base") && canRunWith("ceph", "ceph-common");
}

const STEP_TIMEOUT_MS = 60_000;
/**
 * How Ceph 16 fails, now and then, a command sent by a client (the `ceph`
 * CLI, or a daemon at start) that has not yet received the monitor map:
 * the monitor refuses it for carrying fsid 0.
 */
const EARLY_COMMAND = /EPERM|Operation not permitted|problem getting command descriptions/;
/** Attempts of a command or a daemon start that failed that way. */
const ATTEMPTS = 5;

/** Runs `command args…` to the end; throws with its output unless it exits 0. */
async function run(command: string, args: string[]): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    if (!out.success) {
      throw new Error(
        `${command} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr)}`,
      );
    }
    return decoder.decode(out.stdout);
  } finally {
    clearTimeout(timer);
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function randomText(bytes: number, alphabet: string): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(random, (b) => alphabet[b % alphabet.length]).join("");
}

/** `ceph.conf` of a single-node, RAM-only, unauthenticated cluster in `dir`. */
function cephConfig(
  dir: string,
  fsid: string,
  monPort: number,
  rgwPort: number,
  memoryBytes: number,
): string {
  return [
    "[global]",
    `fsid = ${fsid}`,
    `mon host = v1:127.0.0.1:${monPort}`,
    "mon initial members = a",
    "public addr = 127.0.0.1",
    "ms bind msgr2 = false",
    "ms bind ipv6 = false",
    "auth cluster required = none",
    "auth service required = none",
    "auth client required = none",
    "osd pool default size = 1",
    "osd pool default min size = 1",
    "mon allow pool size one = true",
    "mon allow pool delete = true",
    "osd pool default pg num = 8",
    "osd pool default pgp num = 8",
    "osd pool default pg autoscale mode = off",
    "mon max pg per osd = 1000",
    // Commit monitor changes (pool creations) at once instead of every second: ready in ~3 s, not ~18.
    "paxos propose interval = 0.05",
    "paxos min wait = 0.01",
    "osd crush chooseleaf type = 0",
    "osd objectstore = memstore",
    `memstore device bytes = ${memoryBytes}`,
    `run dir = ${dir}/run`,
    `admin socket = ${dir}/run/$name.asok`,
    `pid file = ${dir}/run/$name.pid`,
    `log file = ${dir}/log/$name.log`,
    `mon data = ${dir}/mon/$name`,
    `osd data = ${dir}/osd/$name`,
    `keyring = ${dir}/keyring`,
    "",
    "[client.rgw]",
    `rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1`,
    `rgw data = ${dir}/rgw`,
    "",
  ].join("\n");
}

/** {@linkcode run}, again after a pause when it failed as {@linkcode EARLY_COMMAND} says. */
async function runCephClient(command: string, args: string[]): Promise<string> {
  for (let attempt = 1;; attempt++) {
    try {
      return await run(command, args);
    } catch (error) {
      if (attempt >= ATTEMPTS || !EARLY_COMMAND.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** A daemon of the cluster, started again should it exit while the cluster starts. */
class Daemon {
  readonly #command: string;
  readonly #args: string[];
  readonly #children: Deno.ChildProcess[];
  #exited = false;
  #starts = 0;

  /** Starts `command args…`; every process is added to `children`. */
  constructor(command: string, args: string[], children: Deno.ChildProcess[]) {
    this.#command = command;
    this.#args = args;
    this.#children = children;
    this.#spawn();
  }

  #spawn(): void {
    this.#starts++;
    this.#exited = false;
    const child = new Deno.Command(this.#command, {
      args: this.#args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#children.push(child);
    child.status.then(() => this.#exited = true);
  }

  /** Starts it again if it exited (at most {@linkcode ATTEMPTS} starts in all). */
  restartIfExited(): void {
    if (!this.#exited) return;
    if (this.#starts >= ATTEMPTS) {
      throw new Error(`${this.#command} exited ${this.#starts} times while starting`);
    }
    this.#spawn();
  }
}

async function poll(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Starts the cluster and waits until radosgw serves S3 with a user whose
 * keys are returned. Also warms it up (the first bucket and the first put
 * create pools), so the caller's
 * first requests are not slow. The caller must have checked
 * {@linkcode canRunRadosgw}, and must call `stop()`; should the process
 * end first, the daemons are killed and the directory removed at unload.
 */
export async function startRadosgw(options: RadosgwOptions = {}): Promise<TestRadosgw> {
  const dir = await Deno.makeTempDir({ prefix: "ddb-radosgw-" });
  const children: Deno.ChildProcess[] = [];
  let stopped = false;
  const killAll = () => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }
  };
  const onUnload = () => {
    if (stopped) return;
    killAll();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Best effort at exit.
    }
  };
  globalThis.addEventListener("unload", onUnload);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // A throwaway cluster: no clean shutdown (memstore would dump its RAM to disk).
    killAll();
    await Promise.all(children.map((child) => child.status));
    globalThis.removeEventListener("unload", onUnload);
    await Deno.remove(dir, { recursive: true });
  };
  const logs = async () => {
    const parts: string[] = [];
    try {
      for await (const entry of Deno.readDir(join(dir, "log"))) {
        const text = await Deno.readTextFile(join(dir, "log", entry.name));
        parts.push(`--- ${entry.name}\n${text.split("\n").slice(-30).join("\n")}`);
      }
    } catch {
      // No logs yet, or already removed.
    }
    return parts.join("\n");
  };

  try {
    for (const sub of ["run", "log", "mon", "osd/osd.0", "rgw"]) {
      await Deno.mkdir(join(dir, sub), { recursive: true });
    }
    const fsid = crypto.randomUUID();
    const monPort = freePort();
    const rgwPort = freePort();
    const conf = join(dir, "ceph.conf");
    await Deno.writeTextFile(
      conf,
      cephConfig(dir, fsid, monPort, rgwPort, options.memoryBytes ?? 4 * 1024 ** 3),
    );
    const ceph = (...args: string[]) =>
      runCephClient("ceph", ["-c", conf, "--connect-timeout", "30", ...args]);

    const monmap = join(dir, "monmap");
    await run("monmaptool", [
      "--create",
      "--fsid",
      fsid,
      "--addv",
      "a",
      `[v1:127.0.0.1:${monPort}]`,
      monmap,
    ]);
    await run("ceph-mon", ["-c", conf, "--mkfs", "-i", "a", "--monmap", monmap]);
    new Daemon("ceph-mon", ["-c", conf, "-f", "-i", "a"], children);

    // With its uuid, "osd create" is idempotent: a retried command makes no second OSD.
    const osdUuid = crypto.randomUUID();
    const osdId = (await ceph("osd", "create", osdUuid)).trim();
    if (osdId !== "0") throw new Error(`ceph osd create made osd ${osdId}, expected 0`);
    await run("ceph-osd", ["-c", conf, "-i", "0", "--mkfs", "--osd-uuid", osdUuid]);
    // At start the OSD sends commands too, and exits when one fails as EARLY_COMMAND says.
    const osd = new Daemon("ceph-osd", ["-c", conf, "-f", "-i", "0"], children);
    await poll("The OSD did not come up", async () => {
      osd.restartIfExited();
      const stat = JSON.parse(await ceph("osd", "stat", "-f", "json"));
      return stat.num_up_osds === 1;
    });

    const rgw = new Daemon("radosgw", ["-c", conf, "-f", "-n", "client.rgw"], children);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await poll("radosgw did not answer HTTP", async () => {
      rgw.restartIfExited();
      try {
        const response = await fetch(endpoint);
        await response.body?.cancel();
        return true;
      } catch {
        return false;
      }
    });

    const accessKey = `DDBTEST${randomText(13, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")}`;
    const secretKey = randomText(
      40,
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    await runCephClient("radosgw-admin", [
      "-c",
      conf,
      "user",
      "create",
      "--uid=ddb-test",
      "--display-name=ddb test",
      `--access-key=${accessKey}`,
      `--secret-key=${secretKey}`,
    ]);
    const gw = { endpoint, accessKey, secretKey, region: "us-east-1", dir, logs, stop };
    await warmUp(gw);
    return gw;
  } catch (error) {
    const text = await logs();
    await stop();
    throw new Error(`Cannot start radosgw: ${(error as Error).message}\n${text}`, {
      cause: error,
    });
  }
}

/** Creates a bucket, puts, deletes: the first of each creates pools and takes seconds. */
async function warmUp(gw: TestRadosgw): Promise<void> {
  const steps: [string, string, Uint8Array<ArrayBuffer>?][] = [
    ["PUT", "/ddb-warm-up"],
    ["PUT", "/ddb-warm-up/object", new TextEncoder().encode("warm")],
    ["DELETE", "/ddb-warm-up/object"],
    ["DELETE", "/ddb-warm-up"],
  ];
  for (const [method, path, body] of steps) {
    const reply = await s3Request(gw, method, path, { body });
    if (reply.status >= 300) {
      throw new Error(`warm-up ${method} ${path}: HTTP ${reply.status} ${reply.text}`);
    }
  }
}

/** A reply of {@linkcode s3Request}, read to the end. */
export interface S3TestReply {
  /** The HTTP status. */
  status: number;
  /** The body. */
  body: Uint8Array<ArrayBuffer>;
  /** The body as text. */
  text: string;
}

/**
 * Sends one request signed with the cluster's keys to `path` (`/bucket`,
 * `/bucket/key`, with any query), to look at or change a bucket behind a
 * storage's back.
 */
export async function s3Request(
  gw: TestRadosgw,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Uint8Array<ArrayBuffer> } = {},
): Promise<S3TestReply> {
  const client = new AwsClient({
    accessKeyId: gw.accessKey,
    secretAccessKey: gw.secretKey,
    region: gw.region,
    service: "s3",
    retries: 0,
  });
  const response = await fetch(await client.sign(`${gw.endpoint}${path}`, { method, ...init }));
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, body, text: new TextDecoder().decode(body) };
}

/** Every key under `prefix` in `bucket` (all pages). */
export async function listKeys(gw: TestRadosgw, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ "list-type": "2", prefix });
    if (token) query.set("continuation-token", token);
    const reply = await s3Request(gw, "GET", `/${bucket}?${query}`);
    if (reply.status !== 200) throw new Error(`Cannot list ${bucket}/${prefix}: ${reply.text}`);
    const page = parseListObjectsV2(reply.text);
    keys.push(...page.objects.map((o) => o.key));
    token = page.nextContinuationToken;
  } while (token);
  return keys;
}

/** Deletes every object under `prefix` in `bucket`. */
export async function removeKeys(gw: TestRadosgw, bucket: string, prefix: string): Promise<void> {
  for (const key of await listKeys(gw, bucket, prefix)) {
    const reply = await s3Request(gw, "DELETE", `/${bucket}/${key}`);
    if (reply.status !== 204) throw new Error(`Cannot delete ${bucket}/${key}: ${reply.text}`);
  }
}
