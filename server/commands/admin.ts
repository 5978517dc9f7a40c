/**
 * Connection and administration commands: PING, ECHO, QUIT, SELECT, HELLO,
 * AUTH, INFO, COMMAND, DBSIZE, SHUTDOWN, CLIENT, CONFIG.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import * as keyspace from "../types/keyspace.ts";
import * as blobIndex from "../blob_index.ts";
import {
  array,
  bulk,
  bulkArray,
  int,
  map,
  NULL,
  OK,
  type Reply,
  simple,
  verbatim,
} from "../resp/reply.ts";
import type { CommandContext, CommandSpec, ServerState } from "./command_spec.ts";
import { keyword, text } from "./args.ts";
import { CommandError, syntaxError } from "./command_error.ts";
import { VERSION } from "../../version.ts";

const encoder = new TextEncoder();

function passwordMatches(server: ServerState, given: Uint8Array): boolean {
  const expected = encoder.encode(server.config.requirePass ?? "");
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function authenticate(ctx: CommandContext, user: string, password: Uint8Array): void {
  if (ctx.server.config.requirePass === undefined) {
    throw new CommandError(
      "ERR AUTH <password> called without any password configured for the default user. " +
        "Are you sure your configuration is correct?",
    );
  }
  if (user !== "default" || !passwordMatches(ctx.server, password)) {
    ctx.server.logger.warn("auth.failed", { peer: ctx.session.peer });
    throw new CommandError("WRONGPASS invalid username-password pair or user is disabled.");
  }
  ctx.session.authenticated = true;
}

function hello(ctx: CommandContext, args: Uint8Array[]): Reply {
  const { session } = ctx;
  let protocol = session.protocol;
  let i = 0;
  if (args.length > 0) {
    const version = text(args[0]);
    if (version !== "2" && version !== "3") {
      throw new CommandError("NOPROTO unsupported protocol version");
    }
    protocol = version === "3" ? 3 : 2;
    i = 1;
  }
  let setName: string | undefined;
  for (; i < args.length; i++) {
    const option = keyword(args[i]);
    if (option === "AUTH" && i + 2 < args.length) {
      authenticate(ctx, text(args[i + 1]), args[i + 2]);
      i += 2;
    } else if (option === "SETNAME" && i + 1 < args.length) {
      setName = text(args[++i]);
    } else {
      throw syntaxError();
    }
  }
  if (!session.authenticated) {
    throw new CommandError(
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and " +
        "select the RESP protocol version at the same time",
    );
  }
  session.protocol = protocol;
  if (setName !== undefined) session.clientName = setName;
  return map([
    [bulk("server"), bulk("ddb")],
    [bulk("version"), bulk(VERSION)],
    [bulk("proto"), int(protocol)],
    [bulk("id"), int(session.id)],
    [bulk("mode"), bulk("standalone")],
    [bulk("role"), bulk("master")],
    [bulk("modules"), array([])],
  ]);
}

function infoText(server: ServerState, wanted: Set<string>): string {
  const sections: [string, [string, string | number][]][] = [];
  const all = wanted.size === 0 || wanted.has("ALL") || wanted.has("EVERYTHING") ||
    wanted.has("DEFAULT");
  const want = (name: string) => all || wanted.has(name.toUpperCase());
  const uptime = Math.floor((server.now() - server.startedAt) / 1000);
  if (want("server")) {
    sections.push(["Server", [
      ["ddb_version", VERSION],
      ["redis_version", "7.0.0"],
      ["redis_mode", "standalone"],
      ["os", `${Deno.build.os} ${Deno.build.arch}`],
      ["deno_version", Deno.version.deno],
      ["process_id", Deno.pid],
      ["tcp_address", server.address],
      ["uptime_in_seconds", uptime],
      ["uptime_in_days", Math.floor(uptime / 86400)],
      ["data_dir", server.config.dataDir],
    ]]);
  }
  if (want("clients")) {
    sections.push(["Clients", [
      ["connected_clients", server.stats.connectedClients],
      ["maxclients", server.config.limits.maxClients],
    ]]);
  }
  if (want("memory")) {
    const memory = Deno.memoryUsage();
    sections.push(["Memory", [
      ["used_memory", memory.heapUsed],
      ["used_memory_rss", memory.rss],
      ["used_memory_external", memory.external],
    ]]);
  }
  if (want("persistence")) {
    sections.push(["Persistence", [["loading", 0], ["kv_engine", "sqlite-wal"]]]);
  }
  if (want("stats")) {
    sections.push(["Stats", [
      ["total_connections_received", server.stats.connectionsReceived],
      ["total_commands_processed", server.stats.commandsProcessed],
      ["rejected_connections", server.stats.rejectedConnections],
    ]]);
  }
  if (want("keyspace")) {
    sections.push([
      "Keyspace",
      server.databases.opened().map((db) => [
        `db_${db.name}`,
        `keys=${keyspace.dbsize(db.kv)},blobs=${blobIndex.count(db.kv)},` +
        `blob_bytes=${blobIndex.totalBytes(db.kv)},storage=${db.storage.displayUrl}`,
      ]),
    ]);
  }
  return sections.map(([title, fields]) =>
    `# ${title}\r\n` + fields.map(([k, v]) => `${k}:${v}\r\n`).join("")
  ).join("\r\n");
}

function commandInfo(spec: CommandSpec): Reply {
  const flags = [
    ...(spec.flags.includes("write") ? ["write"] : ["readonly"]),
    ...(spec.flags.includes("noauth") ? ["no_auth"] : []),
    ...(spec.flags.includes("admin") ? ["admin"] : []),
  ];
  return array([
    bulk(spec.name.toLowerCase()),
    int(spec.arity),
    array(flags.map(simple)),
    int(0),
    int(0),
    int(0),
    array([]),
    array([]),
    array([]),
    array([]),
  ]);
}

function command(ctx: CommandContext, args: Uint8Array[]): Reply {
  const table = ctx.server.commands;
  const specs = [...new Set(table.values())];
  if (args.length === 0) return array(specs.map(commandInfo));
  const sub = keyword(args[0]);
  const named = () =>
    args.slice(1).map((a) => table.get(keyword(a))).map((s) => s ? commandInfo(s) : NULL);
  switch (sub) {
    case "COUNT":
      return int(specs.length);
    case "LIST":
      return bulkArray(specs.map((s) => s.name.toLowerCase()));
    case "INFO":
      return args.length === 1 ? array(specs.map(commandInfo)) : array(named());
    case "DOCS": {
      const chosen = args.length === 1
        ? specs
        : args.slice(1).flatMap((a) => table.get(keyword(a)) ?? []);
      return map(chosen.map((s) => [
        bulk(s.name.toLowerCase()),
        map([
          [bulk("summary"), bulk(s.summary)],
          [bulk("since"), bulk("0.1.0")],
          [bulk("group"), bulk("ddb")],
        ]),
      ]));
    }
    default:
      throw new CommandError(`ERR unknown subcommand '${sub}'. Try COMMAND HELP.`);
  }
}

function client(ctx: CommandContext, args: Uint8Array[]): Reply {
  const sub = keyword(args[0]);
  switch (sub) {
    case "SETNAME":
      if (args.length !== 2) break;
      ctx.session.clientName = text(args[1]);
      return OK;
    case "GETNAME":
      return ctx.session.clientName === "" ? NULL : bulk(ctx.session.clientName);
    case "ID":
      return int(ctx.session.id);
    case "SETINFO":
      return OK;
    default:
      throw new CommandError(`ERR unknown subcommand '${sub}'. Try CLIENT HELP.`);
  }
  throw new CommandError(`ERR wrong number of arguments for 'client|${sub.toLowerCase()}' command`);
}

/** The connection and administration commands. */
export const ADMIN_COMMANDS: readonly CommandSpec[] = [
  {
    name: "PING",
    arity: -1,
    flags: ["noauth"],
    synopsis: "[message]",
    summary: "PONG, or the message.",
    sync: (_ctx, args) => {
      if (args.length > 1) {
        throw new CommandError("ERR wrong number of arguments for 'ping' command");
      }
      return args.length === 0 ? simple("PONG") : bulk(args[0]);
    },
  },
  {
    name: "ECHO",
    arity: 2,
    flags: [],
    synopsis: "message",
    summary: "The message.",
    sync: (_ctx, [message]) => bulk(message),
  },
  {
    name: "QUIT",
    arity: -1,
    flags: ["noauth", "notx"],
    synopsis: "",
    summary: "Closes the connection after replying OK.",
    sync: ({ session }) => {
      session.closeAfterReply = true;
      return OK;
    },
  },
  {
    name: "SELECT",
    arity: 2,
    flags: ["notx"],
    synopsis: "name",
    summary: "Selects a database by name (created on first use; 0 means default).",
    async: async ({ session, server }, [name]) => {
      const wanted = text(name);
      session.db = await server.databases.get(wanted === "0" ? "default" : wanted);
      return OK;
    },
  },
  {
    name: "HELLO",
    arity: -1,
    flags: ["noauth", "notx"],
    synopsis: "[protover [AUTH username password] [SETNAME clientname]]",
    summary: "Handshake: chooses RESP2 or RESP3, optionally authenticates.",
    sync: hello,
  },
  {
    name: "AUTH",
    arity: -2,
    flags: ["noauth", "notx"],
    synopsis: "[username] password",
    summary: "Authenticates the connection.",
    sync: (ctx, args) => {
      if (args.length > 2) throw syntaxError();
      authenticate(ctx, args.length === 2 ? text(args[0]) : "default", args[args.length - 1]);
      return OK;
    },
  },
  {
    name: "INFO",
    arity: -1,
    flags: [],
    synopsis: "[section ...]",
    summary: "Server information: server, clients, memory, persistence, stats, keyspace.",
    sync: ({ server }, args) => verbatim(infoText(server, new Set(args.map(keyword)))),
  },
  {
    name: "COMMAND",
    arity: -1,
    flags: [],
    synopsis: "[COUNT | LIST | INFO name ... | DOCS name ...]",
    summary: "Describes the commands.",
    sync: command,
  },
  {
    name: "DBSIZE",
    arity: 1,
    flags: [],
    synopsis: "",
    summary: "The number of keys in the selected database (blobs not counted).",
    sync: ({ session }) => int(keyspace.dbsize(session.db.kv)),
  },
  {
    name: "SHUTDOWN",
    arity: -1,
    flags: ["admin", "notx"],
    synopsis: "[NOSAVE | SAVE]",
    summary: "Stops the server cleanly: in-flight commands finish, databases close.",
    sync: ({ server, session }) => {
      server.requestShutdown(`SHUTDOWN from ${session.peer}`);
      session.closeAfterReply = true;
      return OK;
    },
  },
  {
    name: "CLIENT",
    arity: -2,
    flags: [],
    synopsis: "SETNAME name | GETNAME | ID | SETINFO attr value",
    summary: "Connection properties.",
    sync: client,
  },
  {
    name: "CONFIG",
    arity: -2,
    flags: [],
    synopsis: "GET parameter [parameter ...]",
    summary: "Read-only view of a few Redis parameters clients ask for (save, appendonly, …).",
    sync: ({ server }, [sub, ...names]) => {
      if (keyword(sub) !== "GET") {
        throw new CommandError(`ERR unknown subcommand '${keyword(sub)}'. Try CONFIG GET.`);
      }
      const params: Record<string, string> = {
        save: "",
        appendonly: "no",
        maxclients: String(server.config.limits.maxClients),
        "proto-max-bulk-len": String(server.config.limits.maxBulkBytes),
      };
      const wanted = names.map((n) => text(n).toLowerCase());
      return map(
        Object.entries(params)
          .filter(([name]) => wanted.some((w) => w === "*" || w === name))
          .map(([name, value]) => [bulk(name), bulk(value)]),
      );
    },
  },
];
