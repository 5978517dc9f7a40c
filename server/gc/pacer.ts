/**
 * Lets a long job share the event loop: the job asks {@linkcode Pacer.due}
 * often (cheap) and, when its time slice is used up, awaits
 * {@linkcode Pacer.pause}, during which the server answers other clients.
 *
 * @module
 */

/** Clock and pause of a {@linkcode Pacer}; injected so tests can choose. */
export interface PacerOptions {
  /** Work for this long (ms) between pauses (default 25). */
  sliceMs?: number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?: () => number;
  /** Gives the event loop a turn (default a `setTimeout` of 0). */
  yieldTurn?: () => Promise<void>;
}

/** Cuts a job into time slices. */
export class Pacer {
  readonly #sliceMs: number;
  readonly #now: () => number;
  readonly #yieldTurn: () => Promise<void>;
  #sliceStart: number;
  #calls = 0;
  #pauses = 0;

  /** Builds a pacer; the first slice starts now. */
  constructor(options: PacerOptions = {}) {
    this.#sliceMs = options.sliceMs ?? 25;
    this.#now = options.now ?? (() => performance.now());
    this.#yieldTurn = options.yieldTurn ??
      (() => new Promise<void>((resolve) => setTimeout(resolve, 0)));
    this.#sliceStart = this.#now();
  }

  /** Whether the slice is used up (reads the clock every 64th call only). */
  due(): boolean {
    if ((++this.#calls & 63) !== 0) return false;
    return this.#now() - this.#sliceStart >= this.#sliceMs;
  }

  /** Gives the event loop a turn and starts a new slice. */
  async pause(): Promise<void> {
    this.#pauses++;
    await this.#yieldTurn();
    this.#sliceStart = this.#now();
  }

  /** How many times the job paused. */
  get pauses(): number {
    return this.#pauses;
  }
}
