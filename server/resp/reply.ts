/**
 * Replies returned by command handlers, independent of the wire protocol
 * version. `encode.ts` turns them into RESP2 or RESP3 bytes.
 *
 * @module
 */

/** A reply to one command. */
export type Reply =
  | { readonly kind: "simple"; readonly value: string }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "int"; readonly value: number | bigint }
  | { readonly kind: "bulk"; readonly value: Uint8Array }
  | { readonly kind: "null" }
  | { readonly kind: "array"; readonly items: readonly Reply[] }
  | { readonly kind: "map"; readonly entries: readonly (readonly [Reply, Reply])[] }
  | { readonly kind: "verbatim"; readonly format: string; readonly value: string };

const textEncoder = new TextEncoder();

/** `+OK`. */
export const OK: Reply = Object.freeze({ kind: "simple", value: "OK" });
/** `+QUEUED`, the reply to a command inside MULTI or TXINIT. */
export const QUEUED: Reply = Object.freeze({ kind: "simple", value: "QUEUED" });
/** The null reply (`$-1` in RESP2, `_` in RESP3). */
export const NULL: Reply = Object.freeze({ kind: "null" });

/** A simple string reply (`+value`); `value` must not contain CR or LF. */
export function simple(value: string): Reply {
  return { kind: "simple", value };
}

/**
 * An error reply. `message` starts with the error code, as in Redis:
 * `ERR unknown command 'x'`, `WRONGTYPE Operation against a key …`.
 */
export function error(message: string): Reply {
  return { kind: "error", message };
}

/** An integer reply. */
export function int(value: number | bigint): Reply {
  return { kind: "int", value };
}

/** A bulk string reply from bytes or text (text is UTF-8 encoded). */
export function bulk(value: Uint8Array | string): Reply {
  return { kind: "bulk", value: typeof value === "string" ? textEncoder.encode(value) : value };
}

/** A bulk reply, or the null reply when `value` is undefined. */
export function bulkOrNull(value: Uint8Array | undefined): Reply {
  return value === undefined ? NULL : { kind: "bulk", value };
}

/** An array reply. */
export function array(items: readonly Reply[]): Reply {
  return { kind: "array", items };
}

/** An array of bulk strings. */
export function bulkArray(values: readonly (Uint8Array | string)[]): Reply {
  return { kind: "array", items: values.map(bulk) };
}

/** A map reply (RESP3 `%`; a flat array of key, value in RESP2). */
export function map(entries: readonly (readonly [Reply, Reply])[]): Reply {
  return { kind: "map", entries };
}

/** A verbatim text reply (RESP3 `=`; a bulk string in RESP2). */
export function verbatim(value: string, format = "txt"): Reply {
  return { kind: "verbatim", format, value };
}
