/**
 * `ddb forget`: which snapshot records to remove, by a keep policy applied
 * to each group (host, backed-up path) — see policy.ts — or by id; then
 * their removal with `Repository.removeSnapshots`. Only snapshot records go:
 * the trees, contents and blobs they referenced stay until garbage
 * collection.
 *
 * {@linkcode planForget} is pure (the snapshots and the clock are
 * parameters); {@linkcode forget} reads the snapshots and removes.
 *
 * @module
 */

import type { Repository, SnapshotEntry } from "../repo/repository.ts";
import { selectSnapshot, SnapshotSpecError } from "../snapshot/select.ts";
import { applyPolicy, type KeepPolicy, type PolicyDecision, type TimeZone } from "./policy.ts";

/** Which snapshots the policy looks at (all when empty). */
export interface ForgetFilter {
  /** Only these hosts. */
  hosts?: readonly string[];
  /** Only these backed-up paths. */
  paths?: readonly string[];
  /** Only snapshots having all tags of at least one list (`[""]`: untagged ones). */
  tags?: readonly (readonly string[])[];
}

/** The decisions for one group. */
export interface GroupPlan {
  /** Host of the group. */
  host: string;
  /** Backed-up path of the group. */
  path: string;
  /** Its snapshots, newest first, each kept or not and why. */
  decisions: PolicyDecision<SnapshotEntry>[];
}

/** What forget will do. */
export interface ForgetPlan {
  /** The groups the policy was applied to, by host then path (empty when removing by id). */
  groups: GroupPlan[];
  /** The snapshots to remove, oldest first. */
  remove: SnapshotEntry[];
}

/** Options of {@linkcode planForget}. */
export interface PlanOptions {
  /** Which snapshots to consider. */
  filter?: ForgetFilter;
  /** The current time, µs since the epoch. */
  nowUs: bigint;
  /** Time zone of the calendar buckets (default UTC). */
  zone?: TimeZone;
}

/** Forget refuses: the policy would remove every snapshot of a group. */
export class ForgetRefusedError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ForgetRefusedError";
  }
}

function hasTagList(s: SnapshotEntry, list: readonly string[]): boolean {
  return list.every((tag) => tag === "" ? s.tags.length === 0 : s.tags.includes(tag));
}

/** Whether `s` passes `filter`. */
export function matchesFilter(s: SnapshotEntry, filter: ForgetFilter = {}): boolean {
  if (filter.hosts?.length && !filter.hosts.includes(s.host)) return false;
  if (filter.paths?.length && !filter.paths.includes(s.path)) return false;
  if (filter.tags?.length && !filter.tags.some((list) => hasTagList(s, list))) return false;
  return true;
}

function oldestFirst(a: SnapshotEntry, b: SnapshotEntry): number {
  if (a.timeUs !== b.timeUs) return a.timeUs < b.timeUs ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Applies `policy` to each group of the snapshots that pass the filter.
 *
 * @throws {EmptyPolicyError} when the policy has no rule.
 * @throws {ForgetRefusedError} when a group would lose all its snapshots
 *   (possible only with a policy of tags alone); nothing is planned then.
 */
export function planForget(
  snapshots: readonly SnapshotEntry[],
  policy: KeepPolicy,
  options: PlanOptions,
): ForgetPlan {
  const groups = new Map<string, SnapshotEntry[]>();
  for (const s of snapshots) {
    if (!matchesFilter(s, options.filter)) continue;
    // JSON of the pair: unambiguous whatever the host and path contain.
    const id = JSON.stringify([s.host, s.path]);
    let list = groups.get(id);
    if (list === undefined) groups.set(id, list = []);
    list.push(s);
  }
  const plans: GroupPlan[] = [...groups.values()].map((list) => ({
    host: list[0].host,
    path: list[0].path,
    decisions: applyPolicy(list, policy, { nowUs: options.nowUs, zone: options.zone }),
  })).sort((a, b) =>
    a.host < b.host ? -1 : a.host > b.host ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
  const emptied = plans.filter((g) => g.decisions.every((d) => !d.keep));
  if (emptied.length > 0) {
    throw new ForgetRefusedError(
      `Cannot apply the policy: it would remove every snapshot of ${
        emptied.map((g) => `${g.host}:${g.path}`).join(", ")
      } (nothing removed; select those groups out with --host or --path, or forget by id)`,
    );
  }
  const remove = plans.flatMap((g) => g.decisions.filter((d) => !d.keep).map((d) => d.snapshot));
  return { groups: plans, remove: remove.sort(oldestFirst) };
}

/**
 * The snapshots named by id prefixes (at least 4 hex digits each, see
 * select.ts), oldest first, each once.
 *
 * @throws {SnapshotSpecError} when an argument is not an id prefix; and
 *   the other errors of `selectSnapshot` (not found, ambiguous).
 */
export function planForgetIds(
  snapshots: readonly SnapshotEntry[],
  ids: readonly string[],
): ForgetPlan {
  const chosen = new Map<string, SnapshotEntry>();
  for (const id of ids) {
    if (!/^[0-9a-fA-F]+$/.test(id)) {
      throw new SnapshotSpecError(`Cannot forget "${id}": expected a snapshot id (hex digits)`);
    }
    const { snapshot } = selectSnapshot(snapshots, id);
    chosen.set(snapshot.key, snapshot);
  }
  return { groups: [], remove: [...chosen.values()].sort(oldestFirst) };
}

/** What to forget: a policy or ids (exactly one of them). */
export type ForgetRequest =
  | { policy: KeepPolicy; filter?: ForgetFilter; zone?: TimeZone }
  | { ids: readonly string[] };

/** Options of {@linkcode forget}. */
export interface ForgetOptions {
  /** Plan only; remove nothing. */
  dryRun?: boolean;
  /** The clock (default `Date.now`), in ms since the epoch. */
  now?: () => number;
}

/**
 * Reads the snapshots, plans, and removes the snapshots the plan drops
 * (unless `dryRun`).
 *
 * @returns the plan that was carried out.
 */
export async function forget(
  repo: Pick<Repository, "listSnapshots" | "removeSnapshots">,
  request: ForgetRequest,
  options: ForgetOptions = {},
): Promise<ForgetPlan> {
  const snapshots = await repo.listSnapshots();
  let plan: ForgetPlan;
  if ("ids" in request) {
    plan = planForgetIds(snapshots, request.ids);
  } else {
    const nowMs = (options.now ?? Date.now)();
    plan = planForget(snapshots, request.policy, {
      filter: request.filter,
      zone: request.zone,
      nowUs: BigInt(Math.floor(nowMs)) * 1000n,
    });
  }
  if (!options.dryRun && plan.remove.length > 0) await repo.removeSnapshots(plan.remove);
  return plan;
}
