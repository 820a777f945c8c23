/**
 * bwrap creates a missing mount point on the host when it lies inside a read-write bind: the
 * stand-ins for missing config files (`.yarnrc.yml`, `.yarn/releases`, …) and, with
 * `home: "project"`, dotfiles' mount points land in the project. These helpers note every such
 * path before the run and remove it after — only while it is still an empty file or an empty
 * directory, so nothing the command wrote is ever lost, and never through a link: code inside
 * may have replaced a parent directory by one.
 */
import { lstatSync, mkdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { isInside } from "../host/project.js";
import type { Mount } from "./policy.js";
import { projectPathKind } from "./safepath.js";

/** Every path bwrap will create for the mounts inside `root`, parents before children. */
export function findPlaceholders(mounts: readonly Mount[], root: string): string[] {
  const out = new Set<string>();
  for (const mount of mounts) {
    if (mount.kind === "symlink" || !isInside(mount.dest, root) || exists(mount.dest)) continue;
    const missing: string[] = [];
    for (let p = mount.dest; p !== root && !exists(p); p = dirname(p)) missing.unshift(p);
    for (const p of missing) out.add(p);
  }
  return [...out];
}

/**
 * Creates the missing pinned directories (policy.ts pinAncestors) before the run: bwrap resolves
 * every bind's source before it makes any mount point, so it cannot create one itself. Parents
 * first, one level at a time, and only under real directories (projectPathKind throws at a
 * link). They are placeholders too: removed after the run while empty.
 */
export function makePinDirs(
  mounts: readonly Mount[],
  placeholders: readonly string[],
  root: string,
): void {
  const pins = new Set(mounts.flatMap((m) => (m.kind === "pin" ? [m.dest] : [])));
  for (const path of placeholders) {
    if (!pins.has(path)) continue;
    if (projectPathKind(root, path, "directory to pin") === "missing") mkdirSync(path);
  }
}

/** Removes the placeholders that are still empty, children before parents. */
export function cleanupPlaceholders(paths: readonly string[], root: string): void {
  for (const path of [...paths].reverse()) {
    try {
      // Refuses a path under a link (throws) and says what the path is now.
      const kind = projectPathKind(root, path, "placeholder");
      if (kind === "file" && lstatSync(path).size === 0) unlinkSync(path);
      // rmdir removes only an empty directory.
      else if (kind === "directory") rmdirSync(path);
    } catch {
      // not empty, replaced by a link, or already gone: leave it
    }
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
