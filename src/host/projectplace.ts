/**
 * Whether a directory lies where a sandboxed run may have written: in a `node_modules`, or at or
 * below a directory holding a package.json (a project, which is writable inside). A PATH entry
 * there must not supply the host's tools (a planted `node_modules/.bin/pnpm` would become "the
 * real pnpm" that host commands run), and safe-npm's own cache there (run journals, private
 * homes) must not be trusted later.
 */
import { lstatSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, relative, sep } from "node:path";

/** True when `path` is `dir` or lies inside it. */
function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Why `dir` (judged by the real path of its nearest existing ancestor) may be a sandbox's to
 * write, or null. The walk up looks at `levels` directories (the directory itself is the first)
 * and never at the home or above it: a package.json there makes no project (host/project.ts
 * refuses a root that contains the home), and one left in `~` by accident must not make every
 * tool in `~/.local/bin` suspect.
 */
export function projectPlace(
  dir: string,
  home: string,
  levels = Number.POSITIVE_INFINITY,
): string | null {
  let existing = dir;
  let real: string | null = null;
  for (;;) {
    try {
      real = realpathSync(existing);
      break;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return null;
      existing = parent;
    }
  }
  if (real.split(sep).includes("node_modules")) return `${real} is inside a node_modules directory`;
  let at = real;
  for (let i = 0; i < levels; i++) {
    if (within(home, at)) return null;
    if (exists(`${at}${sep}package.json`)) {
      return at === real
        ? `${real} holds a package.json (a project)`
        : `${real} is below ${at}, which holds a package.json (a project)`;
    }
    const parent = dirname(at);
    if (parent === at) return null;
    at = parent;
  }
  return null;
}

/** Anything there, link or not; an unreadable directory hides nothing this user could write. */
function exists(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * How far up a PATH entry is looked at: `p/bin`, `p/tools/bin` and `p/node_modules/.bin` are
 * caught; nvm's `~/.nvm/versions/node/v22/bin` is not taken for a project (nvm's own checkout
 * holds a package.json four levels up).
 */
export const PATH_LEVELS = 3;
