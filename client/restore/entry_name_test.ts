import assert from "node:assert/strict";
import { checkEntryName, displayName, displayPath, UnsafeNameError } from "./entry_name.ts";

const encoder = new TextEncoder();

Deno.test("checkEntryName() accepts ordinary names", () => {
  for (const name of ["a", "...", ".hidden", "a b", "ünïcode ✓", "x:y", "\\", "-rf", "\ufeffbom"]) {
    assert.equal(checkEntryName(encoder.encode(name)), name);
  }
});

Deno.test("checkEntryName() refuses names that are not one safe component", () => {
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(), 'Cannot use name "": it is empty'],
    [encoder.encode("."), 'Cannot use name ".": it is a relative path component'],
    [encoder.encode(".."), 'Cannot use name "..": it is a relative path component'],
    [encoder.encode("../x"), 'Cannot use name "..\\x2fx": it contains "/"'],
    [encoder.encode("/"), 'Cannot use name "\\x2f": it contains "/"'],
    [encoder.encode("a\0"), 'Cannot use name "a\\x00": it contains NUL'],
    [new Uint8Array([0x66, 0xc3]), 'Cannot use name "f\\xc3": it is not valid UTF-8'],
    [
      new Uint8Array([0xed, 0xa0, 0x80]),
      'Cannot use name "\\xed\\xa0\\x80": it is not valid UTF-8',
    ],
  ];
  for (const [name, message] of cases) {
    assert.throws(() => checkEntryName(name), (e: Error) => {
      assert.ok(e instanceof UnsafeNameError);
      assert.equal(e.message, message);
      return true;
    });
  }
});

Deno.test("displayName() escapes invalid bytes, control characters and slashes", () => {
  assert.equal(displayName(encoder.encode("plain é ✓ 😀")), "plain é ✓ 😀");
  assert.equal(displayName(new Uint8Array([0x61, 0xff, 0x62])), "a\\xffb");
  assert.equal(displayName(encoder.encode("\x1b[31mred\n\x7f")), "\\x1b[31mred\\x0a\\x7f");
  assert.equal(displayName(new Uint8Array([0xf0, 0x9f, 0x98])), "\\xf0\\x9f\\x98");
  assert.equal(displayPath([encoder.encode("a"), encoder.encode("b/c")]), "a/b\\x2fc");
});
