/**
 * `ddb diff`: the paths added, removed and modified between two snapshots
 * (or two paths in snapshots), one line each, and a summary.
 *
 * Exit codes: 0 success; 1 failure; 2 bad usage.
 *
 * @module
 */

import { type FlagSpecs, formatHelp, parseFlags, stringFlag, UsageError } from "../../cli/flags.ts";
import { CONNECTION_FLAGS } from "../cli.ts";
import { settingsFromFlags } from "../connection.ts";
import { formatBytes } from "../progress/format.ts";
import { Repository } from "../repo/repository.ts";
import type { NodeMeta } from "../snapshot/schema.ts";
import {
  AmbiguousSnapshotError,
  selectSnapshot,
  SnapshotNotFoundError,
  SnapshotSpecError,
} from "../snapshot/select.ts";
import { NodeNotFoundError, resolvePath, type TreeNode } from "../snapshot/walk.ts";
import { type Change, type ChangeKind, diffTrees } from "./diff.ts";

const DIFF_FLAGS: FlagSpecs = {
  ...CONNECTION_FLAGS,
  metadata: { type: "boolean", help: "Also list entries whose attributes only changed (U)" },
  host: { type: "string", value: "NAME", help: "Only this host's snapshots for latest and paths" },
  json: { type: "boolean", help: "One JSON object per change, then a summary" },
  quiet: { type: "boolean", short: "q", help: "Only the summary" },
};

/** Help of `ddb diff`. */
export const DIFF_HELP = formatHelp(
  "ddb diff SNAPSHOT[:PATH] SNAPSHOT[:PATH] [options]",
  `Lists what changed from the first tree to the second: + added, - removed,
M modified content (or symlink target), T changed type, U attributes only (--metadata).
Subtrees both snapshots share are skipped without reading them.`,
  DIFF_FLAGS,
);

const decoder = new TextDecoder();

const MARKS: Record<ChangeKind, string> = {
  added: "+",
  removed: "-",
  modified: "M",
  type: "T",
  metadata: "U",
};

/** `/a/b`, with a trailing `/` for directories; the root is `/`. */
function showPath(change: Change): string {
  const text = "/" + change.path.map((p) => decoder.decode(p)).join("/");
  const isDir = (change.after ?? change.before)!.type === "dir";
  return isDir && change.path.length > 0 ? `${text}/` : text;
}

type Category = "files" | "dirs" | "others";

function categoryOf(meta: NodeMeta): Category {
  return meta.type === "file" ? "files" : meta.type === "dir" ? "dirs" : "others";
}

/** Counts of a diff, for the summary. */
interface DiffSummary {
  added: Record<Category, number>;
  removed: Record<Category, number>;
  modified: Record<Category, number>;
  typeChanged: number;
  metadata: number;
  /** Bytes of files added (and of the new side of modified files). */
  bytesAdded: number;
  /** Bytes of files removed (and of the old side of modified files). */
  bytesRemoved: number;
}

function emptySummary(): DiffSummary {
  const zero = () => ({ files: 0, dirs: 0, others: 0 });
  return {
    added: zero(),
    removed: zero(),
    modified: zero(),
    typeChanged: 0,
    metadata: 0,
    bytesAdded: 0,
    bytesRemoved: 0,
  };
}

function fileBytes(meta: NodeMeta | undefined): number {
  return meta?.type === "file" ? meta.size : 0;
}

function count(summary: DiffSummary, change: Change): void {
  switch (change.kind) {
    case "added":
      summary.added[categoryOf(change.after!)]++;
      break;
    case "removed":
      summary.removed[categoryOf(change.before!)]++;
      break;
    case "modified":
      summary.modified[categoryOf(change.after!)]++;
      break;
    case "type":
      summary.typeChanged++;
      break;
    case "metadata":
      summary.metadata++;
      return;
  }
  summary.bytesAdded += fileBytes(change.after);
  summary.bytesRemoved += fileBytes(change.before);
}

async function select(
  repo: Repository,
  spec: string,
  host: string | undefined,
): Promise<{ node: TreeNode; label: string }> {
  try {
    const { snapshot, path } = selectSnapshot(await repo.listSnapshots(), spec, { host });
    const node = await resolvePath(repo, snapshot.ref, path);
    return { node, label: `${snapshot.key.slice(2, 10)}:/${path.join("/")}` };
  } catch (error) {
    if (
      error instanceof SnapshotNotFoundError || error instanceof AmbiguousSnapshotError ||
      error instanceof SnapshotSpecError || error instanceof NodeNotFoundError
    ) {
      throw new UsageError(error.message, { cause: error });
    }
    throw error;
  }
}

/** Runs `ddb diff`. */
export async function diffCommand(args: string[]): Promise<number> {
  const flags = parseFlags(args, DIFF_FLAGS);
  if (flags.values.help) {
    console.log(DIFF_HELP);
    return 0;
  }
  if (flags.positionals.length !== 2) throw new UsageError("Give two SNAPSHOT[:PATH]");
  const json = flags.values.json === true;
  const quiet = flags.values.quiet === true;
  const settings = await settingsFromFlags(flags);
  const repo = await Repository.open(settings, 0);
  try {
    const host = stringFlag(flags, "host");
    const before = await select(repo, flags.positionals[0], host);
    const after = await select(repo, flags.positionals[1], host);
    if (!json && !quiet) console.log(`comparing ${before.label} to ${after.label}`);
    const summary = emptySummary();
    const changes = diffTrees(repo, before.node.metaKey, after.node.metaKey, {
      metadata: flags.values.metadata === true,
    });
    for await (const change of changes) {
      count(summary, change);
      if (json) {
        const meta = (change.after ?? change.before)!;
        console.log(JSON.stringify({
          type: "change",
          change: MARKS[change.kind],
          kind: change.kind,
          path: showPath(change),
          nodeType: meta.type,
          ...(change.before !== undefined ? { sizeBefore: change.before.size } : {}),
          ...(change.after !== undefined ? { sizeAfter: change.after.size } : {}),
        }));
      } else if (!quiet) {
        console.log(`${MARKS[change.kind]}  ${JSON.stringify(showPath(change)).slice(1, -1)}`);
      }
    }
    if (json) {
      console.log(
        JSON.stringify({ type: "summary", before: before.label, after: after.label, ...summary }),
      );
    } else {
      const row = (c: Category) =>
        `${summary.added[c]} added, ${summary.removed[c]} removed, ${summary.modified[c]} modified`;
      const lines = [
        "",
        `Files:   ${row("files")}`,
        `Dirs:    ${summary.added.dirs} added, ${summary.removed.dirs} removed`,
        `Others:  ${row("others")}`,
      ];
      if (summary.typeChanged > 0) lines.push(`Type changed: ${summary.typeChanged}`);
      if (summary.metadata > 0) lines.push(`Attributes changed: ${summary.metadata}`);
      lines.push(
        `Data:    +${formatBytes(summary.bytesAdded)} -${formatBytes(summary.bytesRemoved)}`,
      );
      console.log(lines.join("\n"));
    }
    return 0;
  } finally {
    await repo.close();
  }
}
