/**
 * The top level of a working directory made the project (a scaffolder with no package.json
 * above, host/project.ts), before and after the run. Its existing files and directories are
 * read-only inside, but the directory itself is writable, so a run could:
 *
 * - plant `package.json` or a lockfile (or `node_modules`, a dot-entry such as `.npmrc`): the next
 *   run there would take the whole directory (`~/code`, with its repositories) as a project,
 *   writable, and `"workspaces": ["*"]` would make it the root of the projects beside it;
 * - replace a link that was there (`mylink -> /real` relinked to an attacker's path).
 *
 * Afterwards what it planted is moved aside and the links are put back, each reported. A
 * directory that was empty (or held only `.git`) is the new project being made: nothing of the
 * user's is in it, and `npm init -y` there must leave its package.json.
 */
import { lstatSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { quarantine } from "./integrity.js";

/** What makes a directory a project, or a package manager's config root. */
const PROJECT_FILES = new Set([
  "package.json",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "pnpm-workspace.yaml",
  "bun.lock",
  "bun.lockb",
  "node_modules",
]);

export interface TopLevel {
  root: string;
  names: ReadonlySet<string>;
  /** Each link directly in the root, with its target. */
  links: ReadonlyMap<string, string>;
}

export function recordTopLevel(root: string): TopLevel {
  const names = new Set(readdirSync(root));
  const links = new Map<string, string>();
  for (const name of names) {
    const path = join(root, name);
    if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink()) {
      try {
        links.set(name, readlinkSync(path));
      } catch {}
    }
  }
  return { root, names, links };
}

/** PURE: the new names to move aside, given the names before and after. */
export function plantedNames(before: ReadonlySet<string>, after: readonly string[]): string[] {
  if ([...before].every((name) => name === ".git")) return [];
  return after
    .filter((name) => !before.has(name) && (PROJECT_FILES.has(name) || name.startsWith(".")))
    .sort();
}

/**
 * Moves aside what the run planted and restores the links it removed or changed; never
 * follows a link (rename, readlink and symlink act on the link itself). `recovered`: `before`
 * comes from a journal, and only a link or nothing is replaced by a link. Returns the report lines.
 */
export function settleTopLevel(before: TopLevel, recovered = false): string[] {
  const { root } = before;
  const lines: string[] = [];
  let after: string[];
  try {
    after = readdirSync(root);
  } catch (error) {
    return [`safe-npm: cannot list ${root} after the run (${(error as Error).message})\n`];
  }
  for (const name of plantedNames(before.names, after)) {
    const path = join(root, name);
    try {
      const to = quarantine(path, root);
      lines.push(
        `safe-npm: moved ${path} to ${to}: it was created inside the sandbox in ${root}, which was not a project; it would make ${root} a project (all of it writable to the next run) or be read as config on the host; if you made it, move it back\n`,
      );
    } catch (error) {
      lines.push(
        `safe-npm: ${path} was created inside the sandbox in ${root}, which was not a project, and could not be moved aside (${(error as Error).message}); remove it before running anything there\n`,
      );
    }
  }
  for (const [name, target] of before.links) {
    const path = join(root, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    let now: string | null = null;
    if (st?.isSymbolicLink()) {
      try {
        now = readlinkSync(path);
      } catch {}
    }
    if (now === target) continue;
    // From an earlier run's journal (recovered): a file or directory there is never moved aside
    // for a link — the journal is data on disk, and a `.git` replaced by a link to a planted git
    // dir would run its config on the host's next `git status`.
    if (recovered && st !== undefined && !st.isSymbolicLink()) {
      lines.push(
        `safe-npm: ${path} is not the link ${path} -> ${target} that an interrupted run's journal names; left as it is: check it\n`,
      );
      continue;
    }
    try {
      const moved = st === undefined ? null : quarantine(path, root);
      symlinkSync(target, path);
      lines.push(
        `safe-npm: restored the link ${path} -> ${target}: it was ${st === undefined ? "removed" : "changed"} inside the sandbox${moved === null ? "" : ` (what was there is now ${moved})`}\n`,
      );
    } catch (error) {
      lines.push(
        `safe-npm: the link ${path} -> ${target} was changed inside the sandbox and could not be restored (${(error as Error).message}); check it before using it\n`,
      );
    }
  }
  return lines;
}
