/**
 * The canonical encoding of a record (a map from field name to bytes) and
 * the id derived from it. Metadata keys are the SHA-256 of this encoding, so
 * equal records have equal keys (a file stored twice has one meta).
 *
 * Encoding: fields sorted by name (byte order); each as
 * `uint32 BE name length, name, uint32 BE value length, value`; the whole
 * preceded by a domain tag (`ddb:<kind>:v1` with its uint32 BE length), so
 * records of different kinds never share an id.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ByteBuffer } from "./_byte_buffer.ts";

/** A record: field name → value bytes. */
export type Fields = ReadonlyMap<string, Uint8Array>;

const encoder = new TextEncoder();

/** Builds one record's canonical bytes in a growing scratch buffer, then hashes them once. */
class CanonicalWriter {
  readonly #out = new ByteBuffer(1024);

  reset(): void {
    this.#out.reset();
  }

  /** Appends uint32 BE length, then the bytes. */
  item(bytes: Uint8Array): void {
    this.#out.uint32(bytes.length);
    this.#out.append(bytes);
  }

  /** Appends uint32 BE length, then the UTF-8 of `text`. */
  text(text: string): void {
    const out = this.#out;
    out.reserve(4 + text.length * 3);
    const lengthAt = out.length;
    out.uint32(0);
    const { written } = encoder.encodeInto(text, out.buf.subarray(out.length));
    out.length = lengthAt;
    out.uint32(written);
    out.length += written;
  }

  digest(): string {
    return createHash("sha256").update(this.#out.bytes()).digest("hex");
  }
}

const writer = new CanonicalWriter();

/** The SHA-256 (lowercase hex) of the canonical encoding of `fields` as a record of `kind`. */
export function recordId(kind: string, fields: Fields): string {
  writer.reset();
  writer.text(`ddb:${kind}:v1`);
  for (const name of [...fields.keys()].sort()) {
    writer.text(name);
    writer.item(fields.get(name)!);
  }
  return writer.digest();
}

/** The SHA-256 (lowercase hex) of a list of strings, each length-prefixed, under a domain tag. */
export function listId(kind: string, items: readonly string[]): string {
  writer.reset();
  writer.text(`ddb:${kind}:v1`);
  for (const item of items) writer.text(item);
  return writer.digest();
}
