/**
 * The one command table: every command the server knows, by upper-case name.
 *
 * @module
 */

import type { CommandSpec } from "./command_spec.ts";
import { ADMIN_COMMANDS } from "./admin.ts";
import { STRING_COMMANDS } from "./strings.ts";
import { HASH_COMMANDS } from "./hashes.ts";
import { SET_COMMANDS } from "./sets.ts";
import { LIST_COMMANDS } from "./lists.ts";
import { BLOB_COMMANDS } from "./blobs.ts";
import { TX_COMMANDS } from "./tx.ts";
import { DUMP_COMMANDS } from "./dump.ts";
import { GC_COMMANDS } from "./gc.ts";

/** Every command family, in the order `docs/protocol.md` lists them. */
export const COMMAND_FAMILIES: readonly (readonly [string, readonly CommandSpec[]])[] = [
  ["Connection and administration", ADMIN_COMMANDS],
  ["Strings and keys", STRING_COMMANDS],
  ["Hashes", HASH_COMMANDS],
  ["Sets", SET_COMMANDS],
  ["Lists", LIST_COMMANDS],
  ["Blobs", BLOB_COMMANDS],
  ["Transactions", TX_COMMANDS],
  ["Metadata dumps and backups", DUMP_COMMANDS],
  ["Leases and garbage collection", GC_COMMANDS],
];

/** Builds the name → spec map; throws on a duplicate name. */
export function buildCommandTable(
  families: readonly (readonly [string, readonly CommandSpec[]])[] = COMMAND_FAMILIES,
): ReadonlyMap<string, CommandSpec> {
  const table = new Map<string, CommandSpec>();
  for (const [, specs] of families) {
    for (const spec of specs) {
      if (table.has(spec.name)) {
        throw new Error(`Cannot build command table: duplicate ${spec.name}`);
      }
      table.set(spec.name, spec);
    }
  }
  return table;
}
