import assert from "node:assert/strict";
import { mountsAt, parseMountInfo } from "./mount_info.ts";

const SAMPLE = [
  "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard",
  "36 22 0:39 / /tmp/my\\040mount rw,nosuid,nodev,relatime shared:20 - fuse.ddb ddb rw,user_id=0",
  "37 36 0:40 / /tmp/my\\040mount ro,nosuid,nodev - fuse.ddb ddb ro,user_id=0",
  "garbage line",
  "",
].join("\n");

Deno.test("parseMountInfo reads fields and decodes escapes", () => {
  const entries = parseMountInfo(SAMPLE);
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[1], {
    id: 36,
    device: "0:39",
    mountPoint: "/tmp/my mount",
    options: ["rw", "nosuid", "nodev", "relatime"],
    type: "fuse.ddb",
    source: "ddb",
  });
  assert.equal(entries[2].device, "0:40");
});

Deno.test("mountsAt lists stacked mounts bottom to top", () => {
  const stacked = mountsAt(parseMountInfo(SAMPLE), "/tmp/my mount");
  assert.deepEqual(stacked.map((entry) => entry.id), [36, 37]);
  assert.deepEqual(mountsAt(parseMountInfo(SAMPLE), "/elsewhere"), []);
});
