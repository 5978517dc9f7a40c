import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { updateDoc } from "./protocol_doc.ts";
import { buildCommandTable } from "../server/commands/table.ts";

Deno.test("docs/protocol.md command reference is up to date", async () => {
  const doc = await Deno.readTextFile(
    fromFileUrl(new URL("../docs/protocol.md", import.meta.url)),
  );
  if (updateDoc(doc) !== doc) {
    throw new Error("docs/protocol.md is stale: run deno run -A scripts/protocol_doc.ts");
  }
  for (const name of buildCommandTable().keys()) assert(doc.includes(`\`${name}\``));
});
