/**
 * Set commands (members in byte order): SADD, SREM, SMEMBERS, SISMEMBER, SCARD.
 *
 * @module
 */

import * as sets from "../types/sets.ts";
import { bulkArray, int } from "../resp/reply.ts";
import type { CommandSpec } from "./command_spec.ts";

/** The set commands. */
export const SET_COMMANDS: readonly CommandSpec[] = [
  {
    name: "SADD",
    arity: -3,
    flags: ["write"],
    synopsis: "key member [member ...]",
    summary: "Adds members; returns how many were new.",
    sync: ({ session }, [key, ...members]) => int(sets.sadd(session.db.kv, key, members)),
  },
  {
    name: "SREM",
    arity: -3,
    flags: ["write"],
    synopsis: "key member [member ...]",
    summary: "Removes members; returns how many existed.",
    sync: ({ session }, [key, ...members]) => int(sets.srem(session.db.kv, key, members)),
  },
  {
    name: "SMEMBERS",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "Every member, in byte order.",
    sync: ({ session }, [key]) => bulkArray(sets.smembers(session.db.kv, key)),
  },
  {
    name: "SISMEMBER",
    arity: 3,
    flags: [],
    synopsis: "key member",
    summary: "1 if member is in the set, else 0.",
    sync: ({ session }, [key, member]) => int(sets.sismember(session.db.kv, key, member) ? 1 : 0),
  },
  {
    name: "SCARD",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "The number of members.",
    sync: ({ session }, [key]) => int(sets.scard(session.db.kv, key)),
  },
];
