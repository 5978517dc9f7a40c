/**
 * The shape of a command: its name, arity, flags and handler. Handlers return
 * replies; only the connection writes to the socket.
 *
 * @module
 */

import type { Reply } from "../resp/reply.ts";
import type { Session } from "../session.ts";
import type { DatabaseRegistry } from "../database.ts";
import type { ServerConfig } from "../config.ts";
import type { Logger } from "../log/logger.ts";

/**
 * Command flags:
 * - `write`: changes the selected database;
 * - `noauth`: allowed before AUTH;
 * - `notx`: not allowed inside MULTI/TXINIT (it controls the transaction or
 *   waits on I/O);
 * - `admin`: server administration;
 * - `parallel`: an independent I/O command (BPUT, BGET): consecutive ones of
 *   the same name in a pipeline run at the same time (their replies still
 *   come back in order).
 */
export type CommandFlag = "write" | "noauth" | "notx" | "admin" | "parallel";

/** Counters shown by INFO. */
export interface ServerStats {
  /** Connections accepted since start. */
  connectionsReceived: number;
  /** Connections open now. */
  connectedClients: number;
  /** Commands executed since start. */
  commandsProcessed: number;
  /** Connections refused or dropped for breaking limits. */
  rejectedConnections: number;
}

/** What a handler may know of the server. */
export interface ServerState {
  /** The resolved configuration. */
  readonly config: ServerConfig;
  /** Open and openable databases. */
  readonly databases: DatabaseRegistry;
  /** The logger. */
  readonly logger: Logger;
  /** Counters. */
  readonly stats: ServerStats;
  /** When the server started (ms since the epoch). */
  readonly startedAt: number;
  /** The clock. */
  now(): number;
  /** The address actually listened on. */
  readonly address: string;
  /** Asks the server to shut down cleanly after this reply. */
  requestShutdown(reason: string): void;
  /** The command table, for COMMAND. */
  readonly commands: ReadonlyMap<string, CommandSpec>;
}

/** The context a handler runs in. */
export interface CommandContext {
  /** The server. */
  readonly server: ServerState;
  /** The calling connection. */
  readonly session: Session;
}

/** A handler that answers at once, without awaiting. Runs inside the batch's kv transaction. */
export type SyncHandler = (ctx: CommandContext, args: Uint8Array[]) => Reply;

/** A handler that awaits I/O (blob storage, opening a database). Never runs inside a kv transaction. */
export type AsyncHandler = (ctx: CommandContext, args: Uint8Array[]) => Promise<Reply>;

/** One entry of the command table. */
export type CommandSpec = {
  /** Upper-case name. */
  readonly name: string;
  /**
   * Redis-style arity counting the command name: N means exactly N
   * arguments, -N means at least N.
   */
  readonly arity: number;
  /** Flags, see {@linkcode CommandFlag}. */
  readonly flags: readonly CommandFlag[];
  /** Argument synopsis for help and COMMAND DOCS, e.g. `key field value [field value ...]`. */
  readonly synopsis: string;
  /** One line on what it does. */
  readonly summary: string;
} & ({ readonly sync: SyncHandler } | { readonly async: AsyncHandler });

/** Whether `spec` has flag `flag`. */
export function hasFlag(spec: CommandSpec, flag: CommandFlag): boolean {
  return spec.flags.includes(flag);
}

/** Whether `arity` accepts `argc` words (command name included). */
export function arityAccepts(arity: number, argc: number): boolean {
  return arity >= 0 ? argc === arity : argc >= -arity;
}
