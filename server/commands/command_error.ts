/**
 * The error a command handler throws to answer with a Redis error reply.
 *
 * @module
 */

/**
 * A command failed for a reason the client should see. `message` is the full
 * Redis error text, starting with its code (`ERR …`, `WRONGTYPE …`).
 */
export class CommandError extends Error {
  /** Builds the error; `message` becomes the error reply verbatim. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CommandError";
  }
}

/** `ERR syntax error`. */
export function syntaxError(): CommandError {
  return new CommandError("ERR syntax error");
}

/** `ERR value is not an integer or out of range`. */
export function notAnInteger(): CommandError {
  return new CommandError("ERR value is not an integer or out of range");
}
