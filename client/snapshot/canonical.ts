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

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** The SHA-256 (lowercase hex) of the canonical encoding of `fields` as a record of `kind`. */
export function recordId(kind: string, fields: Fields): string {
  const hash = createHash("sha256");
  const tag = encoder.encode(`ddb:${kind}:v1`);
  hash.update(u32(tag.length)).update(tag);
  const names = [...fields.keys()].sort();
  for (const name of names) {
    const key = encoder.encode(name);
    const value = fields.get(name)!;
    hash.update(u32(key.length)).update(key).update(u32(value.length)).update(value);
  }
  return hash.digest("hex");
}

/** The SHA-256 (lowercase hex) of a list of strings, each length-prefixed, under a domain tag. */
export function listId(kind: string, items: readonly string[]): string {
  const hash = createHash("sha256");
  const tag = encoder.encode(`ddb:${kind}:v1`);
  hash.update(u32(tag.length)).update(tag);
  for (const item of items) {
    const bytes = encoder.encode(item);
    hash.update(u32(bytes.length)).update(bytes);
  }
  return hash.digest("hex");
}
