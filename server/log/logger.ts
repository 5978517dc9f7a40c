/**
 * A small structured logger: one line per event on a writer (stderr by
 * default), `TIME LEVEL event key=value …`. Values with spaces or quotes are
 * JSON-quoted so lines stay machine-splittable.
 *
 * @module
 */

/** Log levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Values that may be attached to a log line. */
export type LogFields = Record<string, string | number | bigint | boolean | undefined>;

/** Where log lines go and what time it is; both injectable for tests. */
export interface LoggerOptions {
  /** Lowest level that is written. */
  level?: LogLevel;
  /** Receives each complete line, newline included. */
  write?: (line: string) => void;
  /** The clock used for timestamps. */
  now?: () => Date;
}

/** Parses a level name; throws a TypeError naming the valid ones. */
export function parseLogLevel(text: string): LogLevel {
  const level = LOG_LEVELS.find((l) => l === text.toLowerCase());
  if (level === undefined) {
    throw new TypeError(
      `Cannot parse log level "${text}": expected one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return level;
}

const encoder = new TextEncoder();

function formatValue(value: string | number | bigint | boolean): string {
  const text = String(value);
  return text === "" || /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}

/** Writes one line per event at or above its level. */
export class Logger {
  readonly #rank: number;
  readonly #write: (line: string) => void;
  readonly #now: () => Date;

  /** Builds a logger; by default info level, to stderr, with the real clock. */
  constructor(options: LoggerOptions = {}) {
    this.#rank = LOG_LEVELS.indexOf(options.level ?? "info");
    this.#write = options.write ?? ((line) => Deno.stderr.writeSync(encoder.encode(line)));
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#rank;
  }

  /** Writes `event` with `fields` at `level`. */
  log(level: LogLevel, event: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    let line = `${this.#now().toISOString()} ${level.toUpperCase()} ${event}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
    }
    this.#write(line + "\n");
  }

  /** Logs at debug level. */
  debug(event: string, fields?: LogFields): void {
    this.log("debug", event, fields);
  }
  /** Logs at info level. */
  info(event: string, fields?: LogFields): void {
    this.log("info", event, fields);
  }
  /** Logs at warn level. */
  warn(event: string, fields?: LogFields): void {
    this.log("warn", event, fields);
  }
  /** Logs at error level. */
  error(event: string, fields?: LogFields): void {
    this.log("error", event, fields);
  }
}
