/**
 * bwrap creates a missing mount point on the host when it lies inside a read-write bind: the
 * stand-ins for missing config files (`.yarnrc.yml`, `.yarn/releases`, …) and, with
 * `home: "project"`, dotfiles' mount points land in the project. These helpers note every such
 * path before the run and remove it after — only while it is still an empty file or an empty
 * directory, so nothing the command wrote is ever lost, and never through a link: code inside
 * may have replaced a parent directory by one.
 */
import { closeSync, lstatSync, mkdirSync, rmdirSync, unlinkSync } from "node:fs";
import { basename, dirname } from "node:path";
import { SafeNpmError } from "../errors.js";
import { isInside } from "../host/project.js";
import type { Mount } from "./policy.js";
import { fdPath, giveOwnerAt, openDirBeneath, projectPathKind } from "./safepath.js";

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
 * Checks every pinned directory (policy.ts pinAncestors) and creates the missing ones before the
 * run: bwrap resolves every bind's source before it makes any mount point, so it cannot create
 * one itself. A pin follows links (bwrap binds a link's target), so each must be a real directory
 * reached without one: a link planted on the way stops the run here. Missing ones are made one
 * level at a time; findPlaceholders noted them, so they go after the run while empty.
 */
export function makePinDirs(mounts: readonly Mount[], root: string): void {
  for (const mount of mounts) {
    if (mount.kind !== "pin") continue;
    const kind = projectPathKind(root, mount.dest, "folder kept in place inside");
    if (kind === "directory") continue;
    if (kind !== "missing") {
      throw new SafeNpmError("UNSAFE_PATH", `${mount.dest} is not a directory`, {
        hint: `remove or rename ${mount.dest}: a read-only path safe-npm keeps lies below it`,
      });
    }
    const missing: string[] = [];
    for (let p = mount.dest; p !== root && !exists(p); p = dirname(p)) missing.unshift(p);
    for (const p of missing) mkdirSync(p);
  }
}

/**
 * Removes the placeholders that are still empty, children before parents, each in the folder
 * reached from `root` without following a link (safepath.ts openDirBeneath): a link on the way
 * leaves it where it is, and another run still going in the project cannot swap one in between
 * the look and the removal.
 */
export function cleanupPlaceholders(paths: readonly string[], root: string): void {
  for (const path of [...paths].reverse()) {
    let parent: number | null = null;
    try {
      parent = openDirBeneath(root, dirname(path));
      const at = `${fdPath(parent)}/${basename(path)}`;
      const remove = (): void => {
        const st = lstatSync(at);
        if (st.isFile() && st.size === 0) unlinkSync(at);
        // rmdir removes only an empty directory.
        else if (st.isDirectory()) rmdirSync(at);
      };
      try {
        remove();
      } catch (error) {
        // Code inside took write permission from the folder (`chmod 555 .`): give it back.
        const code = (error as NodeJS.ErrnoException).code;
        if ((code !== "EACCES" && code !== "EPERM") || !giveOwnerAt(parent, 0o300)) throw error;
        remove();
      }
    } catch {
      // not empty, replaced by a link, or already gone: leave it
    } finally {
      if (parent !== null) closeSync(parent);
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
