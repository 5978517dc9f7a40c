import assert from "node:assert/strict";
import { FileType } from "../file_system.ts";
import {
  ATTR_OUT_SIZE,
  decodeRequest,
  direntSize,
  direntType,
  encodeAttrOut,
  encodeDirents,
  encodeDirentsPlus,
  encodeEntryOut,
  encodeInitOut,
  encodeOpenOut,
  encodeReplyHeader,
  encodeStatfsOut,
  ENTRY_OUT_SIZE,
  IN_HEADER_SIZE,
  INIT_OUT_SIZE,
  InitFlag,
  isNoReply,
  Opcode,
  OpenFlag,
  STATFS_OUT_SIZE,
  WireError,
} from "./wire.ts";

/** A request as the kernel writes it: header, then `args`. */
function request(opcode: number, nodeid: number, args: Uint8Array = new Uint8Array(0)) {
  const bytes = new Uint8Array(IN_HEADER_SIZE + args.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint32(4, opcode, true);
  view.setBigUint64(8, 0x1234_5678_9abcn, true);
  view.setBigUint64(16, BigInt(nodeid), true);
  view.setUint32(24, 1000, true);
  view.setUint32(28, 100, true);
  view.setUint32(32, 4242, true);
  bytes.set(args, IN_HEADER_SIZE);
  return bytes;
}

/** Little-endian fields as bytes: [value, byte width] pairs. */
function fields(...values: [number | bigint, 4 | 8][]): Uint8Array {
  const size = values.reduce((sum, [, width]) => sum + width, 0);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const [value, width] of values) {
    if (width === 4) view.setUint32(at, Number(value), true);
    else view.setBigUint64(at, BigInt(value), true);
    at += width;
  }
  return bytes;
}

const attr = {
  ino: 7,
  mode: FileType.REG | 0o644,
  size: 1025,
  nlink: 1,
  uid: 1000,
  gid: 100,
  mtimeMs: 1_700_000_000_123.5,
};

Deno.test("decodeRequest reads the header", () => {
  const { header, body } = decodeRequest(request(Opcode.GETATTR, 7, new Uint8Array(16)));
  assert.deepEqual(header, {
    length: IN_HEADER_SIZE + 16,
    opcode: Opcode.GETATTR,
    unique: 0x1234_5678_9abcn,
    nodeid: 7,
    uid: 1000,
    gid: 100,
    pid: 4242,
  });
  assert.deepEqual(body, { kind: "getattr" });
});

Deno.test("decodeRequest decodes INIT, LOOKUP, READ, READDIRPLUS, OPEN and RELEASE", () => {
  const init = fields([7, 4], [38, 4], [131072, 4], [0xffff, 4], [0, 4]);
  assert.deepEqual(decodeRequest(request(Opcode.INIT, 0, init)).body, {
    kind: "init",
    major: 7,
    minor: 38,
    maxReadahead: 131072,
    flags: 0xffff,
  });
  const name = new TextEncoder().encode("héllo.txt\0");
  assert.deepEqual(decodeRequest(request(Opcode.LOOKUP, 1, name)).body, {
    kind: "lookup",
    name: "héllo.txt",
  });
  const read = fields([9, 8], [2 ** 40, 8], [131072, 4], [0, 4], [0, 8], [0, 4], [0, 4]);
  assert.deepEqual(decodeRequest(request(Opcode.READ, 7, read)).body, {
    kind: "read",
    fh: 9,
    offset: 2 ** 40,
    size: 131072,
  });
  assert.deepEqual(decodeRequest(request(Opcode.READDIRPLUS, 1, read)).body, {
    kind: "readdir",
    fh: 9,
    offset: 2 ** 40,
    size: 131072,
    plus: true,
  });
  assert.deepEqual(decodeRequest(request(Opcode.OPEN, 7, fields([0o100000, 4], [0, 4]))).body, {
    kind: "open",
    flags: 0o100000,
  });
  const release = fields([3, 8], [0, 4], [0, 4], [0, 8]);
  assert.deepEqual(decodeRequest(request(Opcode.RELEASE, 7, release)).body, {
    kind: "release",
    fh: 3,
  });
});

Deno.test("decodeRequest decodes FORGET, BATCH_FORGET and INTERRUPT, which get no reply", () => {
  const forget = decodeRequest(request(Opcode.FORGET, 7, fields([3, 8]))).body;
  assert.deepEqual(forget, { kind: "forget", nlookup: 3 });
  const batch = fields([2, 4], [0, 4], [7, 8], [1, 8], [8, 8], [5, 8]);
  const batchForget = decodeRequest(request(Opcode.BATCH_FORGET, 0, batch)).body;
  assert.deepEqual(batchForget, {
    kind: "batchForget",
    forgets: [{ nodeid: 7, nlookup: 1 }, { nodeid: 8, nlookup: 5 }],
  });
  const interrupt = decodeRequest(request(Opcode.INTERRUPT, 0, fields([99, 8]))).body;
  assert.deepEqual(interrupt, { kind: "interrupt", unique: 99n });
  for (const body of [forget, batchForget, interrupt]) assert.equal(isNoReply(body), true);
  assert.equal(isNoReply({ kind: "getattr" }), false);
});

Deno.test("decodeRequest sorts write-like opcodes from unknown ones", () => {
  for (
    const opcode of [
      Opcode.WRITE,
      Opcode.SETATTR,
      Opcode.CREATE,
      Opcode.MKDIR,
      Opcode.UNLINK,
      Opcode.RMDIR,
      Opcode.RENAME,
      Opcode.RENAME2,
      Opcode.LINK,
      Opcode.SYMLINK,
      Opcode.MKNOD,
      Opcode.SETXATTR,
      Opcode.REMOVEXATTR,
      Opcode.FALLOCATE,
      Opcode.COPY_FILE_RANGE,
      Opcode.TMPFILE,
    ]
  ) {
    assert.deepEqual(decodeRequest(request(opcode, 1)).body, { kind: "write" }, `opcode ${opcode}`);
  }
  for (const opcode of [Opcode.GETXATTR, Opcode.FLUSH, Opcode.LSEEK, Opcode.IOCTL, 9999]) {
    assert.deepEqual(decodeRequest(request(opcode, 1)).body, { kind: "unsupported" });
  }
});

Deno.test("decodeRequest refuses truncated requests", () => {
  assert.throws(() => decodeRequest(new Uint8Array(20)), WireError);
  assert.throws(() => decodeRequest(request(Opcode.READ, 7, new Uint8Array(8))), WireError);
  const lying = fields([1000, 4], [0, 4]);
  assert.throws(() => decodeRequest(request(Opcode.BATCH_FORGET, 0, lying)), WireError);
});

Deno.test("decodeRequest copies: the buffer can be reused at once", () => {
  const bytes = request(Opcode.LOOKUP, 1, new TextEncoder().encode("a\0"));
  const decoded = decodeRequest(bytes);
  bytes.fill(0);
  assert.deepEqual(decoded.body, { kind: "lookup", name: "a" });
  assert.equal(decoded.header.unique, 0x1234_5678_9abcn);
});

Deno.test("encodeReplyHeader sets the length, the negated errno and the id", () => {
  const ok = new DataView(encodeReplyHeader(5n, 104).buffer);
  assert.deepEqual([ok.getUint32(0, true), ok.getInt32(4, true), ok.getBigUint64(8, true)], [
    120,
    0,
    5n,
  ]);
  const error = new DataView(encodeReplyHeader(6n, 104, 2).buffer);
  assert.deepEqual([error.getUint32(0, true), error.getInt32(4, true)], [16, -2]);
});

Deno.test("encodeInitOut lays out struct fuse_init_out", () => {
  const flags = InitFlag.ASYNC_READ | InitFlag.MAX_PAGES;
  const view = new DataView(
    encodeInitOut({
      maxReadahead: 131072,
      flags,
      maxBackground: 64,
      congestionThreshold: 48,
      maxWrite: 131072,
      timeGran: 1,
      maxPages: 256,
    }).buffer,
  );
  assert.equal(view.byteLength, INIT_OUT_SIZE);
  assert.deepEqual(
    [
      view.getUint32(0, true),
      view.getUint32(4, true),
      view.getUint32(8, true),
      view.getUint32(12, true),
      view.getUint16(16, true),
      view.getUint16(18, true),
      view.getUint32(20, true),
      view.getUint32(24, true),
      view.getUint16(28, true),
    ],
    [7, 31, 131072, flags, 64, 48, 131072, 1, 256],
  );
});

Deno.test("encodeEntryOut and encodeAttrOut lay out the attributes and timeouts", () => {
  const entry = new DataView(encodeEntryOut(attr, { entryMs: 1500, attrMs: 250 }).buffer);
  assert.equal(entry.byteLength, ENTRY_OUT_SIZE);
  assert.equal(entry.getBigUint64(0, true), 7n); // nodeid
  assert.equal(entry.getBigUint64(16, true), 1n); // entry_valid
  assert.equal(entry.getBigUint64(24, true), 0n); // attr_valid
  assert.equal(entry.getUint32(32, true), 500_000_000);
  assert.equal(entry.getUint32(36, true), 250_000_000);
  const at = 40; // struct fuse_attr
  assert.equal(entry.getBigUint64(at, true), 7n);
  assert.equal(entry.getBigUint64(at + 8, true), 1025n);
  assert.equal(entry.getBigUint64(at + 16, true), 3n); // 512-byte blocks
  assert.equal(entry.getBigUint64(at + 32, true), 1_700_000_000n); // mtime
  assert.equal(entry.getUint32(at + 52, true), 123_500_000); // mtimensec
  assert.equal(entry.getUint32(at + 60, true), FileType.REG | 0o644);
  assert.deepEqual(
    [
      entry.getUint32(at + 64, true),
      entry.getUint32(at + 68, true),
      entry.getUint32(at + 72, true),
    ],
    [1, 1000, 100],
  );
  const out = new DataView(encodeAttrOut(attr, 1000).buffer);
  assert.equal(out.byteLength, ATTR_OUT_SIZE);
  assert.equal(out.getBigUint64(0, true), 1n);
  assert.equal(out.getBigUint64(16, true), 7n);
  assert.equal(out.getBigUint64(16 + 8, true), 1025n);
});

Deno.test("encodeAttrOut writes times before 1970 as negative seconds", () => {
  const view = new DataView(encodeAttrOut({ ...attr, mtimeMs: -1500 }, 0).buffer);
  assert.equal(view.getBigInt64(16 + 32, true), -2n);
  assert.equal(view.getUint32(16 + 52, true), 500_000_000);
});

Deno.test("encodeOpenOut and encodeStatfsOut", () => {
  const open = new DataView(encodeOpenOut(2 ** 33, OpenFlag.KEEP_CACHE).buffer);
  assert.deepEqual([open.getBigUint64(0, true), open.getUint32(8, true)], [2n ** 33n, 2]);
  const statfs = new DataView(
    encodeStatfsOut({
      blocks: 100,
      bfree: 0,
      bavail: 0,
      files: 12,
      ffree: 0,
      blockSize: 4096,
      nameMax: 255,
    }).buffer,
  );
  assert.equal(statfs.byteLength, STATFS_OUT_SIZE);
  assert.deepEqual(
    [
      statfs.getBigUint64(0, true),
      statfs.getBigUint64(24, true),
      statfs.getUint32(40, true),
      statfs.getUint32(44, true),
      statfs.getUint32(48, true),
    ],
    [100n, 12n, 4096, 255, 4096],
  );
});

Deno.test("encodeDirents pads each record to 8 bytes", () => {
  const name = (text: string) => new TextEncoder().encode(text);
  assert.equal(direntSize(1, false), 32);
  assert.equal(direntSize(8, false), 32);
  assert.equal(direntSize(9, false), 40);
  assert.equal(direntSize(1, true), 160);
  const bytes = encodeDirents([
    { ino: 1, offset: 1, type: direntType(FileType.DIR), name: name(".") },
    { ino: 7, offset: 2, type: direntType(FileType.REG), name: name("file.txt1") },
  ]);
  assert.equal(bytes.length, 32 + 40);
  const view = new DataView(bytes.buffer);
  assert.deepEqual(
    [view.getBigUint64(32, true), view.getBigUint64(40, true), view.getUint32(48, true)],
    [7n, 2n, 9],
  );
  assert.equal(view.getUint32(52, true), 8); // DT_REG
  assert.equal(view.getUint32(20, true), 4); // DT_DIR
  assert.equal(new TextDecoder().decode(bytes.subarray(56, 65)), "file.txt1");
});

Deno.test("encodeDirentsPlus puts an entry before each dirent, node id 0 without attributes", () => {
  const name = new TextEncoder().encode("a");
  const bytes = encodeDirentsPlus([
    { ino: 1, offset: 1, type: 4, name },
    { ino: 7, offset: 2, type: 8, name, attr },
  ], { entryMs: 1000, attrMs: 1000 });
  assert.equal(bytes.length, 2 * 160);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getBigUint64(0, true), 0n);
  assert.equal(view.getBigUint64(ENTRY_OUT_SIZE, true), 1n);
  assert.equal(view.getBigUint64(160, true), 7n);
  assert.equal(view.getBigUint64(160 + 40 + 8, true), 1025n);
  assert.equal(view.getBigUint64(160 + ENTRY_OUT_SIZE + 8, true), 2n);
});
