/**
 * Hash commands: HSET, HMSET, HGET, HGETALL, HMULTIGETALL, HLEN, HDEL, HEXISTS, HSCAN.
 *
 * @module
 */

import * as hashes from "../types/hashes.ts";
import { array, bulk, bulkArray, bulkOrNull, int, map, OK, type Reply } from "../resp/reply.ts";
import type { CommandSpec } from "./command_spec.ts";
import type { KvStore } from "../kv/kv_store.ts";
import { count } from "./args.ts";
import { CommandError } from "./command_error.ts";

function pairs(name: string, args: Uint8Array[]): [Uint8Array, Uint8Array][] {
  if (args.length % 2 !== 0) {
    throw new CommandError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);
  }
  const out: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < args.length; i += 2) out.push([args[i], args[i + 1]]);
  return out;
}

/** HGETALL's reply for `key`: its fields and values, in byte order. */
function allFields(kv: KvStore, key: Uint8Array): Reply {
  return map(hashes.hgetall(kv, key).map(([field, value]) => [bulk(field), bulk(value)]));
}

/** The hash commands. */
export const HASH_COMMANDS: readonly CommandSpec[] = [
  {
    name: "HSET",
    arity: -4,
    flags: ["write"],
    synopsis: "key field value [field value ...]",
    summary: "Sets hash fields; returns how many fields are new.",
    sync: ({ session }, [key, ...rest]) =>
      int(hashes.hset(session.db.kv, key, pairs("HSET", rest))),
  },
  {
    name: "HMSET",
    arity: -4,
    flags: ["write"],
    synopsis: "key field value [field value ...]",
    summary: "Sets hash fields; replies OK (as Redis).",
    sync: ({ session }, [key, ...rest]) => {
      hashes.hset(session.db.kv, key, pairs("HMSET", rest));
      return OK;
    },
  },
  {
    name: "HGET",
    arity: 3,
    flags: [],
    synopsis: "key field",
    summary: "The value of a hash field, or nil.",
    sync: ({ session }, [key, field]) => bulkOrNull(hashes.hget(session.db.kv, key, field)),
  },
  {
    name: "HGETALL",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "Every field and value of a hash, fields in byte order (a map in RESP3).",
    sync: ({ session }, [key]) => allFields(session.db.kv, key),
  },
  {
    name: "HMULTIGETALL",
    arity: -2,
    flags: [],
    synopsis: "key [key ...]",
    summary:
      "HGETALL of each key, in one reply: an array of their maps (an empty one for a missing key).",
    sync: ({ session }, keys) => array(keys.map((key) => allFields(session.db.kv, key))),
  },
  {
    name: "HLEN",
    arity: 2,
    flags: [],
    synopsis: "key",
    summary: "The number of fields of a hash.",
    sync: ({ session }, [key]) => int(hashes.hlen(session.db.kv, key)),
  },
  {
    name: "HDEL",
    arity: -3,
    flags: ["write"],
    synopsis: "key field [field ...]",
    summary: "Deletes hash fields; returns how many existed.",
    sync: ({ session }, [key, ...fields]) => int(hashes.hdel(session.db.kv, key, fields)),
  },
  {
    name: "HEXISTS",
    arity: 3,
    flags: [],
    synopsis: "key field",
    summary: "1 if the hash has the field, else 0.",
    sync: ({ session }, [key, field]) => int(hashes.hexists(session.db.kv, key, field) ? 1 : 0),
  },
  {
    name: "HSCAN",
    arity: 4,
    flags: [],
    synopsis: "start end limit",
    summary:
      "Names of the hash keys in [start, end], in byte order (limit 0: all); not Redis's cursor HSCAN.",
    sync: ({ session }, [start, end, limit]) =>
      bulkArray(hashes.hscan(session.db.kv, start, end, count(limit))),
  },
];
