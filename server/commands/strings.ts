/**
 * String commands and whole-key commands: GET, SET, GETSET, DEL, EXISTS,
 * TYPE, RANGE.
 *
 * @module
 */

import * as strings from "../types/strings.ts";
import * as keyspace from "../types/keyspace.ts";
import { bulkArray, bulkOrNull, int, OK, simple } from "../resp/reply.ts";
import type { CommandSpec } from "./command_spec.ts";
import { count } from "./args.ts";

/** The string commands. */
export const STRING_COMMANDS: readonly CommandSpec[] = [
  {
    name: "GET",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "The value of a string key, or nil.",
    sync: ({ session }, [key]) => bulkOrNull(strings.get(session.db.kv, key)),
  },
  {
    name: "SET",
    arity: 3,
    flags: ["write"],
    synopsis: "key value",
    summary: "Sets a string key.",
    sync: ({ session }, [key, value]) => {
      strings.set(session.db.kv, key, value);
      return OK;
    },
  },
  {
    name: "GETSET",
    arity: 3,
    flags: ["write"],
    synopsis: "key value",
    summary: "Sets a string key and returns its old value.",
    sync: ({ session }, [key, value]) => bulkOrNull(strings.getset(session.db.kv, key, value)),
  },
  {
    name: "DEL",
    arity: -2,
    flags: ["write"],
    synopsis: "key [key ...]",
    summary: "Deletes keys of any type; returns how many existed.",
    sync: ({ session }, keys) => int(keyspace.del(session.db.kv, keys)),
  },
  {
    name: "EXISTS",
    arity: -2,
    flags: [],
    synopsis: "key [key ...]",
    summary: "How many of the keys exist (a key named twice counts twice).",
    sync: ({ session }, keys) => {
      let n = 0;
      for (const key of keys) if (keyspace.exists(session.db.kv, key)) n++;
      return int(n);
    },
  },
  {
    name: "TYPE",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "The type of a key: string, hash, set, list or none.",
    sync: ({ session }, [key]) => simple(keyspace.typeOf(session.db.kv, key) ?? "none"),
  },
  {
    name: "RANGE",
    arity: 4,
    flags: [],
    synopsis: "start end limit",
    summary: "Values of the string keys named in [start, end], in byte order (limit 0: all).",
    sync: ({ session }, [start, end, limit]) =>
      bulkArray(strings.range(session.db.kv, start, end, count(limit))),
  },
];
