/**
 * Keeps the V8 heap of a long run (a backup, a restore, a check, a gc) near its live size.
 *
 * A backup of many small files makes a few KB of short-lived garbage per
 * file (promises, closures, field maps, hex strings). Enough of it lives
 * across a few awaits to be promoted, and V8, seeing gigabytes of free
 * memory, lets the old generation grow to hundreds of MB before it collects
 * it: a 50,000-file backup peaked at ~690 MB of RSS with ~5 MB live (array
 * buffers of file contents and chunks, outside the heap, are freed only by
 * those collections too). A hard
 * heap limit would turn a large tree into a crash; instead, the governor
 * looks at the heap ten times a second and runs a full collection when it has
 * grown by a threshold (64 MiB) past what survived the last collection, so
 * a large live heap is not collected in a loop.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";

/** Options of {@linkcode startHeapGovernor}. */
export interface HeapGovernorOptions {
  /** Collect when heap and array buffers exceed this many bytes (at least; default 64 MiB). */
  minThresholdBytes?: number;
  /** How often the heap is looked at, in ms (default 100). */
  intervalMs?: number;
}

/** A running governor. */
export interface HeapGovernor {
  /** Full collections run so far. */
  readonly collections: number;
  /** Stops looking at the heap. */
  stop(): void;
}

let collect: (() => void) | undefined;

/** The engine's full collection, made callable once (`--expose-gc` at run time). */
function collector(): (() => void) | undefined {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const gc: unknown = vm.runInNewContext("gc");
      if (typeof gc === "function") collect = () => gc();
    } catch {
      // Not available in this runtime: the governor does nothing.
    }
  }
  return collect;
}

/** Starts a governor (see the module documentation); it does not keep the process alive. */
export function startHeapGovernor(options: HeapGovernorOptions = {}): HeapGovernor {
  const minThreshold = options.minThresholdBytes ?? 64 * 1024 * 1024;
  const gc = collector();
  let threshold = minThreshold;
  let collections = 0;
  // Array buffers (file contents, chunks) live outside the heap but are
  // freed only by a collection: they count too.
  const used = () => {
    const usage = Deno.memoryUsage();
    return usage.heapUsed + usage.external;
  };
  const timer = gc === undefined ? undefined : setInterval(() => {
    if (used() < threshold) return;
    gc();
    collections++;
    // The next collection when another threshold's worth has been allocated:
    // what survived is live, and collecting it again in a loop would not help.
    threshold = used() + minThreshold;
  }, options.intervalMs ?? 100);
  if (timer !== undefined) Deno.unrefTimer(timer);
  return {
    get collections() {
      return collections;
    },
    stop: () => clearInterval(timer),
  };
}
