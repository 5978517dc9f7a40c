/**
 * Splitting of an inline command line into arguments, with the quoting rules
 * of redis-cli and Redis' `sdssplitargs`.
 *
 * @module
 */

const BACKSLASH = 0x5c;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;

/** `isspace` of the C locale: space, `\t`, `\n`, `\v`, `\f`, `\r`. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Ends an unquoted argument: space, `\n`, `\r`, `\t`. */
function endsToken(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** The byte a backslash escape stands for inside double quotes. */
function unescape(c: number): number {
  switch (c) {
    case 0x6e: // n
      return 0x0a;
    case 0x72: // r
      return 0x0d;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x61: // a
      return 0x07;
    default:
      return c;
  }
}

/**
 * Splits one inline command line (without its line terminator) into
 * arguments, like Redis does for inline commands and redis-cli for typed
 * commands:
 *
 * - arguments are separated by spaces, tabs, CR or LF;
 * - `"..."` may hold spaces and the escapes `\n`, `\r`, `\t`, `\b`, `\a`,
 *   `\xHH` (two hex digits) and `\<any>` for that character itself;
 * - `'...'` is literal except for `\'`;
 * - a quote may start in the middle of an argument (`a"b c"` is `ab c`), but a
 *   closing quote must be followed by whitespace or the end of the line;
 * - a NUL byte ends the line, as in C.
 *
 * The returned arrays are views of one fresh array, never written again.
 *
 * @returns the arguments (empty for a blank line), or `undefined` when a
 * quote is unbalanced or a closing quote is followed by another character.
 */
export function splitArgs(line: Uint8Array): Uint8Array[] | undefined {
  const nul = line.indexOf(0);
  const n = nul < 0 ? line.length : nul;
  const args: Uint8Array[] = [];
  const scratch = new Uint8Array(n);
  let out = 0;
  let p = 0;
  for (;;) {
    while (p < n && isSpace(line[p])) p++;
    if (p >= n) return args;
    const tokenStart = out;
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      if (p >= n) {
        if (inDouble || inSingle) return undefined;
        break;
      }
      const c = line[p];
      if (inDouble) {
        if (c === BACKSLASH && p + 3 < n && line[p + 1] === 0x78) {
          const high = hexValue(line[p + 2]);
          const low = hexValue(line[p + 3]);
          if (high >= 0 && low >= 0) {
            scratch[out++] = high * 16 + low;
            p += 4;
            continue;
          }
        }
        if (c === BACKSLASH && p + 1 < n) {
          p++;
          scratch[out++] = unescape(line[p]);
        } else if (c === DOUBLE_QUOTE) {
          if (p + 1 < n && !isSpace(line[p + 1])) return undefined;
          done = true;
        } else {
          scratch[out++] = c;
        }
      } else if (inSingle) {
        if (c === BACKSLASH && p + 1 < n && line[p + 1] === SINGLE_QUOTE) {
          p++;
          scratch[out++] = SINGLE_QUOTE;
        } else if (c === SINGLE_QUOTE) {
          if (p + 1 < n && !isSpace(line[p + 1])) return undefined;
          done = true;
        } else {
          scratch[out++] = c;
        }
      } else if (endsToken(c)) {
        done = true;
      } else if (c === DOUBLE_QUOTE) {
        inDouble = true;
      } else if (c === SINGLE_QUOTE) {
        inSingle = true;
      } else {
        scratch[out++] = c;
      }
      p++;
    }
    args.push(scratch.subarray(tokenStart, out));
  }
}
