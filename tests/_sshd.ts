/**
 * Starts a private OpenSSH server (`/usr/sbin/sshd`) for tests: loopback
 * only, a free port, its own host key, and one client key authorized for the
 * current user, all generated with `ssh-keygen` in a temp directory.
 *
 * @module
 */

import { userInfo } from "node:os";
import { join } from "node:path";
import { canRunWith } from "./_skip.ts";

/** Path of the OpenSSH server binary. */
export const SSHD = "/usr/sbin/sshd";

/** A running private sshd. */
export interface TestSshd {
  /** The TCP port it listens on (on 127.0.0.1). */
  readonly port: number;
  /** The user that may log in (the current user). */
  readonly user: string;
  /** The authorized private key (ed25519, no passphrase). */
  readonly keyPath: string;
  /** A known_hosts file holding the server's host key for `[127.0.0.1]:port`. */
  readonly knownHostsPath: string;
  /** The temp directory holding the config, keys and anything the test puts there. */
  readonly dir: string;
  /** The process id of the listening sshd. */
  readonly pid: number;
  /** Everything sshd wrote to stderr so far. */
  log(): string;
  /**
   * Sends `signal` to the processes serving connections (every descendant
   * of the listener, not the listener itself): `SIGSTOP` makes the open
   * sessions hang, `SIGKILL` drops them. Resolves with how many were signalled.
   */
  signalSessions(signal: Deno.Signal): Promise<number>;
  /** Stops sshd and its sessions and removes {@linkcode TestSshd.dir}. */
  stop(): Promise<void>;
}

/**
 * Whether a test needing sshd can run: true when `/usr/sbin/sshd` and
 * `ssh-keygen` exist; otherwise skips (or fails under
 * `DDB_TEST_DISALLOW_SKIP=1`) via `tests/_skip.ts`.
 */
export function canRunSshd(): boolean {
  let hasSshd = false;
  try {
    hasSshd = Deno.statSync(SSHD).isFile;
  } catch {
    // Not installed.
  }
  return (hasSshd || canRunWith("sshd", "openssh-server")) &&
    canRunWith("ssh-keygen", "openssh-client");
}

/** Runs `command args…`; throws with its output unless it exits 0. */
async function run(command: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args, stdin: "null" }).output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr)}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The ids of the descendants of process `pid`, parents first (Linux `/proc`). */
async function descendantsOf(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
    } catch {
      continue; // Exited meanwhile.
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry.name)]);
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const children = queue.flatMap((parent) => parents.get(parent) ?? []);
    found.push(...children);
    queue = children;
  }
  return found;
}

/** The config of a loopback-only sshd that accepts the keys in `authorizedKeys` only. */
function sshdConfig(port: number, hostKey: string, authorizedKeys: string, pidFile: string) {
  return [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${hostKey}`,
    `PidFile ${pidFile}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "LogLevel INFO",
    "MaxStartups 100",
    "MaxSessions 100",
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");
}

/**
 * Starts sshd and waits until it listens. The caller must have checked
 * {@linkcode canRunSshd}. Call `stop()` when done.
 */
export async function startSshd(): Promise<TestSshd> {
  // sshd refuses to start without its privilege separation directory.
  try {
    await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  } catch {
    // Not root: sshd will say what is missing.
  }
  const dir = await Deno.makeTempDir({ prefix: "ddb-sshd-" });
  try {
    const hostKey = join(dir, "host_ed25519");
    const keyPath = join(dir, "id_ed25519");
    await run("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "ddb-test-host",
      "-f",
      hostKey,
    ]);
    await run("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "ddb-test-user",
      "-f",
      keyPath,
    ]);
    const authorizedKeys = join(dir, "authorized_keys");
    await Deno.copyFile(`${keyPath}.pub`, authorizedKeys);
    const hostPublic = (await Deno.readTextFile(`${hostKey}.pub`)).trim().split(" ");
    for (let attempt = 1;; attempt++) {
      const port = freePort();
      const knownHostsPath = join(dir, "known_hosts");
      await Deno.writeTextFile(
        knownHostsPath,
        `[127.0.0.1]:${port} ${hostPublic[0]} ${hostPublic[1]}\n`,
      );
      const config = join(dir, "sshd_config");
      await Deno.writeTextFile(
        config,
        sshdConfig(port, hostKey, authorizedKeys, join(dir, "sshd.pid")),
      );
      try {
        return await launch(config, port, dir, keyPath, knownHostsPath);
      } catch (error) {
        // Another process took the port between the probe and sshd's bind.
        if (attempt < 5 && /Address already in use/.test(String(error))) continue;
        throw error;
      }
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

async function launch(
  config: string,
  port: number,
  dir: string,
  keyPath: string,
  knownHostsPath: string,
): Promise<TestSshd> {
  const child = new Deno.Command(SSHD, {
    args: ["-D", "-e", "-f", config],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const ready = Promise.withResolvers<void>();
  const pump = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes(`Server listening on 127.0.0.1 port ${port}`)) ready.resolve();
    }
    ready.reject(new Error(`sshd exited before listening:\n${text}`));
  })();
  const timer = setTimeout(() => ready.reject(new Error(`sshd did not start:\n${text}`)), 10_000);
  const killAll = async () => {
    for (const pid of await descendantsOf(child.pid)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
    await pump;
  };
  try {
    await ready.promise;
  } catch (error) {
    await killAll();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  let stopped = false;
  return {
    port,
    user: userInfo().username,
    keyPath,
    knownHostsPath,
    dir,
    pid: child.pid,
    log: () => text,
    async signalSessions(signal: Deno.Signal): Promise<number> {
      const sessions = await descendantsOf(child.pid);
      for (const pid of sessions) {
        try {
          Deno.kill(pid, signal);
        } catch {
          // Exited meanwhile.
        }
      }
      return sessions.length;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await killAll();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
