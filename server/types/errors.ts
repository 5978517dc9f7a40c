/**
 * Errors of the typed data layer. Their messages are Redis error replies,
 * sent to the client verbatim.
 *
 * @module
 */

/** The key holds a value of another type than the operation works on. */
export class WrongTypeError extends TypeError {
  /** Builds the error; the message is Redis's WRONGTYPE reply. */
  constructor(options?: ErrorOptions) {
    super("WRONGTYPE Operation against a key holding the wrong kind of value", options);
    this.name = "WrongTypeError";
  }
}

/** A numeric argument is out of range, such as a list index outside uint64. */
export class ValueError extends RangeError {
  /** Builds the error; the message is Redis's reply for a bad integer. */
  constructor(options?: ErrorOptions) {
    super("ERR value is not an integer or out of range", options);
    this.name = "ValueError";
  }
}
