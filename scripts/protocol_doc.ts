/**
 * Generates the command reference of `docs/protocol.md` from the command
 * table, so the document cannot drift from the code.
 *
 * `deno run -A scripts/protocol_doc.ts` rewrites the part of
 * docs/protocol.md between the markers; `--check` exits 1 when it is stale.
 *
 * @module
 */

import { fileURLToPath as fromFileUrl } from "node:url";
import { COMMAND_FAMILIES } from "../server/commands/table.ts";
import type { CommandSpec } from "../server/commands/command_spec.ts";

/** The marker lines around the generated part. */
export const BEGIN_MARKER = "<!-- BEGIN GENERATED COMMAND REFERENCE -->";
/** See {@linkcode BEGIN_MARKER}. */
export const END_MARKER = "<!-- END GENERATED COMMAND REFERENCE -->";

function arity(spec: CommandSpec): string {
  const n = Math.abs(spec.arity) - 1;
  return spec.arity >= 0 ? `${n}` : `≥ ${n}`;
}

/** The generated Markdown: one table per command family. */
export function commandReference(): string {
  const parts: string[] = [];
  for (const [family, specs] of COMMAND_FAMILIES) {
    parts.push(`### ${family}\n`);
    parts.push("| command | args | flags | what it does |");
    parts.push("|---|---|---|---|");
    for (const spec of specs) {
      const synopsis = spec.synopsis === "" ? "" : `\`${spec.synopsis.replaceAll("|", "\\|")}\``;
      const flags = spec.flags.join(", ");
      parts.push(
        `| \`${spec.name}\`${synopsis === "" ? "" : " " + synopsis} | ${
          arity(spec)
        } | ${flags} | ${spec.summary} |`,
      );
    }
    parts.push("");
  }
  return parts.join("\n");
}

/** Replaces the generated part of `doc`; throws when the markers are missing. */
export function updateDoc(doc: string): string {
  const begin = doc.indexOf(BEGIN_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (begin < 0 || end < begin) {
    throw new Error("Cannot update docs/protocol.md: generated-part markers are missing");
  }
  return doc.slice(0, begin + BEGIN_MARKER.length) + "\n\n" + commandReference() + "\n" +
    doc.slice(end);
}

if (import.meta.main) {
  const path = fromFileUrl(new URL("../docs/protocol.md", import.meta.url));
  const doc = await Deno.readTextFile(path);
  const updated = updateDoc(doc);
  if (Deno.args.includes("--check")) {
    if (updated !== doc) {
      console.error("docs/protocol.md is stale: run deno run -A scripts/protocol_doc.ts");
      Deno.exit(1);
    }
  } else if (updated !== doc) {
    await Deno.writeTextFile(path, updated);
  }
}
