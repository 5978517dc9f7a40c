/**
 * Checking entry names from snapshot metadata before they become paths.
 * Metadata may be crafted: a name must be one path component that cannot
 * climb out of its directory, and Deno's file APIs take strings, so it must
 * also be valid UTF-8. Pure.
 *
 * @module
 */

/** A name that cannot be used as a path component. */
export class UnsafeNameError extends Error {
  /** Why, as a clause ("it contains NUL"). */
  readonly reason: string;
  /** Builds the error for `name` (as displayed) and `reason`. */
  constructor(name: string, reason: string, options?: ErrorOptions) {
    super(`Cannot use name "${name}": ${reason}`, options);
    this.name = "UnsafeNameError";
    this.reason = reason;
  }
}

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A name for display: UTF-8 where valid, every other byte as `\xNN`;
 * control characters and `/` escaped too, so a crafted name can neither
 * garble a terminal nor pass for a path.
 */
export function displayName(name: Uint8Array): string {
  let out = "";
  let i = 0;
  while (i < name.length) {
    // The shortest valid UTF-8 sequence starting here (1–4 bytes), if any.
    let char = "";
    let n = 1;
    for (; n <= 4 && i + n <= name.length; n++) {
      try {
        char = strict.decode(name.subarray(i, i + n));
        break;
      } catch {
        // Not a whole character yet.
      }
    }
    const code = char.codePointAt(0);
    if (code === undefined || code < 0x20 || code === 0x7f || code === 0x2f) {
      out += `\\x${name[i].toString(16).padStart(2, "0")}`;
      i++;
    } else {
      out += char;
      i += n;
    }
  }
  return out;
}

/** Names joined with `/` for display (see {@linkcode displayName}). */
export function displayPath(path: readonly Uint8Array[]): string {
  return path.map(displayName).join("/");
}

/**
 * The name as a string, when it is safe as one path component.
 *
 * @throws {UnsafeNameError} for an empty name, `.`, `..`, a name containing
 *   `/` or NUL, or one that is not valid UTF-8.
 */
export function checkEntryName(name: Uint8Array): string {
  const fail = (reason: string, options?: ErrorOptions) =>
    new UnsafeNameError(displayName(name), reason, options);
  if (name.length === 0) throw fail("it is empty");
  if (name.includes(0x2f)) throw fail(`it contains "/"`);
  if (name.includes(0)) throw fail("it contains NUL");
  let text: string;
  try {
    text = strict.decode(name);
  } catch (cause) {
    throw fail("it is not valid UTF-8", { cause });
  }
  if (text === "." || text === "..") throw fail("it is a relative path component");
  return text;
}
