/**
 * What `ddb check` found wrong: one {@linkcode Problem} per damaged object
 * (a blob, a metadata record, a snapshot record, a group list), each with
 * the places it affects — the snapshots and the paths in them that lead to
 * it. The places of one problem are capped (a blob shared by a million files
 * is listed once, with its first places and their count).
 *
 * @module
 */

/** Kinds of problems. */
export type ProblemKind =
  /** A snapshot key in `ddb:snapshots` has no record. */
  | "snapshot-missing"
  /** A snapshot record cannot be parsed. */
  | "snapshot-malformed"
  /** A snapshot record's fields do not hash to its key (altered). */
  | "snapshot-mismatch"
  /** A snapshot is missing from its group list. */
  | "snapshot-ungrouped"
  /** A snapshot's counters (files, dirs, bytes) differ from its tree. */
  | "snapshot-counts"
  /** A group list names a snapshot that does not exist. */
  | "group-dangling"
  /** A meta record is missing. */
  | "meta-missing"
  /** A meta record cannot be parsed. */
  | "meta-malformed"
  /** A meta record's fields do not hash to its key (altered). */
  | "meta-mismatch"
  /** A directory set is missing. */
  | "dir-missing"
  /** A directory set's members do not hash to its key (altered). */
  | "dir-mismatch"
  /** A directory set cannot be read. */
  | "dir-unreadable"
  /** A directory contains itself. */
  | "cycle"
  /** A file's content list is missing. */
  | "content-missing"
  /** A content list cannot be parsed. */
  | "content-malformed"
  /** A content list does not hash to its key (altered). */
  | "content-mismatch"
  /** A file's size differs from its content's length. */
  | "size-mismatch"
  /** A blob is not on the server. */
  | "blob-missing"
  /** The server could not read a blob (its storage lost or damaged it). */
  | "blob-unreadable"
  /** A blob's bytes do not hash to its id. */
  | "blob-corrupt";

/** A place a problem affects. */
export interface Place {
  /** Snapshot key (`s:<S>`). */
  snapshot: string;
  /** Path inside the snapshot (`/` is its root). */
  path: string;
}

/** One damaged object and where it hurts. */
export interface Problem {
  /** What is wrong. */
  kind: ProblemKind;
  /** The damaged object: a blob id, an `m:`/`d:`/`c:`/`s:`/`g:` key. */
  key: string;
  /** A sentence saying what is wrong. */
  message: string;
  /** The first places it affects (at most the log's cap). */
  places: Place[];
  /** How many places it affects in all. */
  placeCount: number;
}

/** Collects problems, one per (kind, key), with their places. */
export class ProblemLog {
  readonly #problems = new Map<string, Problem>();
  readonly #keys = new Map<string, Problem[]>();
  readonly #placeCap: number;

  /** Builds a log keeping at most `placeCap` places per problem. */
  constructor(placeCap = 100) {
    this.#placeCap = placeCap;
  }

  /** Records a problem (once per kind and key); returns it. */
  report(kind: ProblemKind, key: string, message: string): Problem {
    const id = `${kind} ${key}`;
    let problem = this.#problems.get(id);
    if (problem === undefined) {
      problem = { kind, key, message, places: [], placeCount: 0 };
      this.#problems.set(id, problem);
      const list = this.#keys.get(key);
      if (list === undefined) this.#keys.set(key, [problem]);
      else list.push(problem);
    }
    return problem;
  }

  /** Adds a place to a problem (the caller adds each place once). */
  place(problem: Problem, place: Place): void {
    problem.placeCount++;
    if (problem.places.length < this.#placeCap) problem.places.push(place);
  }

  /** The problems of an object. */
  of(key: string): readonly Problem[] {
    return this.#keys.get(key) ?? [];
  }

  /** Whether an object has a problem. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Every problem, in the order found. */
  list(): Problem[] {
    return [...this.#problems.values()];
  }

  /** The number of problems. */
  get size(): number {
    return this.#problems.size;
  }
}
