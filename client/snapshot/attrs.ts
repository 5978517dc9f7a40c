/**
 * The attributes of a node in one byte string (schema version 2): the
 * `attrs` field of a meta hash. One field instead of one per attribute makes
 * a meta 2 rows on the server instead of 8–10, and gives a later client-side
 * encryption a single value to seal; the reference (`ref`) stays a field of
 * its own that the server can follow.
 *
 * Layout (docs/data-model.md, "Meta attributes"):
 *
 *     u8      format (2)
 *     u8      type: f file, d dir, l symlink, p fifo, s socket, c chardev, b blockdev
 *     uvar    size
 *     uvar    mode (permission bits, & 0o7777)
 *     uvar    uid
 *     uvar    gid
 *     svar    mtime, ns since the epoch (zigzag)
 *     uvar n, n bytes   name
 *     then optional entries in this order, each a tag byte, uvar n, n bytes:
 *       't'   symlink target
 *       'k'   hard link identity `dev:ino` (ASCII)
 *
 * `uvar` is unsigned LEB128 (7 bits per byte, low first, at most 10 bytes);
 * `svar` is LEB128 of the zigzag encoding. The encoding is deterministic
 * (minimal varints, fixed order), so equal nodes give equal bytes and ids.
 *
 * @module
 */

import type { NodeMeta, NodeType } from "./schema.ts";
import { ByteBuffer } from "./_byte_buffer.ts";

/** The format byte of {@linkcode encodeAttrs}. */
export const ATTRS_FORMAT = 2;

const TYPE_CODES: Readonly<Record<NodeType, number>> = {
  file: 0x66, // f
  dir: 0x64, // d
  symlink: 0x6c, // l
  fifo: 0x70, // p
  socket: 0x73, // s
  chardev: 0x63, // c
  blockdev: 0x62, // b
};
const TYPES_BY_CODE = new Map<number, NodeType>(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as NodeType]),
);
const TAG_TARGET = 0x74; // t
const TAG_LINKS = 0x6b; // k
/** The order optional entries must come in. */
const TAG_RANKS = new Map([[TAG_TARGET, 1], [TAG_LINKS, 2]]);

/** Attribute bytes that cannot be read. */
export class AttrsError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AttrsError";
  }
}

class Writer extends ByteBuffer {
  uvar(n: number | bigint): void {
    let v = BigInt(n);
    this.reserve(10);
    while (v >= 0x80n) {
      this.buf[this.length++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.length++] = Number(v);
  }

  /** Small non-negative integers without BigInt. */
  uint(n: number): void {
    if (n > 0xfffffff) return this.uvar(n);
    this.reserve(5);
    while (n >= 0x80) {
      this.buf[this.length++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.length++] = n;
  }

  /** uvar length, then the bytes. */
  item(data: Uint8Array): void {
    this.uint(data.length);
    this.append(data);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The attribute bytes of `meta` (everything but `ref`). */
export function encodeAttrs(meta: NodeMeta): Uint8Array {
  for (
    const [name, value] of [["size", meta.size], ["uid", meta.uid], ["gid", meta.gid]] as const
  ) {
    if (!(Number.isSafeInteger(value) && value >= 0)) {
      throw new RangeError(`Cannot encode ${name} ${value}: not a non-negative safe integer`);
    }
  }
  const w = new Writer();
  w.byte(ATTRS_FORMAT);
  w.byte(TYPE_CODES[meta.type]);
  w.uint(meta.size);
  w.uint(meta.mode & 0o7777);
  w.uint(meta.uid);
  w.uint(meta.gid);
  const t = meta.mtimeNs;
  w.uvar(t < 0n ? ((-t) << 1n) - 1n : t << 1n);
  w.item(meta.name);
  if (meta.target !== undefined) {
    w.byte(TAG_TARGET);
    w.item(meta.target);
  }
  if (meta.links !== undefined) {
    w.byte(TAG_LINKS);
    w.item(encoder.encode(meta.links));
  }
  return w.bytes().slice();
}

class Reader {
  readonly #data: Uint8Array;
  #at = 0;

  constructor(data: Uint8Array) {
    this.#data = data;
  }

  get done(): boolean {
    return this.#at === this.#data.length;
  }

  byte(what: string): number {
    if (this.#at >= this.#data.length) throw new AttrsError(`truncated before ${what}`);
    return this.#data[this.#at++];
  }

  uvar(what: string): bigint {
    // The first 7 groups (49 bits) as a number; BigInt only for the rest.
    const start = this.#at;
    const low = this.#low(what);
    if (this.#at - start < 7 || (this.#data[this.#at - 1] & 0x80) === 0) return BigInt(low);
    let v = BigInt(low);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const b = this.byte(what);
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        if (b === 0) throw new AttrsError(`${what} is not minimally encoded`);
        return v;
      }
    }
    throw new AttrsError(`${what} is longer than 10 bytes`);
  }

  /**
   * Up to the first 7 groups of a uvar as a number (exact: < 2^49); stops
   * after the last group or after 7 (with the 7th's continuation bit set).
   */
  #low(what: string): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.byte(what);
      v += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new AttrsError(`${what} is not minimally encoded`);
        return v;
      }
      scale *= 128;
    }
    return v;
  }

  uint(what: string): number {
    const start = this.#at;
    const low = this.#low(what);
    if (this.#at - start < 7 || (this.#data[this.#at - 1] & 0x80) === 0) return low;
    this.#at = start;
    const v = this.uvar(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new AttrsError(`${what} is too large`);
    return Number(v);
  }

  bytes(what: string): Uint8Array {
    const n = this.uint(`the length of ${what}`);
    if (this.#at + n > this.#data.length) throw new AttrsError(`truncated in ${what}`);
    const out = this.#data.slice(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
}

/**
 * The attributes in `data` as a {@linkcode NodeMeta} without `ref`; throws
 * {@linkcode AttrsError} for anything but exactly one well-formed record.
 */
export function decodeAttrs(data: Uint8Array): Omit<NodeMeta, "ref"> {
  const r = new Reader(data);
  const format = r.byte("the format");
  if (format !== ATTRS_FORMAT) throw new AttrsError(`unknown format ${format}`);
  const code = r.byte("the type");
  const type = TYPES_BY_CODE.get(code);
  if (type === undefined) throw new AttrsError(`unknown type code ${code}`);
  const size = r.uint("the size");
  const mode = r.uint("the mode");
  if (mode > 0o7777) throw new AttrsError(`mode ${mode.toString(8)} has more than permission bits`);
  const uid = r.uint("the uid");
  const gid = r.uint("the gid");
  const zigzag = r.uvar("the mtime");
  const mtimeNs = (zigzag & 1n) === 0n ? zigzag >> 1n : -((zigzag + 1n) >> 1n);
  const name = r.bytes("the name");
  const meta: Omit<NodeMeta, "ref"> = { name, type, size, mode, uid, gid, mtimeNs };
  let last = 0;
  while (!r.done) {
    const tag = r.byte("a tag");
    const rank = TAG_RANKS.get(tag);
    if (rank === undefined) throw new AttrsError(`unknown tag ${tag}`);
    if (rank <= last) {
      throw new AttrsError(`tag "${String.fromCharCode(tag)}" out of order or repeated`);
    }
    last = rank;
    if (tag === TAG_TARGET) {
      meta.target = r.bytes("the symlink target");
    } else {
      try {
        meta.links = decoder.decode(r.bytes("the link identity"));
      } catch (cause) {
        if (cause instanceof AttrsError) throw cause;
        throw new AttrsError("the link identity is not UTF-8", { cause });
      }
    }
  }
  return meta;
}
