/**
 * A map from keys named by a digest — a fixed prefix and 64 lowercase hex
 * digits, like `c:<sha256>` or a bare blob id — to a fixed number of
 * numbers each. Such keys are held as their 32 raw bytes in a
 * {@linkcode DigestMap} (some 40 bytes per entry and 8 per number, no JS
 * object per key); any other key (only crafted data has them) goes to a plain `Map`,
 * so the map stays exact whatever it is given.
 *
 * @module
 */

import { hexDigitValue } from "../storage/blob_id.ts";
import { DigestMap } from "./digest_map.ts";

const HEX_DIGITS = 64;

/**
 * Decodes `text` — `prefix` then 64 lowercase hex digits — into `out` (32
 * bytes); false when it is not exactly that (uppercase digits included,
 * which name another key).
 */
export function decodeDigestKey(text: string, prefix: string, out: Uint8Array): boolean {
  if (text.length !== prefix.length + HEX_DIGITS || !text.startsWith(prefix)) return false;
  let at = prefix.length;
  for (let i = 0; i < 32; i++, at += 2) {
    const hi = hexDigitValue(text.charCodeAt(at));
    const lo = hexDigitValue(text.charCodeAt(at + 1));
    if (hi < 0 || lo < 0) return false;
    out[i] = (hi << 4) | lo;
  }
  return true;
}

/** An exact map from digest-named keys (see the module documentation) to `width` numbers. */
export class DigestKeyMap {
  /** What every digest-named key starts with (may be empty). */
  readonly prefix: string;
  /** Numbers per key. */
  readonly width: number;
  readonly #digests: DigestMap;
  readonly #others = new Map<string, Float64Array>();
  readonly #scratch = new Uint8Array(32);

  /** Builds an empty map of keys `prefix` + 64 hex digits, `width` numbers each. */
  constructor(prefix: string, width = 0, expected = 1024) {
    this.prefix = prefix;
    this.width = width;
    this.#digests = new DigestMap(width, expected);
  }

  /** The number of keys. */
  get size(): number {
    return this.#digests.size + this.#others.size;
  }

  /** Bytes of memory the digest tables take (the few other keys not counted). */
  get byteLength(): number {
    return this.#digests.byteLength;
  }

  /** Whether `key` is in the map. */
  has(key: string): boolean {
    if (decodeDigestKey(key, this.prefix, this.#scratch)) return this.#digests.has(this.#scratch);
    return this.#others.has(key);
  }

  /** Value `field` (0 ≤ field < width) of `key`, or undefined when `key` is not in the map. */
  get(key: string, field: number): number | undefined {
    if (decodeDigestKey(key, this.prefix, this.#scratch)) {
      const handle = this.#digests.find(this.#scratch);
      return handle < 0 ? undefined : this.#digests.get(handle, field);
    }
    return this.#others.get(key)?.[field];
  }

  /** Adds `key` when it is missing (its values 0); sets the first `values.length` of its values. */
  set(key: string, ...values: number[]): void {
    if (values.length > this.width) {
      throw new RangeError(`Cannot set ${values.length} values: the map has ${this.width} a key`);
    }
    if (decodeDigestKey(key, this.prefix, this.#scratch)) {
      const handle = this.#digests.insert(this.#scratch);
      for (let i = 0; i < values.length; i++) this.#digests.set(handle, i, values[i]);
      return;
    }
    let own = this.#others.get(key);
    if (own === undefined) this.#others.set(key, own = new Float64Array(this.width));
    own.set(values);
  }

  /** Sets value `field` of `key` when it is in the map; false when it is not. */
  update(key: string, field: number, value: number): boolean {
    if (decodeDigestKey(key, this.prefix, this.#scratch)) {
      const handle = this.#digests.find(this.#scratch);
      if (handle < 0) return false;
      this.#digests.set(handle, field, value);
      return true;
    }
    const own = this.#others.get(key);
    if (own === undefined) return false;
    own[field] = value;
    return true;
  }
}
