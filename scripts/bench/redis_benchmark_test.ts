import assert from "node:assert/strict";
import { redisBenchmarkArgs } from "./redis_benchmark.ts";

Deno.test("redisBenchmarkArgs maps options onto flags", () => {
  const common = { port: 7000, requests: 1000, clients: 50, timeoutMs: 1 };
  assert.deepEqual(
    redisBenchmarkArgs({ ...common, pipeline: 1, tests: ["set", "get"] }),
    ["-h", "127.0.0.1", "-p", "7000", "-n", "1000", "-c", "50", "--csv", "-t", "set,get"],
  );
  assert.deepEqual(
    redisBenchmarkArgs({ ...common, pipeline: 16, keyspace: 100, command: ["BEXISTS", "ab"] }),
    [
      ...["-h", "127.0.0.1", "-p", "7000", "-n", "1000", "-c", "50", "-P", "16", "-r", "100"],
      ...["--csv", "BEXISTS", "ab"],
    ],
  );
});
