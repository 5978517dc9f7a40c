/**
 * Command-line flag parsing shared by every subcommand: strict (an unknown
 * flag is an error, never ignored), with `--help` on every command.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Bad command-line usage: the message says what, exit code 2. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** One flag a command accepts. */
export interface FlagSpec {
  /** `string` takes a value; `boolean` does not. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** May be given several times (string flags). */
  multiple?: boolean;
  /** Value placeholder in help, e.g. `HOST:PORT`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/** A command's flags by long name (without `--`). */
export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed flags and positionals. */
export interface ParsedFlags {
  /** Flag values by long name; repeated flags give arrays. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Arguments that are not flags. */
  positionals: string[];
}

/** Parses `args` against `specs`; throws {@linkcode UsageError} on anything unknown or malformed. */
export function parseFlags(args: string[], specs: FlagSpecs): ParsedFlags {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: true,
    });
    return { values: values as ParsedFlags["values"], positionals };
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new UsageError(message.replace(/\. To specify a positional.*$/s, ""), { cause });
  }
}

/** Formats the help text of a command. */
export function formatHelp(usage: string, description: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const short = spec.short ? `-${spec.short}, ` : "    ";
    const value = spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : "";
    return [`  ${short}--${name}${value}`, spec.help + (spec.multiple ? " (repeatable)" : "")];
  });
  rows.push(["  -h, --help", "Show this help"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return `Usage: ${usage}\n\n${description}\n\nOptions:\n` +
    rows.map(([left, right]) => left.padEnd(width) + right).join("\n") + "\n";
}

/** The value of a string flag, or undefined. */
export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const value = flags.values[name];
  return typeof value === "string" ? value : undefined;
}
