/**
 * List commands. A ddb list is sorted by an unsigned 64-bit index, one value
 * per index (the original Data Database's lists, not Redis's): LADD, LLEN,
 * LINDEX, LRANGE, LLAST, LITER, LMRANGE, LPREV. Indexes in replies are
 * decimal bulk strings, since they may exceed a signed 64-bit integer.
 *
 * @module
 */

import * as lists from "../types/lists.ts";
import { bulk, bulkArray, bulkOrNull, int, NULL, OK, type Reply } from "../resp/reply.ts";
import type { CommandSpec } from "./command_spec.ts";
import { count, keyword, uint64 } from "./args.ts";
import { syntaxError } from "./command_error.ts";

/** Parses an optional trailing `WITH INDEX` (also accepted as `WITHINDEX`). */
function withIndex(rest: Uint8Array[]): boolean {
  const words = rest.map(keyword).join(" ");
  if (words === "") return false;
  if (words === "WITH INDEX" || words === "WITHINDEX") return true;
  throw syntaxError();
}

function entry(pair: readonly [bigint, Uint8Array] | undefined, indexed: boolean): Reply {
  if (pair === undefined) return NULL;
  return indexed ? bulkArray([String(pair[0]), pair[1]]) : bulk(pair[1]);
}

function flatPairs(pairs: Iterable<readonly [bigint, Uint8Array]>): Reply {
  const out: (string | Uint8Array)[] = [];
  for (const [index, value] of pairs) out.push(String(index), value);
  return bulkArray(out);
}

/** The list commands. */
export const LIST_COMMANDS: readonly CommandSpec[] = [
  {
    name: "LADD",
    arity: 4,
    flags: ["write"],
    synopsis: "key index value",
    summary: "Stores value at the uint64 index (replacing any value there).",
    sync: ({ session }, [key, index, value]) => {
      lists.ladd(session.db.kv, key, uint64(index), value);
      return OK;
    },
  },
  {
    name: "LLEN",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "The number of entries.",
    sync: ({ session }, [key]) => int(lists.llen(session.db.kv, key)),
  },
  {
    name: "LINDEX",
    arity: 3,
    flags: [],
    synopsis: "key index",
    summary: "The value at exactly this index, or nil.",
    sync: ({ session }, [key, index]) =>
      bulkOrNull(lists.lindex(session.db.kv, key, uint64(index))),
  },
  {
    name: "LRANGE",
    arity: 5,
    flags: [],
    synopsis: "key start end limit",
    summary: "Values with index in [start, end], in index order (limit 0: all).",
    sync: ({ session }, [key, start, end, limit]) =>
      bulkArray(lists.lrange(session.db.kv, key, uint64(start), uint64(end), count(limit))),
  },
  {
    name: "LLAST",
    arity: -2,
    flags: [],
    synopsis: "key [WITH INDEX]",
    summary: "The value with the greatest index (with it, as [index, value]), or nil.",
    sync: ({ session }, [key, ...rest]) => entry(lists.llast(session.db.kv, key), withIndex(rest)),
  },
  {
    name: "LITER",
    arity: -2,
    flags: [],
    synopsis: "key [WITH INDEX]",
    summary: "Every value in index order (with it, index and value alternating).",
    sync: ({ session }, [key, ...rest]) => {
      const indexed = withIndex(rest);
      const pairs = lists.liter(session.db.kv, key);
      return indexed ? flatPairs(pairs) : bulkArray(pairs.map((p) => p[1]));
    },
  },
  {
    name: "LMRANGE",
    arity: 5,
    flags: [],
    synopsis: "key start end limit",
    summary:
      "Index, value pairs (alternating) with index in [start, end] (limit 0: all); maps a file offset to its chunk.",
    sync: ({ session }, [key, start, end, limit]) =>
      flatPairs(lists.lmrange(session.db.kv, key, uint64(start), uint64(end), count(limit))),
  },
  {
    name: "LPREV",
    arity: -3,
    flags: [],
    synopsis: "key index [WITH INDEX]",
    summary: "The value with the greatest index <= index (a snapshot as of a time), or nil.",
    sync: ({ session }, [key, index, ...rest]) =>
      entry(lists.lprev(session.db.kv, key, uint64(index)), withIndex(rest)),
  },
];
