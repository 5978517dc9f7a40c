/**
 * The Redis-like typed data layer over a `KvStore`: strings, hashes, sets,
 * lists (uint64-indexed), and whole-key operations. Each family is a
 * namespace; errors are exported directly.
 *
 * ```ts
 * import { hashes } from "./mod.ts";
 * hashes.hset(kv, name, [[field, value]]);
 * ```
 *
 * @module
 */

export * as keyspace from "./keyspace.ts";
export * as strings from "./strings.ts";
export * as hashes from "./hashes.ts";
export * as sets from "./sets.ts";
export * as lists from "./lists.ts";
export { ValueError, WrongTypeError } from "./errors.ts";
export type { KeyType } from "./keyspace.ts";
export type { ListEntry } from "./lists.ts";
