/**
 * Parsing of command arguments (raw bytes) into numbers and text.
 *
 * @module
 */

import { notAnInteger } from "./command_error.ts";

const decoder = new TextDecoder();
const UINT64_MAX = (1n << 64n) - 1n;

/** The argument as text (UTF-8, invalid sequences replaced). */
export function text(arg: Uint8Array): string {
  return decoder.decode(arg);
}

/** The argument as upper-case ASCII text, for keywords and command names. */
export function keyword(arg: Uint8Array): string {
  let out = "";
  for (let i = 0; i < arg.length && i < 64; i++) {
    const c = arg[i];
    out += String.fromCharCode(c >= 97 && c <= 122 ? c - 32 : c);
  }
  return arg.length > 64 ? out + "…" : out;
}

function digitsOnly(arg: Uint8Array, from: number): boolean {
  if (arg.length <= from || arg.length - from > 20) return false;
  for (let i = from; i < arg.length; i++) {
    if (arg[i] < 48 || arg[i] > 57) return false;
  }
  return true;
}

/** The argument as an unsigned 64-bit integer (decimal, no sign, no leading junk). */
export function uint64(arg: Uint8Array): bigint {
  if (!digitsOnly(arg, 0)) throw notAnInteger();
  const value = BigInt(text(arg));
  if (value > UINT64_MAX) throw notAnInteger();
  return value;
}

/** The argument as a safe integer, optionally negative. */
export function integer(arg: Uint8Array): number {
  const negative = arg[0] === 45;
  if (!digitsOnly(arg, negative ? 1 : 0)) throw notAnInteger();
  const value = Number(text(arg));
  if (!Number.isSafeInteger(value)) throw notAnInteger();
  return value;
}

/** The argument as a non-negative safe integer (a count or limit). */
export function count(arg: Uint8Array): number {
  const value = integer(arg);
  if (value < 0) throw notAnInteger();
  return value;
}
