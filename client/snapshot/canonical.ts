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

/** A record: field name → value bytes. */
export type Fields = ReadonlyMap<string, Uint8Array>;

const encoder = new TextEncoder();

/** Builds one record's canonical bytes in a growing scratch buffer, then hashes them once. */
class CanonicalWriter {
  #buf = new Uint8Array(1024);
  #view = new DataView(this.#buf.buffer);
  #at = 0;

  #reserve(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
    grown.set(this.#buf.subarray(0, this.#at));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  reset(): void {
    this.#at = 0;
  }

  /** Appends uint32 BE length, then the bytes. */
  item(bytes: Uint8Array): void {
    this.#reserve(4 + bytes.length);
    this.#view.setUint32(this.#at, bytes.length);
    this.#buf.set(bytes, this.#at + 4);
    this.#at += 4 + bytes.length;
  }

  /** Appends uint32 BE length, then the UTF-8 of `text`. */
  text(text: string): void {
    this.#reserve(4 + text.length * 3);
    const { written } = encoder.encodeInto(text, this.#buf.subarray(this.#at + 4));
    this.#view.setUint32(this.#at, written);
    this.#at += 4 + written;
  }

  digest(): string {
    return createHash("sha256").update(this.#buf.subarray(0, this.#at)).digest("hex");
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
