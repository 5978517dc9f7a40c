import assert from "node:assert/strict";
import { UsageError } from "../../cli/flags.ts";
import { DEFAULT_OPTIONS, parseBenchOptions, QUICK_OPTIONS } from "./options.ts";

Deno.test("parseBenchOptions: defaults, --quick, --soak-minutes and --json", () => {
  assert.deepEqual(parseBenchOptions([]), DEFAULT_OPTIONS);
  assert.deepEqual(parseBenchOptions(["--quick"]), QUICK_OPTIONS);
  const full = parseBenchOptions(["--soak-minutes", "10", "--json", "out.json"]);
  assert.equal(full?.soakMinutes, 10);
  assert.equal(full?.json, "out.json");
  assert.equal(full?.requests, DEFAULT_OPTIONS.requests);
  assert.equal(parseBenchOptions(["--quick", "--soak-minutes=0.5"])?.soakMinutes, 0.5);
  assert.equal(parseBenchOptions(["--quick", "--repeats", "5"])?.repeats, 5);
  assert.equal(parseBenchOptions(["--help"]), undefined);
});

Deno.test("parseBenchOptions returns a copy that changing does not affect the defaults", () => {
  const options = parseBenchOptions([]);
  options!.blobRuns[0].count = 1;
  assert.equal(DEFAULT_OPTIONS.blobRuns[0].count, 2000);
});

Deno.test("parseBenchOptions rejects bad usage", () => {
  for (
    const args of [
      ["--soak-minutes", "0"],
      ["--soak-minutes", "x"],
      ["--soak-minutes", ""],
      ["--soak-minutes", "100000"],
      ["--json", ""],
      ["--repeats", "0"],
      ["--repeats", "1.5"],
      ["--repeats", "100"],
      ["--nope"],
      ["extra"],
    ]
  ) {
    assert.throws(() => parseBenchOptions(args), UsageError, args.join(" "));
  }
});
