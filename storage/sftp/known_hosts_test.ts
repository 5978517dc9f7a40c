import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { checkHostKey, fingerprint, keyType, knownHostsName } from "./known_hosts.ts";

/** A fake ed25519 public key blob: type name then 32 key bytes. */
function keyBlob(fill: number): Uint8Array {
  const type = new TextEncoder().encode("ssh-ed25519");
  const blob = new Uint8Array(4 + type.length + 4 + 32);
  const view = new DataView(blob.buffer);
  view.setUint32(0, type.length);
  blob.set(type, 4);
  view.setUint32(4 + type.length, 32);
  blob.fill(fill, 8 + type.length);
  return blob;
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

const mine = keyBlob(1);
const other = keyBlob(2);

Deno.test("knownHostsName brackets non-default ports", () => {
  assert.equal(knownHostsName("nas.lan", 22), "nas.lan");
  assert.equal(knownHostsName("127.0.0.1", 2222), "[127.0.0.1]:2222");
});

Deno.test("checkHostKey matches plain names, lists, wildcards and negations", () => {
  const text = [
    "# comment",
    "",
    `nas.lan,10.0.0.5 ssh-ed25519 ${base64(mine)} me@nas`,
    `[nas.lan]:2222 ssh-ed25519 ${base64(other)}`,
    `*.example.org,!evil.example.org ssh-ed25519 ${base64(mine)}`,
    `host?.lan ssh-ed25519 ${base64(mine)}`,
  ].join("\n");
  assert.deepEqual(checkHostKey(text, "nas.lan", 22, mine), { kind: "trusted" });
  assert.deepEqual(checkHostKey(text, "NAS.lan", 22, mine), { kind: "trusted" });
  assert.deepEqual(checkHostKey(text, "10.0.0.5", 22, mine), { kind: "trusted" });
  assert.deepEqual(checkHostKey(text, "nas.lan", 2222, mine), {
    kind: "mismatch",
    knownTypes: ["ssh-ed25519"],
  });
  assert.deepEqual(checkHostKey(text, "nas.lan", 2222, other), { kind: "trusted" });
  assert.deepEqual(checkHostKey(text, "a.example.org", 22, mine), { kind: "trusted" });
  assert.deepEqual(checkHostKey(text, "evil.example.org", 22, mine), { kind: "unknown" });
  assert.deepEqual(checkHostKey(text, "host1.lan", 22, mine), { kind: "trusted" });
  assert.deepEqual(checkHostKey(text, "host12.lan", 22, mine), { kind: "unknown" });
  assert.deepEqual(checkHostKey(text, "nas.lan.evil", 22, mine), { kind: "unknown" });
  assert.deepEqual(checkHostKey("", "nas.lan", 22, mine), { kind: "unknown" });
});

Deno.test("checkHostKey understands hashed names and @revoked, ignores @cert-authority", () => {
  const salt = new Uint8Array(20).fill(7);
  const hash = createHmac("sha1", salt).update("[127.0.0.1]:2222").digest("base64");
  const hashed = `|1|${base64(salt)}|${hash} ssh-ed25519 ${base64(mine)}`;
  assert.deepEqual(checkHostKey(hashed, "127.0.0.1", 2222, mine), { kind: "trusted" });
  assert.deepEqual(checkHostKey(hashed, "127.0.0.1", 22, mine), { kind: "unknown" });

  const revoked = `${hashed}\n@revoked * ssh-ed25519 ${base64(mine)}`;
  assert.deepEqual(checkHostKey(revoked, "127.0.0.1", 2222, mine), { kind: "revoked" });
  const ca = `@cert-authority * ssh-ed25519 ${base64(mine)}`;
  assert.deepEqual(checkHostKey(ca, "nas.lan", 22, mine), { kind: "unknown" });
});

Deno.test("fingerprint and keyType describe a key blob like OpenSSH", () => {
  assert.equal(keyType(mine), "ssh-ed25519");
  assert.equal(keyType(new Uint8Array([0, 0])), "unknown");
  assert.match(fingerprint(mine), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.notEqual(fingerprint(mine), fingerprint(other));
});
