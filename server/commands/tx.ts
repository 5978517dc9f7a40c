/**
 * Transactions. Two flavours share one mechanism — commands are queued, then
 * run in one durable kv transaction:
 *
 * - MULTI / EXEC / DISCARD, as Redis clients expect: EXEC replies with one
 *   reply per queued command; a command that fails at run time answers with
 *   its error while the others still apply (Redis semantics). An error while
 *   queuing (unknown command, wrong arity) makes EXEC fail with EXECABORT.
 * - TXINIT [id] / TXCOMMIT / TXDISCARD, the original Data Database's buffered
 *   writes: all-or-nothing. If any queued command fails, nothing is applied
 *   and TXCOMMIT replies with an error naming the failed command.
 *
 * Either way the commit is on stable storage before the reply is sent.
 * Commands flagged `notx` (BPUT, BGET, SELECT, …) cannot be queued.
 *
 * @module
 */

import { array, error, OK, type Reply } from "../resp/reply.ts";
import type { CommandContext, CommandSpec, SyncHandler } from "./command_spec.ts";
import { CommandError } from "./command_error.ts";
import { errorReply } from "./error_reply.ts";
import type { PendingTransaction } from "../session.ts";

class TransactionAbort extends Error {
  constructor(readonly reply: Reply) {
    super("transaction aborted");
    this.name = "TransactionAbort";
  }
}

function begin(ctx: CommandContext, mode: PendingTransaction["mode"]): Reply {
  const name = mode === "multi" ? "MULTI" : "TXINIT";
  if (ctx.session.transaction) throw new CommandError(`ERR ${name} calls can not be nested`);
  ctx.session.transaction = { mode, queue: [] };
  return OK;
}

function discard(ctx: CommandContext, mode: PendingTransaction["mode"]): Reply {
  const tx = ctx.session.transaction;
  const name = mode === "multi" ? "DISCARD" : "TXDISCARD";
  if (tx?.mode !== mode) {
    throw new CommandError(`ERR ${name} without ${mode === "multi" ? "MULTI" : "TXINIT"}`);
  }
  ctx.session.transaction = undefined;
  return OK;
}

function runQueued(ctx: CommandContext, spec: CommandSpec, args: Uint8Array[]): Reply {
  if (!("sync" in spec)) throw new CommandError(`ERR ${spec.name} is not allowed in a transaction`);
  return (spec.sync as SyncHandler)(ctx, args);
}

function commit(ctx: CommandContext, mode: PendingTransaction["mode"]): Reply {
  const { session, server } = ctx;
  const tx = session.transaction;
  const name = mode === "multi" ? "EXEC" : "TXCOMMIT";
  if (tx?.mode !== mode) {
    throw new CommandError(`ERR ${name} without ${mode === "multi" ? "MULTI" : "TXINIT"}`);
  }
  session.transaction = undefined;
  if (tx.aborted !== undefined) {
    return error(`EXECABORT Transaction discarded because of previous errors: ${tx.aborted}`);
  }
  const kv = session.db.kv;
  try {
    return kv.transaction(() => {
      const replies: Reply[] = [];
      tx.queue.forEach(({ spec, args }, i) => {
        try {
          replies.push(kv.transaction(() => runQueued(ctx, spec, args)));
        } catch (cause) {
          const reply = errorReply(cause, spec.name, server.logger);
          if (mode === "txinit") {
            const message = reply.kind === "error" ? reply.message : "failed";
            throw new TransactionAbort(
              error(
                `ERR transaction aborted, nothing applied: command ${
                  i + 1
                } (${spec.name}): ${message}`,
              ),
            );
          }
          replies.push(reply);
        }
      });
      return array(replies);
    }, { durable: true });
  } catch (cause) {
    if (cause instanceof TransactionAbort) return cause.reply;
    throw cause;
  }
}

/** The transaction commands. */
export const TX_COMMANDS: readonly CommandSpec[] = [
  {
    name: "MULTI",
    arity: 1,
    flags: ["notx"],
    synopsis: "",
    summary: "Starts queuing commands for EXEC.",
    sync: (ctx) => begin(ctx, "multi"),
  },
  {
    name: "EXEC",
    arity: 1,
    flags: ["notx", "write"],
    synopsis: "",
    summary: "Runs the queued commands atomically and durably; replies with each reply.",
    sync: (ctx) => commit(ctx, "multi"),
  },
  {
    name: "DISCARD",
    arity: 1,
    flags: ["notx"],
    synopsis: "",
    summary: "Drops the commands queued since MULTI.",
    sync: (ctx) => discard(ctx, "multi"),
  },
  {
    name: "TXINIT",
    arity: -1,
    flags: ["notx"],
    synopsis: "[id]",
    summary: "Starts buffering writes for TXCOMMIT (all-or-nothing).",
    sync: (ctx, args) => {
      if (args.length > 1) {
        throw new CommandError("ERR wrong number of arguments for 'txinit' command");
      }
      return begin(ctx, "txinit");
    },
  },
  {
    name: "TXCOMMIT",
    arity: 1,
    flags: ["notx", "write"],
    synopsis: "",
    summary: "Applies the buffered writes atomically and durably, or none of them.",
    sync: (ctx) => commit(ctx, "txinit"),
  },
  {
    name: "TXDISCARD",
    arity: 1,
    flags: ["notx"],
    synopsis: "",
    summary: "Drops the writes buffered since TXINIT.",
    sync: (ctx) => discard(ctx, "txinit"),
  },
];
