/**
 * Parser of the `--csv` output of `redis-benchmark` (Redis 7):
 *
 * ```text
 * "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
 * "SET","12210.01","3.973","0.272","2.991","10.135","14.583","37.887"
 * ```
 *
 * No I/O.
 *
 * @module
 */

/** One test line of `redis-benchmark --csv`. */
export interface BenchmarkRow {
  /** Test name, e.g. `SET`, `PING_INLINE`, or the custom command line. */
  test: string;
  /** Requests per second. */
  rps: number;
  /** Mean latency, ms. */
  avgLatencyMs: number;
  /** Median latency, ms. */
  p50LatencyMs: number;
  /** 99th percentile latency, ms. */
  p99LatencyMs: number;
  /** Largest latency, ms. */
  maxLatencyMs: number;
}

/** The output is not the CSV `redis-benchmark` writes. */
export class BenchmarkCsvError extends Error {
  /** Builds the error with a message such as `Cannot parse benchmark CSV "x": reason`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BenchmarkCsvError";
  }
}

const COLUMNS = {
  test: "test",
  rps: "rps",
  avgLatencyMs: "avg_latency_ms",
  p50LatencyMs: "p50_latency_ms",
  p99LatencyMs: "p99_latency_ms",
  maxLatencyMs: "max_latency_ms",
} as const;

/** Splits one CSV line into fields; fields may be quoted, `""` is a quote inside one. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) {
          throw new BenchmarkCsvError(`Cannot parse CSV line "${line}": open quote`);
        }
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ",") {
        throw new BenchmarkCsvError(`Cannot parse CSV line "${line}": text after a quoted field`);
      }
    } else {
      const comma = line.indexOf(",", i);
      const end = comma === -1 ? line.length : comma;
      field = line.slice(i, end);
      i = end;
    }
    fields.push(field);
    i++;
  }
  return fields;
}

/**
 * Parses the CSV `redis-benchmark --csv` prints: a header line, then one line
 * per test. Blank lines are skipped.
 *
 * @example
 * ```ts
 * parseBenchmarkCsv('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",' +
 *   '"p95_latency_ms","p99_latency_ms","max_latency_ms"\n' +
 *   '"GET","100.00","1.0","0.1","0.9","1.5","2.0","3.0"\n')[0].rps; // 100
 * ```
 */
export function parseBenchmarkCsv(text: string): BenchmarkRow[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) throw new BenchmarkCsvError(`Cannot parse benchmark CSV "": no lines`);
  const header = splitCsvLine(lines[0]);
  const index = (name: string) => {
    const at = header.indexOf(name);
    if (at === -1) {
      throw new BenchmarkCsvError(
        `Cannot parse benchmark CSV "${lines[0]}": no column "${name}"`,
      );
    }
    return at;
  };
  const at = {
    test: index(COLUMNS.test),
    rps: index(COLUMNS.rps),
    avgLatencyMs: index(COLUMNS.avgLatencyMs),
    p50LatencyMs: index(COLUMNS.p50LatencyMs),
    p99LatencyMs: index(COLUMNS.p99LatencyMs),
    maxLatencyMs: index(COLUMNS.maxLatencyMs),
  };
  return lines.slice(1).map((line) => {
    const fields = splitCsvLine(line);
    if (fields.length !== header.length) {
      throw new BenchmarkCsvError(
        `Cannot parse benchmark CSV line "${line}": ${fields.length} fields, expected ${header.length}`,
      );
    }
    const num = (column: number) => {
      const value = Number(fields[column]);
      if (fields[column] === "" || !Number.isFinite(value)) {
        throw new BenchmarkCsvError(
          `Cannot parse benchmark CSV line "${line}": "${fields[column]}" is not a number`,
        );
      }
      return value;
    };
    return {
      test: fields[at.test],
      rps: num(at.rps),
      avgLatencyMs: num(at.avgLatencyMs),
      p50LatencyMs: num(at.p50LatencyMs),
      p99LatencyMs: num(at.p99LatencyMs),
      maxLatencyMs: num(at.maxLatencyMs),
    };
  });
}
