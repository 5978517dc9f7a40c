/**
 * Skipping tests whose real peer (a tool or server) is missing — except under
 * `DDB_TEST_DISALLOW_SKIP=1` (set by .ci/run), where a skip is a failure.
 *
 * @module
 */

/** Whether skips are forbidden in this run. */
export const SKIP_DISALLOWED = Deno.env.get("DDB_TEST_DISALLOW_SKIP") === "1";

/** Whether `command` is found on PATH. */
export function hasCommand(command: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${command}`).isFile) return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/**
 * Returns true when the test may run. When `available` is false it prints
 * why the test is skipped and returns false — or throws when skips are
 * disallowed.
 */
export function canRun(available: boolean, reason: string): boolean {
  if (available) return true;
  if (SKIP_DISALLOWED) throw new Error(`Cannot skip (DDB_TEST_DISALLOW_SKIP=1): ${reason}`);
  console.warn(`SKIPPED: ${reason}`);
  return false;
}

/** {@linkcode canRun} for a command on PATH. */
export function canRunWith(command: string, packageName: string): boolean {
  return canRun(
    hasCommand(command),
    `${command} is not installed (apt-get install ${packageName})`,
  );
}
