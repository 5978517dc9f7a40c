/**
 * Asks whether blobs exist in shared batches: the ids that files ask about
 * within one turn of the event loop (or up to a batch's size) go to the
 * server as one `BMULTIEXISTS` instead of one command per file, which is
 * what a tree of small files would otherwise cost.
 *
 * @module
 */

/** Ids asked about in one call at most. */
export const EXISTS_BATCH = 128;

/** One call that tells, for each id, whether the blob exists. */
export type HasBlobs = (ids: readonly string[]) => Promise<boolean[]>;

/** Collects `has` questions and answers them with batched calls. */
export class ExistsBatcher {
  readonly #hasBlobs: HasBlobs;
  readonly #batchSize: number;
  #ids: string[] = [];
  #answers: PromiseWithResolvers<boolean>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Builds a batcher over `hasBlobs` sending at most `batchSize` ids per call. */
  constructor(hasBlobs: HasBlobs, batchSize = EXISTS_BATCH) {
    if (!(Number.isSafeInteger(batchSize) && batchSize > 0)) {
      throw new RangeError(`Cannot batch ${batchSize} ids: not a positive integer`);
    }
    this.#hasBlobs = hasBlobs;
    this.#batchSize = batchSize;
  }

  /** Whether the blob `id` exists, answered with the next batch. */
  has(id: string): Promise<boolean> {
    const answer = Promise.withResolvers<boolean>();
    this.#ids.push(id);
    this.#answers.push(answer);
    if (this.#ids.length >= this.#batchSize) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), 0);
    return answer.promise;
  }

  /** Sends the ids collected so far now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#ids.length === 0) return;
    const ids = this.#ids;
    const answers = this.#answers;
    this.#ids = [];
    this.#answers = [];
    this.#hasBlobs(ids).then(
      (present) => {
        if (present.length !== ids.length) {
          const error = new Error(
            `Cannot check ${ids.length} blobs: the server answered ${present.length} times`,
          );
          for (const answer of answers) answer.reject(error);
          return;
        }
        answers.forEach((answer, i) => answer.resolve(present[i]));
      },
      (error) => {
        for (const answer of answers) answer.reject(error);
      },
    );
  }
}
