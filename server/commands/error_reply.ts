/**
 * Turns an error thrown by a handler into an error reply.
 *
 * @module
 */

import { error, type Reply } from "../resp/reply.ts";
import type { Logger } from "../log/logger.ts";
import { CommandError } from "./command_error.ts";
import { ValueError, WrongTypeError } from "../types/errors.ts";
import { InvalidDatabaseNameError } from "../database.ts";

/** Whether `cause` is an error meant for the client (bad input), not a fault of the server. */
export function isClientError(cause: unknown): boolean {
  return cause instanceof CommandError || cause instanceof WrongTypeError ||
    cause instanceof ValueError || cause instanceof InvalidDatabaseNameError;
}

/**
 * The reply for `cause`. Errors meant for the client keep their message;
 * anything else is an internal fault: logged in full, answered with
 * `ERR internal error: …` so the client knows the command did not succeed.
 */
export function errorReply(cause: unknown, command: string, logger: Logger): Reply {
  if (
    cause instanceof CommandError || cause instanceof WrongTypeError ||
    cause instanceof ValueError
  ) {
    return error(cause.message);
  }
  if (cause instanceof InvalidDatabaseNameError) return error(`ERR ${cause.message}`);
  const message = cause instanceof Error ? cause.message : String(cause);
  logger.error("command.failed", {
    command,
    error: message,
    stack: cause instanceof Error ? cause.stack?.split("\n").slice(1, 4).join(" |") : undefined,
  });
  return error(`ERR internal error: ${message.replaceAll(/[\r\n]+/g, " ")}`);
}
