/**
 * Runs decoded commands for one connection and returns their replies.
 *
 * Consecutive synchronous commands of one read (a pipeline) form one job of
 * the database's group committer, which runs the jobs of every connection
 * ready in the same event-loop turn inside one kv transaction: fifty
 * pipelines of 16 SETs cost one commit, not 800. Each
 * command stays atomic on its own: the typed layer checks everything before
 * its first write, and a fault of the server in the middle of a command
 * rolls the whole group back. If the batch's commit fails, every reply
 * of the batch becomes an error: nothing is acknowledged that is not
 * committed. Commands that await I/O (BPUT, SELECT, …) and transaction
 * control commands run alone, never inside an open kv transaction.
 *
 * @module
 */

import { error, QUEUED, type Reply } from "./resp/reply.ts";
import {
  arityAccepts,
  type CommandContext,
  type CommandSpec,
  hasFlag,
  type ServerState,
} from "./commands/command_spec.ts";
import { keyword, text } from "./commands/args.ts";
import { errorReply, isClientError } from "./commands/error_reply.ts";
import type { Session } from "./session.ts";

/** Independent I/O commands of one pipeline run at once, at most. */
const MAX_PARALLEL = 64;
/**
 * Bytes of the buffers that bulk replies of parallel commands hold (views
 * keep their whole buffer alive) before the replies are written out.
 */
const MAX_HELD_REPLY_BYTES = 8 * 1024 * 1024;

const TX_CONTROL = new Set(["MULTI", "EXEC", "DISCARD", "TXINIT", "TXCOMMIT", "TXDISCARD", "QUIT"]);

/** What to do with one command: answer at once, or run a spec. */
type Plan =
  | { readonly reply: Reply }
  | { readonly spec: CommandSpec; readonly args: Uint8Array[]; readonly batch: boolean };

function unknownCommand(argv: Uint8Array[]): Reply {
  const args = argv.slice(1, 4).map((a) => `'${text(a).slice(0, 128)}' `).join("");
  return error(
    `ERR unknown command '${text(argv[0]).slice(0, 128)}', with args beginning with: ${args}`,
  );
}

/** Executes commands against the server state on behalf of sessions. */
export class Executor {
  readonly #server: ServerState;

  /** Builds an executor for `server`. */
  constructor(server: ServerState) {
    this.#server = server;
  }

  #plan(session: Session, argv: Uint8Array[]): Plan {
    const name = keyword(argv[0]);
    const spec = this.#server.commands.get(name);
    const tx = session.transaction;
    let failure: Reply | undefined;
    if (spec === undefined) {
      failure = unknownCommand(argv);
    } else if (!arityAccepts(spec.arity, argv.length)) {
      failure = error(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);
    } else if (!session.authenticated && !hasFlag(spec, "noauth")) {
      failure = error("NOAUTH Authentication required.");
    } else if (tx !== undefined && !TX_CONTROL.has(name)) {
      if (hasFlag(spec, "notx")) {
        failure = error(`ERR ${name} is not allowed in a transaction`);
      } else {
        tx.queue.push({ spec, args: argv.slice(1) });
        return { reply: QUEUED };
      }
    }
    if (failure !== undefined || spec === undefined) {
      if (tx !== undefined && failure?.kind === "error") tx.aborted ??= failure.message;
      return { reply: failure ?? error("ERR internal error") };
    }
    return { spec, args: argv.slice(1), batch: "sync" in spec && !hasFlag(spec, "notx") };
  }

  /**
   * Runs a synchronous handler. A client error becomes an error reply. Inside
   * a group transaction (`inGroup`), a fault of the server (SQLite I/O …) is
   * rethrown, so the whole group rolls back: the typed layer writes without
   * savepoints inside a transaction, so a half-done command must not commit.
   */
  #runSync(ctx: CommandContext, spec: CommandSpec, args: Uint8Array[], inGroup = false): Reply {
    try {
      if (!("sync" in spec)) throw new Error(`${spec.name} is not synchronous`);
      return spec.sync(ctx, args);
    } catch (cause) {
      if (inGroup && !isClientError(cause)) throw cause;
      return errorReply(cause, spec.name, this.#server.logger);
    }
  }

  async #runAsync(ctx: CommandContext, spec: CommandSpec, args: Uint8Array[]): Promise<Reply> {
    try {
      if (!("async" in spec)) return this.#runSync(ctx, spec, args);
      return await spec.async(ctx, args);
    } catch (cause) {
      return errorReply(cause, spec.name, this.#server.logger);
    }
  }

  /**
   * Runs `commands` (each an argv with the name first) in order; one reply
   * each. With `sink`, replies are handed to it (in order) whenever the
   * large replies held reach {@linkcode MAX_HELD_REPLY_BYTES} — a pipeline
   * of a thousand BGETs is then never held in memory whole — and the
   * returned array holds the rest.
   */
  async execute(
    session: Session,
    commands: readonly Uint8Array[][],
    sink?: (replies: Reply[]) => Promise<void>,
  ): Promise<Reply[]> {
    const server = this.#server;
    const ctx: CommandContext = { server, session };
    const replies: Reply[] = [];
    let next: Plan | undefined;
    let i = 0;
    let held = 0;
    const pinned = new Set<ArrayBufferLike>();
    while (i < commands.length && !session.closeAfterReply) {
      const plan = next ?? this.#plan(session, commands[i]);
      next = undefined;
      server.stats.commandsProcessed++;
      if ("reply" in plan) {
        replies.push(plan.reply);
        i++;
      } else if (plan.batch && hasFlag(plan.spec, "write")) {
        // A write opens a group transaction, which the commands after it
        // join (reads too). A read alone needs none: nothing is pending
        // outside a transaction, so it sees exactly what is committed.
        const first = replies.length;
        try {
          next = await session.db.committer.submit(() => {
            replies.push(this.#runSync(ctx, plan.spec, plan.args, true));
            i++;
            while (i < commands.length) {
              const following = this.#plan(session, commands[i]);
              if (!("batch" in following) || !following.batch) return following;
              server.stats.commandsProcessed++;
              replies.push(this.#runSync(ctx, following.spec, following.args, true));
              i++;
            }
            return undefined;
          });
        } catch (cause) {
          const reply = errorReply(cause, "commit", server.logger);
          replies.fill(reply, first);
        }
      } else if (plan.batch) {
        // A read (a batchable command without the write flag) and the reads
        // right after it share one read snapshot: one SQLite read
        // transaction instead of a lock, WAL-index check and unlock per read.
        const db = session.db;
        next = db.kv.readBatch(() => {
          replies.push(this.#runSync(ctx, plan.spec, plan.args));
          i++;
          while (i < commands.length && session.db === db) {
            const following = this.#plan(session, commands[i]);
            if (!("batch" in following) || !following.batch || hasFlag(following.spec, "write")) {
              return following;
            }
            server.stats.commandsProcessed++;
            replies.push(this.#runSync(ctx, following.spec, following.args));
            i++;
          }
          return undefined;
        });
      } else if ("sync" in plan.spec) {
        replies.push(this.#runSync(ctx, plan.spec, plan.args));
        i++;
      } else if (hasFlag(plan.spec, "parallel")) {
        // Consecutive independent I/O commands of the same kind (BPUTs, or
        // BGETs) run together; a BGET after a BPUT still waits for it. Their
        // synchronous starts (index lookups; they write only after their
        // first await) share one read snapshot: a get outside a transaction
        // costs ~3x one inside (lock and WAL-index check per read, measured).
        const group: Promise<Reply>[] = [];
        next = session.db.kv.readBatch(() => {
          group.push(this.#runAsync(ctx, plan.spec, plan.args));
          i++;
          while (i < commands.length && group.length < MAX_PARALLEL) {
            const following = this.#plan(session, commands[i]);
            if (!("spec" in following) || following.spec !== plan.spec) return following;
            server.stats.commandsProcessed++;
            group.push(this.#runAsync(ctx, following.spec, following.args));
            i++;
          }
          return undefined;
        });
        const done = await Promise.all(group);
        replies.push(...done);
        if (sink !== undefined) {
          // What a reply holds is the buffer it is a view of (a blob read
          // out of a pack is a view of the whole pack), counted once.
          for (const reply of done) {
            if (reply.kind !== "bulk" || pinned.has(reply.value.buffer)) continue;
            pinned.add(reply.value.buffer);
            held += reply.value.buffer.byteLength;
          }
          if (held >= MAX_HELD_REPLY_BYTES) {
            held = 0;
            pinned.clear();
            await sink(replies.splice(0));
          }
        }
      } else {
        replies.push(await this.#runAsync(ctx, plan.spec, plan.args));
        i++;
      }
    }
    return replies;
  }
}
