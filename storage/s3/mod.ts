/**
 * The S3 blob storage backend: {@linkcode S3Storage}, its URL, credentials
 * and errors. See `docs/storage.md` (section "S3").
 *
 * @module
 */

export * from "./s3_storage.ts";
export * from "./s3_errors.ts";
export * from "./s3_url.ts";
export * from "./s3_credentials.ts";
