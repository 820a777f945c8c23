/**
 * `safe-npm homes` and `safe-npm homes prune`: the per-project private homes (their caches can
 * take hundreds of MB each), which project each serves, and removing those of deleted or idle
 * projects.
 *
 * What a home serves and when it was last used come only from the record safe-npm writes beside
 * it after each run (sandbox/privatehome.ts), never from the home itself: code inside can write
 * to its caches, and set their timestamps. Sizes and removal walk the home without following a
 * link or crossing into another mount (sandbox/tree.ts).
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { printable } from "../cli/output.js";
import { EXIT_SAFE_NPM_FAILURE } from "../errors.js";
import type { HostInfo } from "../host/host.js";
import { requireOwnCache } from "../host/projectplace.js";
import { storeLockPath } from "../sandbox/linkedstore.js";
import { type HomeRecord, homeRecordPath } from "../sandbox/privatehome.js";
import { entryKind } from "../sandbox/safepath.js";
import { removeTree, treeSize } from "../sandbox/tree.js";
import type { HomesAction, Output } from "./types.js";

export interface HomeEntry {
  /** The home's directory. */
  path: string;
  /** From the record beside it; null when there is none (or it does not match the home). */
  project: string | null;
  /** The project's directory still exists; null when the project is unknown. */
  projectExists: boolean | null;
  /** Last use, from the record (ms since the epoch); null when unknown. */
  lastUse: number | null;
  bytes: number;
  /**
   * What the size leaves out, with why: directories that could not be opened or read, or the
   * error that stopped the count. Non-empty: `bytes` is a lower bound.
   */
  unreadable: string[];
}

/** `$XDG_CACHE_HOME/safe-npm/homes` (host.ownCache), where policy.ts's privateHomeDir puts each home. */
export function homesDir(cacheHome: string): string {
  return join(cacheHome, "safe-npm", "homes");
}

const DAY = 24 * 60 * 60 * 1000;

/** Bytes as du -h --si would say them: `512 B`, `9.5 MB`, `142 MB`, `1.3 GB`. */
export function formatSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const shown = value < 10 ? value.toFixed(1) : Math.round(value).toString();
  // 999.6 rounds up to "1000": say it in the next unit.
  if (shown === "1000" && unit < units.length - 1) return `1.0 ${units[unit + 1]}`;
  return `${shown} ${units[unit]}`;
}

/** `today`, `1 day ago`, `12 days ago`. */
export function formatAge(lastUse: number, now: number): string {
  const days = Math.floor((now - lastUse) / DAY);
  if (days <= 0) return "today";
  return days === 1 ? "1 day ago" : `${days} days ago`;
}

export interface PruneChoice {
  home: HomeEntry;
  /** Why it goes: `project missing`, `idle for 45 days`, `no record`. */
  reason: string;
}

/**
 * Which homes prune removes: those whose project is gone; with `olderThan`, also those last used
 * longer ago than that; with `unrecorded`, also those with no record. A home of an existing
 * project without a record is kept otherwise: nothing host-written says when it was used.
 */
export function selectPrune(
  homes: readonly HomeEntry[],
  options: { now: number; olderThan: number | null; unrecorded: boolean },
): PruneChoice[] {
  const chosen: PruneChoice[] = [];
  for (const home of homes) {
    if (home.project === null) {
      if (options.unrecorded) chosen.push({ home, reason: "no record of its project" });
      continue;
    }
    if (home.projectExists === false) {
      chosen.push({ home, reason: "project missing" });
      continue;
    }
    if (
      options.olderThan !== null &&
      home.lastUse !== null &&
      options.now - home.lastUse >= options.olderThan
    ) {
      chosen.push({ home, reason: `idle, last used ${formatAge(home.lastUse, options.now)}` });
    }
  }
  return chosen;
}

/** A home's directory name: `<project dir name, sanitised>-<12 hex of sha256(project root)>`. */
const HOME_NAME = /^(.*)-([0-9a-f]{12})$/;

/**
 * The record beside `home`, when it is a regular file that names an absolute project whose hash
 * is the one in the home's name (a record copied or renamed onto another home does not count).
 */
export function readHomeRecord(home: string, name: string): HomeRecord | null {
  const path = homeRecordPath(home);
  try {
    const st = lstatSync(path);
    if (!st.isFile() || st.size > 64 * 1024) return null;
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<HomeRecord>;
    if (typeof parsed.project !== "string" || !isAbsolute(parsed.project)) return null;
    if (typeof parsed.lastUse !== "string" || Number.isNaN(Date.parse(parsed.lastUse))) return null;
    const hash = createHash("sha256").update(parsed.project).digest("hex").slice(0, 12);
    if (HOME_NAME.exec(name)?.[2] !== hash) return null;
    return { project: parsed.project, lastUse: parsed.lastUse };
  } catch {
    return null;
  }
}

/** A home's size; whatever goes wrong is this home's, said with it, and the others are still measured. */
function measure(path: string): { bytes: number; unreadable: string[] } {
  try {
    const { bytes, unreadable } = treeSize(path);
    return { bytes, unreadable };
  } catch (error) {
    return { bytes: 0, unreadable: [`${path} (${errorText(error)})`] };
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Every home under `dir`, oldest use first (unknown last), with its size when `sizes`. */
export function listHomes(dir: string, sizes = true): HomeEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const homes: HomeEntry[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    if (!HOME_NAME.test(name) || entryKind(path) !== "directory") continue;
    const record = readHomeRecord(path, name);
    const size = sizes ? measure(path) : { bytes: 0, unreadable: [] };
    homes.push({
      path,
      project: record?.project ?? null,
      projectExists: record === null ? null : entryKind(record.project) === "directory",
      lastUse: record === null ? null : Date.parse(record.lastUse),
      ...size,
    });
  }
  return homes.sort((a, b) => (a.lastUse ?? Infinity) - (b.lastUse ?? Infinity));
}

/** Entries of what a size leaves out, named under its home; the rest counted. */
const SHOWN_UNREADABLE = 3;

/** A size, with `≥` when it is a lower bound. */
function shownSize(home: HomeEntry): string {
  return `${home.unreadable.length > 0 ? "≥" : ""}${formatSize(home.bytes)}`;
}

/** One line per home, for the terminal. */
export function formatHomes(dir: string, homes: readonly HomeEntry[], now: number): string {
  if (homes.length === 0) return `no private homes in ${printable(dir)}\n`;
  const total = homes.reduce((sum, h) => sum + h.bytes, 0);
  const partial = homes.some((h) => h.unreadable.length > 0);
  const lines = [
    `${homes.length} private home${homes.length === 1 ? "" : "s"} in ${printable(dir)}, ${partial ? "at least " : ""}${formatSize(total)}:`,
  ];
  for (const home of homes) {
    const size = shownSize(home).padStart(7);
    if (home.project === null) {
      lines.push(
        `${size}  ${printable(home.path)}  project unknown (no record: made by an older safe-npm, unused since)`,
      );
    } else {
      const used =
        home.lastUse === null
          ? ""
          : `  last use ${new Date(home.lastUse).toISOString().slice(0, 10)} (${formatAge(home.lastUse, now)})`;
      const missing = home.projectExists === false ? "  PROJECT MISSING" : "";
      lines.push(`${size}  ${printable(home.project)}${used}${missing}`);
    }
    for (const what of home.unreadable.slice(0, SHOWN_UNREADABLE)) {
      lines.push(`         not counted: ${printable(what)}`);
    }
    if (home.unreadable.length > SHOWN_UNREADABLE) {
      lines.push(
        `         not counted: ${home.unreadable.length - SHOWN_UNREADABLE} more (\`safe-npm homes --json\` lists them)`,
      );
    }
  }
  if (homes.some((h) => h.projectExists === false)) {
    lines.push("", "`safe-npm homes prune` removes the homes of missing projects.");
  }
  if (partial) {
    lines.push(
      "",
      "Sizes marked ≥ leave out what could not be read: a directory made unreadable inside, or the error named.",
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Removes a home, then its record. Whatever goes wrong is this home's, said with it: the other
 * homes are still pruned.
 */
function prune(path: string): { freed: number; kept: string[] } {
  try {
    const removal = removeTree(path);
    // The record goes only with its home: a home that stays keeps its mapping.
    if (removal.kept.length === 0) {
      const record = removeTree(homeRecordPath(path));
      removeTree(storeLockPath(path));
      return { freed: removal.freed, kept: record.kept };
    }
    return removal;
  } catch (error) {
    return { freed: 0, kept: [`${path} (${errorText(error)})`] };
  }
}

function homeJson(home: HomeEntry): Record<string, unknown> {
  return {
    path: home.path,
    project: home.project,
    projectExists: home.projectExists,
    lastUse: home.lastUse === null ? null : new Date(home.lastUse).toISOString(),
    bytes: home.bytes,
    unreadable: home.unreadable,
  };
}

export function homesCommand(host: HostInfo, target: HomesAction, out: Output): number {
  // Pruning deletes what each record names: never from records a sandbox could have written.
  const dir = homesDir(requireOwnCache(host.ownCache, null));
  const now = Date.now();
  const homes = listHomes(dir);
  if (target.action === "list") {
    out.stdout(
      target.json
        ? `${JSON.stringify({ dir, homes: homes.map(homeJson), bytes: homes.reduce((s, h) => s + h.bytes, 0) }, null, 2)}\n`
        : formatHomes(dir, homes, now),
    );
    // A size that is only a lower bound: safe-npm's own failure, after saying which and why.
    return homes.some((h) => h.unreadable.length > 0) ? EXIT_SAFE_NPM_FAILURE : 0;
  }
  const chosen = selectPrune(homes, {
    now,
    olderThan: target.olderThan,
    unrecorded: target.unrecorded,
  });
  const verb = target.dryRun ? "would remove" : "removed";
  const results: { home: HomeEntry; reason: string; freed: number; kept: string[] }[] = [];
  for (const { home, reason } of chosen) {
    if (target.dryRun) {
      results.push({ home, reason, freed: home.bytes, kept: [] });
      continue;
    }
    const removal = prune(home.path);
    results.push({ home, reason, freed: removal.freed, kept: removal.kept });
  }
  const freed = results.reduce((sum, r) => sum + r.freed, 0);
  if (target.json) {
    out.stdout(
      `${JSON.stringify(
        {
          dryRun: target.dryRun,
          removed: results.map((r) => ({
            ...homeJson(r.home),
            reason: r.reason,
            freed: r.freed,
            kept: r.kept,
          })),
          freed,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines: string[] = [];
    for (const r of results) {
      lines.push(
        `${verb} ${printable(r.home.path)} (${printable(r.home.project ?? "project unknown")}: ${r.reason}), ${formatSize(r.freed)}`,
      );
      for (const k of r.kept) lines.push(`  kept ${printable(k)}`);
    }
    const unrecorded = homes.filter((h) => h.project === null).length;
    if (results.length === 0) lines.push("nothing to prune");
    else lines.push(`${target.dryRun ? "would free" : "freed"} ${formatSize(freed)}`);
    if (unrecorded > 0 && !target.unrecorded) {
      lines.push(
        `kept ${unrecorded} home${unrecorded === 1 ? "" : "s"} with no record of its project (made by an older safe-npm and unused since): \`safe-npm homes prune --unrecorded\` removes them`,
      );
    }
    out.stdout(`${lines.join("\n")}\n`);
  }
  // Some of it stayed: safe-npm's own failure, after saying what stayed and why.
  return results.some((r) => r.kept.length > 0) ? EXIT_SAFE_NPM_FAILURE : 0;
}
