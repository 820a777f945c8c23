/**
 * After a run: `.git` directories or files that sandboxed code created or changed inside the
 * project. Git runs code from a repository's config and hooks (core.fsmonitor, hooksPath,
 * filters, hooks) — a shell prompt running `git status` in such a directory would run it outside
 * the sandbox. The project's own .git is read-only inside; anything else named .git that changed
 * during the run is moved aside (renamed, nothing deleted) and reported.
 */
import { type Dirent, lstatSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";

/** What git reads from a repository that can run code. */
const CODE_BEARING = ["config", "hooks", "info/attributes", "commondir", "gitdir"];

/**
 * `.git` entries under `root` (not below node_modules, not in `skip`) that appeared or whose
 * code-bearing parts changed at or after `since` (ms; change and birth times, which code inside
 * cannot set back — unlike mtime).
 */
export function findChangedGitEntries(
  root: string,
  since: number,
  skip: readonly string[],
): string[] {
  const changed = (path: string): boolean => {
    try {
      return lstatSync(path).ctimeMs >= since;
    } catch {
      return false;
    }
  };
  // New: born during the run (git's own work in an existing repository changes the directory's
  // ctime, not its birth). Without birth times, the change time.
  const born = (path: string): boolean => {
    try {
      const st = lstatSync(path);
      return (st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs) >= since;
    } catch {
      return false;
    }
  };
  const found: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.name === ".git") {
        if (skip.includes(path)) continue;
        const touched =
          born(path) ||
          (entry.isDirectory() &&
            (CODE_BEARING.some((part) => changed(join(path, part))) ||
              hooksChanged(path, changed)));
        if (touched) found.push(path);
      } else if (entry.isDirectory() && entry.name !== "node_modules") {
        stack.push(path);
      }
    }
  }
  return found.sort();
}

function hooksChanged(gitDir: string, changed: (path: string) => boolean): boolean {
  try {
    return readdirSync(join(gitDir, "hooks")).some((hook) => changed(join(gitDir, "hooks", hook)));
  } catch {
    return false;
  }
}

/** Renames `path` to `<path>.quarantined-by-safe-npm[-N]`; returns the new name. */
export function quarantine(path: string): string {
  for (let n = 0; ; n++) {
    const target = `${path}.quarantined-by-safe-npm${n === 0 ? "" : `-${n}`}`;
    try {
      lstatSync(target);
    } catch {
      renameSync(path, target);
      return target;
    }
  }
}
