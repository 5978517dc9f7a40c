/**
 * Starts a throwaway Ceph radosgw (the S3 server the tests use, see
 * `tests/_radosgw.ts`) by hand, prints how to reach it, and runs until
 * Ctrl-C, which kills it and removes its data (kept in RAM).
 *
 *     deno run -A scripts/radosgw.ts [--memory 4GiB]
 *
 * Prints shell lines to `eval` in another terminal, such as:
 *
 *     export AWS_ACCESS_KEY_ID=DDBTEST… AWS_SECRET_ACCESS_KEY=…
 *     export DDB_S3_URL='s3://ddb-bench/blobs?endpoint=http://127.0.0.1:41234&create_bucket=true'
 *
 * Needs the Debian packages `radosgw`, `ceph-mon` and `ceph-osd`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { canRunRadosgw, startRadosgw } from "../tests/_radosgw.ts";

const GiB = 1024 ** 3;

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { memory: { type: "string" } } });
  const memory = values.memory === undefined
    ? 4 * GiB
    : Number(values.memory.replace(/GiB$/i, "")) * GiB;
  if (!Number.isFinite(memory) || memory <= 0) {
    console.error(`Cannot use --memory "${values.memory}": expected a number of GiB such as 4GiB`);
    Deno.exit(2);
  }
  if (!canRunRadosgw()) Deno.exit(1);
  const gw = await startRadosgw({ memoryBytes: memory });
  console.log(`export AWS_ACCESS_KEY_ID=${gw.accessKey} AWS_SECRET_ACCESS_KEY=${gw.secretKey}`);
  console.log(
    `export DDB_S3_URL='s3://ddb-bench/blobs?endpoint=${gw.endpoint}&create_bucket=true'`,
  );
  console.error(`radosgw on ${gw.endpoint}, data in RAM, config in ${gw.dir}; Ctrl-C stops it`);
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  await gw.stop();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}
