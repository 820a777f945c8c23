/**
 * bwrap creates a missing mount point on the host when it lies inside a read-write bind. With the
 * private home that is harmless (it lands there); with `home: "project"` a dotfile's mount point
 * lands in the project. These helpers note such paths before the run and remove them after —
 * only when they are still empty placeholders, so nothing the command wrote is ever lost.
 */
import { existsSync, lstatSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Mount } from "./policy.js";
import { isInside } from "./project.js";

/** The topmost missing ancestor of each mount destination inside `root`. */
export function findPlaceholders(mounts: readonly Mount[], root: string): string[] {
  const out = new Set<string>();
  for (const mount of mounts) {
    if (mount.kind === "symlink" || !isInside(mount.dest, root) || existsSync(mount.dest)) continue;
    let top = mount.dest;
    while (dirname(top) !== root && !existsSync(dirname(top))) top = dirname(top);
    out.add(top);
  }
  return [...out];
}

export function cleanupPlaceholders(paths: readonly string[]): void {
  for (const path of paths) {
    if (isEmptyPlaceholder(path)) removeTree(path);
  }
}

/** An empty file, or a directory holding only empty placeholders. */
function isEmptyPlaceholder(path: string): boolean {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (st.isFile()) return st.size === 0;
  if (!st.isDirectory()) return false;
  return readdirSync(path).every((name) => isEmptyPlaceholder(`${path}/${name}`));
}

function removeTree(path: string): void {
  const st = lstatSync(path);
  if (st.isDirectory()) {
    for (const name of readdirSync(path)) removeTree(`${path}/${name}`);
    rmdirSync(path);
  } else {
    unlinkSync(path);
  }
}
