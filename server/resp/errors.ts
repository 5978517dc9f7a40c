/**
 * The error thrown by the request decoder on malformed input.
 *
 * @module
 */

/**
 * The client broke the RESP protocol: the connection should answer
 * `-ERR <message>` and close, as Redis does.
 *
 * `message` is `Protocol error: <detail>`, in Redis wording, e.g.
 * `Protocol error: invalid multibulk length`.
 */
export class ProtocolError extends Error {
  /** What was wrong, without the `Protocol error: ` prefix. */
  readonly detail: string;

  /** Builds the error from its detail, e.g. `invalid bulk length`. */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Protocol error: ${detail}`, options);
    this.name = "ProtocolError";
    this.detail = detail;
  }
}
