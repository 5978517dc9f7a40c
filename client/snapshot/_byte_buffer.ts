/**
 * Internal: a byte buffer that grows as it is appended to, reused between
 * records (the canonical encoding of ids, the attributes of a meta).
 *
 * @module
 */

/** Appendable bytes; {@linkcode bytes} views what was appended since {@linkcode reset}. */
export class ByteBuffer {
  /** The storage; valid up to {@linkcode length}. */
  buf: Uint8Array;
  /** Bytes appended so far. */
  length = 0;

  /** A buffer of `capacity` bytes to start with. */
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  /** Forgets what was appended. */
  reset(): void {
    this.length = 0;
  }

  /** Appends one byte. */
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  /** Appends `data`. */
  append(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** Appends `n` as uint32 big-endian. */
  uint32(n: number): void {
    this.reserve(4);
    const b = this.buf;
    const at = this.length;
    b[at] = n >>> 24;
    b[at + 1] = (n >>> 16) & 0xff;
    b[at + 2] = (n >>> 8) & 0xff;
    b[at + 3] = n & 0xff;
    this.length += 4;
  }

  /** A view of the bytes appended (valid until the next append or reset). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}
