/**
 * Blob storage: the contract, blob ids, the backends and opening one by URL.
 *
 * See `docs/storage.md` for storage URLs and the durability contract.
 *
 * @example
 * ```ts
 * import { blobIdOf, openStorage } from "./storage/mod.ts";
 *
 * const storage = await openStorage("file:///srv/ddb/blobs");
 * const data = new TextEncoder().encode("hello");
 * await storage.put(blobIdOf(data), data);
 * await storage.close();
 * ```
 *
 * @module
 */

export * from "./blob_storage.ts";
export * from "./blob_id.ts";
export * from "./local/local_storage.ts";
export * from "./registry.ts";
