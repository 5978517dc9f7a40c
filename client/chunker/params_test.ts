import assert from "node:assert/strict";
import {
  type ChunkerParams,
  DEFAULT_PARAMS,
  InvalidChunkerParamsError,
  MAX_MAX,
  validateParams,
} from "./params.ts";

Deno.test("DEFAULT_PARAMS are 512 KiB / 1 MiB / 8 MiB, valid and frozen", () => {
  assert.deepEqual({ ...DEFAULT_PARAMS }, { min: 524288, avg: 1048576, max: 8388608 });
  validateParams(DEFAULT_PARAMS);
  assert.ok(Object.isFrozen(DEFAULT_PARAMS));
});

Deno.test("validateParams accepts the edges", () => {
  validateParams({ min: 1, avg: 256, max: 257 });
  validateParams({ min: 255, avg: 256, max: MAX_MAX });
  validateParams({ min: 2 ** 28 - 1, avg: 2 ** 28, max: 2 ** 28 + 1 });
  validateParams({ min: 3000, avg: 8192, max: 50_000 });
});

Deno.test("validateParams rejects bad params with InvalidChunkerParamsError", () => {
  const bad: [ChunkerParams, string][] = [
    [{ min: 2048.5, avg: 8192, max: 65536 }, "min is not an integer"],
    [{ min: 2048, avg: NaN, max: 65536 }, "avg is not an integer"],
    [{ min: 2048, avg: 8192, max: Infinity }, "max is not an integer"],
    [{ min: 2048, avg: 6000, max: 65536 }, "avg must be a power of two"],
    [{ min: 64, avg: 128, max: 65536 }, "avg must be a power of two"],
    [{ min: 2048, avg: 2 ** 29, max: 2 ** 30 }, "avg must be a power of two"],
    [{ min: 0, avg: 8192, max: 65536 }, "min must be at least 1"],
    [{ min: 8192, avg: 8192, max: 65536 }, "min must be at least 1 and less than avg"],
    [{ min: 2048, avg: 8192, max: 8192 }, "max must be above avg"],
    [{ min: 2048, avg: 8192, max: MAX_MAX + 1 }, "max must be above avg and at most"],
  ];
  for (const [params, reason] of bad) {
    assert.throws(() => validateParams(params), (error: unknown) => {
      assert.ok(error instanceof InvalidChunkerParamsError, String(error));
      assert.ok(error instanceof RangeError);
      assert.equal(error.name, "InvalidChunkerParamsError");
      assert.equal(error.params, params);
      assert.ok(error.message.includes(reason), error.message);
      return true;
    });
  }
});

Deno.test("InvalidChunkerParamsError says which params and why", () => {
  const error = new InvalidChunkerParamsError({ min: 1, avg: 3, max: 2 }, "reason");
  assert.equal(error.message, "Cannot use chunker params {min: 1, avg: 3, max: 2}: reason");
});
