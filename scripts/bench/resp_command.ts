/**
 * Encoding of a client command as a RESP2 array of bulk strings, the framing
 * every Redis-protocol server accepts.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Encodes `args` as one RESP2 command: `*N\r\n` then `$len\r\n<bytes>\r\n`
 * per argument. Strings are encoded as UTF-8.
 *
 * @example
 * ```ts
 * encodeCommand(["GET", "k"]); // "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
 * ```
 */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const bytes = args.map((arg) => typeof arg === "string" ? encoder.encode(arg) : arg);
  const head = (s: string) => encoder.encode(s);
  const parts: Uint8Array[] = [head(`*${bytes.length}\r\n`)];
  for (const arg of bytes) parts.push(head(`$${arg.length}\r\n`), arg, head("\r\n"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * The bytes that precede a command's last argument of `size` bytes: the array
 * header, the leading arguments and the last argument's `$size\r\n` header.
 * The full frame is this prefix, the argument's bytes, then `\r\n`; a load
 * generator can so reuse one frame buffer and overwrite the payload in place.
 *
 * @example
 * ```ts
 * commandPrefix(["BPUT"], 3); // "*2\r\n$4\r\nBPUT\r\n$3\r\n"
 * ```
 */
export function commandPrefix(leading: readonly string[], size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new RangeError(`Cannot encode argument size "${size}": not a non-negative integer`);
  }
  const head = encodeCommand(leading);
  const count = encoder.encode(`*${leading.length + 1}\r\n`);
  const rest = head.subarray(encoder.encode(`*${leading.length}\r\n`).length);
  const last = encoder.encode(`$${size}\r\n`);
  const out = new Uint8Array(count.length + rest.length + last.length);
  out.set(count, 0);
  out.set(rest, count.length);
  out.set(last, count.length + rest.length);
  return out;
}
