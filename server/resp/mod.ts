/**
 * The Redis protocol (RESP2 and RESP3) without I/O: decoding client requests,
 * building replies and encoding them.
 *
 * @module
 */

export { type DecoderLimits, DEFAULT_LIMITS, RequestDecoder } from "./decode.ts";
export { encodeReply, ReplyWriter } from "./encode.ts";
export { ProtocolError } from "./errors.ts";
export * from "./reply.ts";
export { splitArgs } from "./split_args.ts";
