import assert from "node:assert/strict";
import { commandPrefix, encodeCommand } from "./resp_command.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("encodeCommand frames strings and bytes as bulk strings", () => {
  assert.equal(text(encodeCommand(["GET", "k"])), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  assert.equal(
    text(encodeCommand(["SET", new Uint8Array([0x61, 0x0d])])),
    "*2\r\n$3\r\nSET\r\n$2\r\na\r\r\n",
  );
  assert.equal(text(encodeCommand(["é"])), "*1\r\n$2\r\né\r\n");
});

Deno.test("commandPrefix plus the argument and CRLF is the encoded command", () => {
  const arg = new TextEncoder().encode("hello");
  const prefix = commandPrefix(["BPUT"], arg.length);
  assert.equal(text(prefix), "*2\r\n$4\r\nBPUT\r\n$5\r\n");
  assert.equal(text(prefix) + "hello\r\n", text(encodeCommand(["BPUT", arg])));
  assert.equal(text(commandPrefix([], 0)), "*1\r\n$0\r\n");
});

Deno.test("commandPrefix rejects a bad size", () => {
  assert.throws(() => commandPrefix(["BPUT"], -1), RangeError);
  assert.throws(() => commandPrefix(["BPUT"], 1.5), /Cannot encode argument size "1.5"/);
});
