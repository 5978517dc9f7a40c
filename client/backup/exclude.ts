/**
 * Exclude patterns for `ddb backup`, with restic-like semantics.
 *
 * A pattern is matched against absolute POSIX paths, case-sensitively:
 *
 * - `*` matches any run of characters within one path component (also an
 *   empty run, and names starting with `.`); `?` matches one character
 *   other than `/`.
 * - `**` as a whole component matches zero or more components: `a/**`
 *   matches `a` and everything below it, and followed by `/b` it matches
 *   `a/b`, `a/x/b` and `a/x/y/b`. Elsewhere (`foo**`), `**` is the same as `*`.
 * - `[abc]`, `[a-z]` and `[!x]` (or `[^x]`) match one character of, or not
 *   of, a class. A `]` right after `[` or `[!` is a member; a class never
 *   matches `/` and cannot contain it.
 * - `\` makes the next character literal (`\*`, `\[`, `\\`, `\!`); `\/` is the
 *   same as `/`.
 * - A pattern starting with `/` is anchored to the filesystem root. Any other
 *   pattern matches at any depth: `*.tmp` and `node_modules` match a name in
 *   any directory, `src/gen` matches `/any/where/src/gen`.
 * - A pattern ending in `/` matches directories only.
 * - A path is excluded when it, or one of its ancestor directories, matches
 *   (as in restic): `/home/u/.cache` also excludes `/home/u/.cache/x/y`.
 * - `!pattern` (re-including) is not supported and is rejected with an
 *   {@linkcode ExcludePatternError}; write `\!name` for a name that starts
 *   with `!`.
 *
 * Empty components (`a//b`) and `.` components are ignored. Each pattern is
 * compiled to a regular expression once; all patterns together become two
 * combined expressions (one for files, one for directories), so a call to
 * {@linkcode ExcludeMatcher.excludes} is one regular expression test.
 *
 * @module
 */

/** Where a pattern came from, for error messages. */
export interface PatternSource {
  /** The exclude file. */
  file: string;
  /** 1-based line number in it. */
  line: number;
}

/** An exclude pattern (or a line of an exclude file) cannot be parsed. */
export class ExcludePatternError extends SyntaxError {
  /** The malformed pattern. */
  readonly pattern: string;
  /** Why it is malformed. */
  readonly reason: string;

  /** Builds the error for `pattern`, read from `source` if given. */
  constructor(
    pattern: string,
    reason: string,
    options?: ErrorOptions & { source?: PatternSource },
  ) {
    const where = options?.source === undefined
      ? ""
      : ` (${options.source.file} line ${options.source.line})`;
    super(`Cannot parse exclude pattern "${pattern}"${where}: ${reason}`, options);
    this.name = "ExcludePatternError";
    this.pattern = pattern;
    this.reason = reason;
  }
}

/** A pattern compiled to a regular expression source. */
interface CompiledPattern {
  /**
   * Regular expression source matching the end of a path (from a `/` on)
   * named by the pattern; anchored patterns must match from the start.
   */
  source: string;
  /** The pattern started with `/`. */
  anchored: boolean;
  /** The pattern ended in `/`: it names directories only. */
  dirOnly: boolean;
}

/** Regular expression flags: code points (`u`) and `.` matching newlines (`s`). */
const FLAGS = "su";

/** `c` (one code point) as a regular expression literal. */
function literal(c: string): string {
  if (/^[A-Za-z0-9_]$/.test(c)) return c;
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

/**
 * Compiles one component's glob (no `/` in it, `\` escapes kept) to a
 * regular expression source. `pattern` is only used in error messages.
 */
function compileComponent(glob: string, pattern: string): string {
  const chars = Array.from(glob);
  let out = "";
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    if (c === "\\") {
      if (i + 1 >= chars.length) {
        throw new ExcludePatternError(pattern, "it ends with an unfinished escape '\\'");
      }
      out += literal(chars[i + 1]);
      i += 2;
    } else if (c === "*") {
      while (chars[i] === "*") i++;
      out += "[^/]*";
    } else if (c === "?") {
      out += "[^/]";
      i++;
    } else if (c === "[") {
      const [source, next] = compileClass(chars, i, pattern);
      out += source;
      i = next;
    } else {
      out += literal(c);
      i++;
    }
  }
  return out;
}

/**
 * Compiles the class starting at `chars[start]` (a `[`); returns the source
 * and the index just past its `]`.
 */
function compileClass(chars: string[], start: number, pattern: string): [string, number] {
  let i = start + 1;
  let negated = false;
  if (chars[i] === "!" || chars[i] === "^") {
    negated = true;
    i++;
  }
  const readChar = (): string => {
    if (i >= chars.length) throw new ExcludePatternError(pattern, "a '[' class is not closed");
    let c = chars[i++];
    if (c === "\\") {
      if (i >= chars.length) throw new ExcludePatternError(pattern, "a '[' class is not closed");
      c = chars[i++];
    }
    return c;
  };
  let members = "";
  let first = true;
  while (true) {
    if (i >= chars.length) throw new ExcludePatternError(pattern, "a '[' class is not closed");
    if (chars[i] === "]" && !first) {
      i++;
      break;
    }
    first = false;
    const low = readChar();
    let high = low;
    if (chars[i] === "-" && i + 1 < chars.length && chars[i + 1] !== "]") {
      i++;
      high = readChar();
    }
    if (low === "/" || high === "/") {
      throw new ExcludePatternError(pattern, "a '[' class cannot contain '/'");
    }
    if (low.codePointAt(0)! > high.codePointAt(0)!) {
      throw new ExcludePatternError(pattern, `the class range "${low}-${high}" is reversed`);
    }
    members += low === high ? literal(low) : `${literal(low)}-${literal(high)}`;
  }
  return [negated ? `[^/${members}]` : `(?!/)[${members}]`, i];
}

/** Splits `glob` at `/` and `\\/` outside classes (other escapes are kept in the parts). */
function splitComponents(glob: string): string[] {
  const parts: string[] = [];
  let current = "";
  const chars = Array.from(glob);
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    if (c === "/" || (c === "\\" && chars[i + 1] === "/")) {
      parts.push(current);
      current = "";
      i += c === "/" ? 1 : 2;
    } else if (c === "\\") {
      current += chars.slice(i, i + 2).join("");
      i += 2;
    } else if (c === "[") {
      // Copy the class whole (a `/` in it is reported by compileClass).
      let j = i + 1;
      if (chars[j] === "!" || chars[j] === "^") j++;
      if (chars[j] === "]") j++;
      while (j < chars.length && chars[j] !== "]") j += chars[j] === "\\" ? 2 : 1;
      j = Math.min(j + 1, chars.length);
      current += chars.slice(i, j).join("");
      i = j;
    } else {
      current += c;
      i++;
    }
  }
  parts.push(current);
  return parts;
}

/** Compiles one pattern; throws {@linkcode ExcludePatternError} when it is malformed. */
function compilePattern(pattern: string): CompiledPattern {
  if (pattern === "") throw new ExcludePatternError(pattern, "it is empty");
  if (pattern.startsWith("!")) {
    throw new ExcludePatternError(
      pattern,
      "negation ('!pattern') is not supported; write '\\!' for a name starting with '!'",
    );
  }
  const parts = splitComponents(pattern);
  // `/a` splits to ["", "a"]: anchored; `a/` to ["a", ""]: directories only.
  const anchored = parts[0] === "";
  const dirOnly = parts.length > 1 && parts[parts.length - 1] === "";
  const components = parts.filter((c) => c !== "" && c !== ".");
  if (components.length === 0) {
    throw new ExcludePatternError(pattern, "it names no path component");
  }
  // A relative pattern may start at any depth, so leading `**` add nothing.
  let first = 0;
  while (!anchored && components[first] === "**") first++;
  let source = "";
  for (const component of components.slice(first)) {
    source += component === "**" ? "(?:/[^/]+)*" : `/${compileComponent(component, pattern)}`;
  }
  return { source, anchored, dirOnly };
}

/**
 * One expression for `patterns`, testing files or directories; `undefined`
 * when none can match. A path matches a pattern itself or through an
 * ancestor (`…/`); a file matches directory-only patterns only through an
 * ancestor (always a directory).
 */
function combine(patterns: readonly CompiledPattern[], dirs: boolean): RegExp | undefined {
  const alternatives: string[] = [];
  for (const anchored of [false, true]) {
    const here = patterns.filter((p) => p.anchored === anchored);
    const itself = here.filter((p) => dirs || !p.dirOnly).map((p) => p.source);
    const within = here.filter((p) => !dirs && p.dirOnly).map((p) => p.source);
    const ends: string[] = [];
    if (itself.length > 0) ends.push(`(?:${itself.join("|")})(?:/|$)`);
    if (within.length > 0) ends.push(`(?:${within.join("|")})/`);
    if (ends.length > 0) alternatives.push(`${anchored ? "" : ".*"}(?:${ends.join("|")})`);
  }
  if (alternatives.length === 0) return undefined;
  return new RegExp(`^(?:${alternatives.join("|")})`, FLAGS);
}

/** A pattern read from an exclude file, with its 1-based line number. */
export interface ExcludeFileLine {
  /** The pattern, trimmed. */
  pattern: string;
  /** Its line number. */
  line: number;
}

/**
 * Parses the text of an exclude file: one pattern per line; leading and
 * trailing whitespace is trimmed (so a name that starts or ends with a space
 * needs a class, e.g. `[ ]name`); blank lines and lines starting with `#`
 * (after trimming) are ignored. CRLF line ends are accepted. The patterns
 * are not compiled here.
 */
export function parseExcludeFile(text: string): ExcludeFileLine[] {
  const patterns: ExcludeFileLine[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const pattern = lines[n].trim();
    if (pattern === "" || pattern.startsWith("#")) continue;
    patterns.push({ pattern, line: n + 1 });
  }
  return patterns;
}

/** Decides which paths a backup leaves out; see the module documentation for the pattern syntax. */
export class ExcludeMatcher {
  /** The patterns, as given. */
  readonly patterns: readonly string[];
  readonly #files: RegExp | undefined;
  readonly #dirs: RegExp | undefined;

  /**
   * Compiles `patterns`; throws {@linkcode ExcludePatternError} for the
   * first malformed one (empty, `!`-negated, unclosed class, trailing `\`…).
   * Patterns are used as given (not trimmed).
   */
  constructor(patterns: readonly string[]) {
    this.patterns = [...patterns];
    const compiled = this.patterns.map(compilePattern);
    this.#files = combine(compiled, false);
    this.#dirs = combine(compiled, true);
  }

  /**
   * Reads patterns from the exclude file at `path` (format:
   * {@linkcode parseExcludeFile}). Throws {@linkcode ExcludePatternError}
   * naming the file and line of a malformed pattern, and the file system's
   * error when the file cannot be read.
   */
  static async fromFile(path: string): Promise<ExcludeMatcher> {
    const patterns = parseExcludeFile(await Deno.readTextFile(path));
    for (const { pattern, line } of patterns) {
      try {
        compilePattern(pattern);
      } catch (cause) {
        if (!(cause instanceof ExcludePatternError)) throw cause;
        throw new ExcludePatternError(pattern, cause.reason, {
          cause,
          source: { file: path, line },
        });
      }
    }
    return new ExcludeMatcher(patterns.map((p) => p.pattern));
  }

  /** Whether no pattern was given (nothing is ever excluded). */
  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /**
   * Whether `absolutePath` (a directory when `isDir`) is excluded: it or one
   * of its ancestors matches a pattern. Repeated and trailing `/` are
   * ignored. Throws a `TypeError` if the path is not absolute.
   */
  excludes(absolutePath: string, isDir: boolean): boolean {
    if (!absolutePath.startsWith("/")) {
      throw new TypeError(`Cannot match path "${absolutePath}": it is not absolute`);
    }
    const re = isDir ? this.#dirs : this.#files;
    if (re === undefined) return false;
    let path = absolutePath;
    if (path.length > 1 && (path.endsWith("/") || path.includes("//"))) {
      path = path.replace(/\/{2,}/g, "/");
      if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
    }
    return re.test(path);
  }
}

/**
 * One exclusion test for several matchers (command-line patterns, exclude
 * files): a path is left out when any of them excludes it. `undefined` when
 * none has a pattern, so that a backup knows nothing is excluded (it then
 * reads small files along with their directory's scan, see
 * `BackupOptions.exclude`).
 */
export function excludeAny(
  matchers: readonly ExcludeMatcher[],
): ((absolutePath: string, isDir: boolean) => boolean) | undefined {
  const active = matchers.filter((m) => !m.empty);
  if (active.length === 0) return undefined;
  return (absolutePath, isDir) => active.some((m) => m.excludes(absolutePath, isDir));
}
