/**
 * A tree reader for `ddb check`: reads metas and directory sets like the
 * repository does, and also verifies that each record hashes to its key.
 * A missing or malformed meta is thrown as a {@linkcode RecordError} (the
 * walk reports it with the directory it is in); an altered record or a
 * missing directory set is logged as a problem and the walk goes on with
 * what is there.
 *
 * @module
 */

import type { Repository } from "../repo/repository.ts";
import { recordId } from "../snapshot/canonical.ts";
import { dirKeyOf, type NodeMeta, parseMeta, SchemaError } from "../snapshot/schema.ts";
import type { TreeReader } from "../snapshot/walk.ts";
import type { ProblemKind, ProblemLog } from "./problems.ts";

/** A record the walk needs cannot be used. */
export class RecordError extends Error {
  /** The problem. */
  readonly kind: ProblemKind;
  /** The record's key. */
  readonly key: string;
  /** Builds the error. */
  constructor(kind: ProblemKind, key: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RecordError";
    this.kind = kind;
    this.key = key;
  }
}

/** What the checking reader reads. */
export type RecordSource = Pick<Repository, "readFields" | "readDir">;

/** A {@linkcode TreeReader} that verifies every record it reads. */
export class CheckingReader implements TreeReader {
  readonly #source: RecordSource;
  readonly #problems: ProblemLog;

  /** Builds a reader logging to `problems`. */
  constructor(source: RecordSource, problems: ProblemLog) {
    this.#source = source;
    this.#problems = problems;
  }

  /**
   * A node's metadata; logs `meta-mismatch` when its fields do not hash to its key.
   *
   * @throws {RecordError} when the meta is missing or malformed.
   */
  async readMeta(key: string): Promise<NodeMeta> {
    if (!key.startsWith("m:")) {
      throw new RecordError("meta-malformed", key, `"${key}" is not a meta key`);
    }
    const fields = await this.#source.readFields(key);
    if (fields.size === 0) throw new RecordError("meta-missing", key, `meta ${key} is missing`);
    let meta: NodeMeta;
    try {
      meta = parseMeta(key, fields);
    } catch (error) {
      if (!(error instanceof SchemaError)) throw error;
      throw new RecordError("meta-malformed", key, error.message, { cause: error });
    }
    if (`m:${recordId("meta", fields)}` !== key) {
      this.#problems.report(
        "meta-mismatch",
        key,
        `meta ${key} was altered: its fields do not hash to its key`,
      );
    }
    return meta;
  }

  /** A directory's members; logs `dir-missing` or `dir-mismatch` when they do not hash to its key. */
  async readDir(key: string): Promise<string[]> {
    const members = await this.#source.readDir(key);
    if (dirKeyOf(members) !== key) {
      if (members.length === 0) {
        this.#problems.report("dir-missing", key, `directory set ${key} is missing`);
      } else {
        this.#problems.report(
          "dir-mismatch",
          key,
          `directory set ${key} was altered: its ${members.length} members do not hash to its key`,
        );
      }
    }
    return members;
  }
}
