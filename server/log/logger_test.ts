import assert from "node:assert/strict";
import { Logger, parseLogLevel } from "./logger.ts";

Deno.test("Logger writes one line per event at or above its level", () => {
  const lines: string[] = [];
  const logger = new Logger({
    level: "info",
    write: (line) => lines.push(line),
    now: () => new Date(0),
  });
  logger.debug("hidden");
  logger.info("server.start", { address: "127.0.0.1:1", note: "two words", gone: undefined });
  logger.error("boom", { empty: "" });
  assert.deepEqual(lines, [
    '1970-01-01T00:00:00.000Z INFO server.start address=127.0.0.1:1 note="two words"\n',
    '1970-01-01T00:00:00.000Z ERROR boom empty=""\n',
  ]);
});

Deno.test("parseLogLevel names the valid levels on error", () => {
  assert.equal(parseLogLevel("WARN"), "warn");
  assert.throws(() => parseLogLevel("loud"), /expected one of debug, info, warn, error/);
});
