import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteKvStore } from "../kv/sqlite_kv_store.ts";
import { KvFormatError } from "../kv/sqlite_kv_store.ts";
import { DumpDecoder, type DumpRecord } from "./dump_format.ts";
import { KvExport } from "./export.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function key(i: number): Uint8Array {
  return encoder.encode(`k${String(i).padStart(6, "0")}`);
}

Deno.test("export sees one snapshot while the store keeps writing between chunks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-export-test-" });
  const path = join(dir, "db.sqlite");
  const kv = SqliteKvStore.open(path);
  try {
    kv.transaction(() => {
      for (let i = 0; i < 3000; i++) kv.set(key(i), encoder.encode("gen-0"));
    });
    const chunks = KvExport.open(path, "test", 1_700_000_000_000, 4096);
    // The snapshot is taken at open: this write is not in the dump.
    kv.set(key(0), encoder.encode("too late"));
    const dump = new DumpDecoder();
    const records: DumpRecord[] = [];
    let generation = 0;
    for (const chunk of chunks) {
      dump.push(chunk);
      for (let item = dump.next(); item !== undefined; item = dump.next()) {
        if (item.kind === "record") records.push({ key: item.key, value: item.value });
      }
      // Between two chunks (two event-loop turns for a server), everything changes.
      generation++;
      kv.transaction(() => {
        for (let i = 0; i < 3000; i += 7) kv.set(key(i), encoder.encode(`gen-${generation}`));
        kv.delete(key(generation));
        kv.set(key(100_000 + generation), encoder.encode("new"));
      });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.ok(generation > 10, `only ${generation} chunks`);
    assert.equal(dump.finish().records, 3000);
    assert.equal(records.length, 3000);
    for (const [i, record] of records.entries()) {
      assert.deepEqual(record.key, key(i));
      assert.equal(decoder.decode(record.value), "gen-0");
    }
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export holds its snapshot until finished or left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-export-test-" });
  const path = join(dir, "db.sqlite");
  const kv = SqliteKvStore.open(path);
  const raw = new DatabaseSync(path);
  // A full checkpoint reports busy while a reader holds an older snapshot.
  const checkpointBusy = () =>
    Number(raw.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get()?.busy ?? -1);
  try {
    kv.transaction(() => {
      for (let i = 0; i < 2000; i++) kv.set(key(i), new Uint8Array(100));
    });
    const early = KvExport.open(path, "test", 0, 1024);
    assert.ok(early.next() !== undefined);
    kv.set(key(0), Uint8Array.of(1));
    assert.equal(checkpointBusy(), 1);
    early.close();
    assert.equal(checkpointBusy(), 0);
    for (const _ of KvExport.open(path, "test", 0, 1024)) break;
    kv.set(key(2), Uint8Array.of(1));
    assert.equal(checkpointBusy(), 0);
    for (const _ of KvExport.open(path, "test", 0, 1024)) {
      // Read to the end.
    }
    kv.set(key(1), Uint8Array.of(1));
    assert.equal(checkpointBusy(), 0);
  } finally {
    raw.close();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export of a missing or foreign file is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-export-test-" });
  try {
    assert.throws(() => KvExport.open(join(dir, "none.sqlite"), "x", 0), KvFormatError);
    await Deno.writeTextFile(join(dir, "text.sqlite"), "not sqlite at all, just some text here");
    assert.throws(() => KvExport.open(join(dir, "text.sqlite"), "x", 0), KvFormatError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `script` in a new Deno process; returns its stdout. */
async function runScript(script: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, decoder.decode(out.stderr));
  return decoder.decode(out.stdout);
}

Deno.test("export streams: peak RSS stays far below the dump's size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ddb-export-test-" });
  const path = join(dir, "db.sqlite");
  const records = 300_000;
  // 2 KB values: a dump of 600 MB, several times the export's working set.
  const value = new Uint8Array(2000).fill(0x5a);
  const kv = SqliteKvStore.open(path);
  try {
    for (let start = 0; start < records; start += 10_000) {
      kv.transaction(() => {
        for (let i = start; i < start + 10_000; i++) kv.set(key(i), value);
      });
    }
  } finally {
    kv.close();
  }
  try {
    // A fresh process, so that the peak (VmHWM) is the export's alone.
    const exportUrl = new URL("./export.ts", import.meta.url).href;
    const formatUrl = new URL("./dump_format.ts", import.meta.url).href;
    const output = await runScript(`
      import { KvExport } from ${JSON.stringify(exportUrl)};
      import { DumpDecoder } from ${JSON.stringify(formatUrl)};
      const dump = new DumpDecoder();
      let bytes = 0;
      for (const chunk of KvExport.open(${JSON.stringify(path)}, "big", 0)) {
        bytes += chunk.length;
        dump.push(chunk);
        while (dump.next() !== undefined) {}
      }
      const peak = /^VmHWM:\\s+(\\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1];
      console.log(JSON.stringify({ records: dump.finish().records, bytes, peak: Number(peak) * 1024 }));
    `);
    const { records: seen, bytes, peak } = JSON.parse(output);
    assert.equal(seen, records);
    assert.ok(bytes > 600_000_000, `dump of ${bytes} bytes`);
    assert.ok(peak < bytes / 2, `peak RSS ${peak} bytes for a dump of ${bytes}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
