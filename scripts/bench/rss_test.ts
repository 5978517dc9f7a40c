import assert from "node:assert/strict";
import { parseVmRss, readRss, RssError } from "./rss.ts";

Deno.test("parseVmRss reads VmRSS in kB as bytes", () => {
  const status = "Name:\tdeno\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t4\n";
  assert.equal(parseVmRss(status), 100 * 1024 * 1024);
  assert.throws(() => parseVmRss("Name:\tdeno\n"), RssError);
});

Deno.test({
  name: "readRss reads this process's RSS",
  ignore: Deno.build.os !== "linux",
  fn() {
    assert.ok(readRss(Deno.pid) > 1024 * 1024);
    assert.throws(() => readRss(2 ** 30), /Cannot read RSS of process/);
  },
});
