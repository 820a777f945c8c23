/**
 * Whether a directory lies where a sandboxed run may have written: in a `node_modules`, or at or
 * below a directory holding a package.json (a project, which is writable inside). A PATH entry
 * there must not supply the host's tools (a planted `node_modules/.bin/pnpm` would become "the
 * real pnpm" that host commands run), and safe-npm's own cache there (run journals, private
 * homes) must not be trusted later.
 */
import { lstatSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { SafeNpmError } from "../errors.js";

/** True when `path` is `dir` or lies inside it. */
function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Why `dir` (judged by the real path of its nearest existing ancestor) may be a sandbox's to
 * write, or null. The walk up goes to the root but never looks at the home or above it: a
 * package.json there makes no project (host/project.ts refuses a root that contains the home),
 * and one left in `~` by accident must not make every tool in `~/.local/bin` suspect. `exempt`
 * names package.json holders that are no project for `dir` (pathPlace: nvm's checkout).
 */
export function projectPlace(
  dir: string,
  home: string,
  exempt: (holder: string, from: string) => boolean = () => false,
): string | null {
  const real = realOfNearest(dir);
  if (real === null) return null;
  return placeOf(real, real, home, exempt);
}

/** The real path of `dir`'s nearest existing ancestor (null: not even `/`). */
function realOfNearest(dir: string): string | null {
  let existing = dir;
  for (;;) {
    try {
      return realpathSync(existing);
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return null;
      existing = parent;
    }
  }
}

/**
 * The walk itself, from `start` (a real path, or a PATH entry as written) up to the home or the
 * root. `said` is how `start` is named in the reason. A holder found on a path as written counts
 * unless its real path holds the home.
 */
function placeOf(
  start: string,
  said: string,
  home: string,
  exempt: (holder: string, from: string) => boolean,
): string | null {
  if (start.split(sep).includes("node_modules"))
    return `${said} is inside a node_modules directory`;
  for (let at = start; ; at = dirname(at)) {
    if (within(home, at)) return null;
    if (exists(`${at}${sep}package.json`)) {
      const real = realOfNearest(at) ?? at;
      if (within(home, real)) return null;
      if (!exempt(at, start)) {
        return at === start
          ? `${said} holds a package.json (a project)`
          : `${said} is below ${at}, which holds a package.json (a project)`;
      }
    }
    if (dirname(at) === at) return null;
  }
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
 * Why a PATH entry may hold what a sandbox wrote, or null. Judged twice, with no depth limit
 * (devbox's `.devbox/nix/profile/default/bin` is five levels down, flox's `.flox/run/<env>/bin`
 * four): by its real path, and as written — a link in a project on the way (`p/tools -> /opt/x`)
 * is the project's to re-point, even while a run goes on. One exemption, exact: nvm's checkout
 * (`$NVM_DIR`, default `~/.nvm`) holds nvm's own package.json, and node versions live below it in
 * `versions/`; a package.json at that directory does not make its `versions/…/bin` a project's.
 * Only a run with nvm's checkout itself as its project could write there.
 */
export function pathPlace(
  dir: string,
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): string | null {
  const exempt = nvmExempt(home, env);
  const real = realOfNearest(dir);
  const byReal = real === null ? null : placeOf(real, real, home, exempt);
  if (byReal !== null) return byReal;
  const written = resolve(dir);
  return written === real ? null : placeOf(written, written, home, exempt);
}

/** nvm's checkout, for what lies in its `versions/`: resolved only when a walk meets one there. */
function nvmExempt(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): (holder: string, from: string) => boolean {
  return (holder, from) => {
    if (!within(from, join(holder, "versions"))) return false;
    const nvm = nvmDir(env, home);
    return nvm !== null && (realOfNearest(holder) ?? holder) === nvm;
  };
}

/**
 * Why a tool's real file (what a PATH entry's `npm` resolves to) may be a sandbox's to write, or
 * null. A clean PATH entry can hold a link into a project (`npm link`, or `~/bin/npm ->
 * ~/src/app/bin/npm`): what the host then runs is the project's file. The same walk as a PATH
 * entry's, up to the home, with what global installs keep beside their packages let through:
 * a package inside a node_modules (its own package.json: the walk goes on to what holds that
 * node_modules), a global prefix's `lib/node_modules` (the system's, nvm's, volta's, fnm's, asdf's,
 * Homebrew's), the global package directories of pnpm (`<pnpm home>/global/<n>`), yarn 1
 * (`…/yarn/global`) and bun (`~/.bun/install/global`), and nvm's checkout as for PATH entries.
 * None of these ends the walk: a project above any of them still counts.
 */
export function toolPlace(
  real: string,
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): string | null {
  const nvm = nvmExempt(home, env);
  const start = dirname(real);
  for (let at = start; ; at = dirname(at)) {
    if (within(home, at)) return null;
    const parent = basename(dirname(at));
    if (basename(at) === "node_modules" && parent !== "lib" && !globalPackages(dirname(at)))
      return `${real} is inside ${at}, a node_modules directory`;
    const installed =
      parent === "node_modules" ||
      (parent.startsWith("@") && basename(dirname(dirname(at))) === "node_modules");
    if (exists(`${at}${sep}package.json`) && !installed && !globalPackages(at) && !nvm(at, start)) {
      return `${real} is below ${at}, which holds a package.json (a project)`;
    }
    if (dirname(at) === at) return null;
  }
}

/** A package manager's own directory of global packages (a package.json and node_modules). */
function globalPackages(dir: string): boolean {
  const name = basename(dir);
  const parent = basename(dirname(dir));
  return (
    (/^\d+$/.test(name) && parent === "global") ||
    (name === "global" && (parent === "yarn" || parent === "install"))
  );
}

/** nvm's directory, by real path: `$NVM_DIR` (which nvm.sh exports), else `~/.nvm`; null if absent. */
function nvmDir(env: Readonly<Record<string, string | undefined>>, home: string): string | null {
  const named = env.NVM_DIR && isAbsolute(env.NVM_DIR) ? env.NVM_DIR : join(home, ".nvm");
  try {
    return realpathSync(named);
  } catch {
    return null;
  }
}

/** Where safe-npm keeps what it trusts later under the cache: `<home>/safe-npm`. */
export interface OwnCache {
  /** The cache base (`$XDG_CACHE_HOME`, or `~/.cache` when that lies in a project). */
  home: string;
  /** Said on each run when `$XDG_CACHE_HOME` was not taken. */
  notice: string | null;
  /** Why neither may be used: every run stops with it. */
  problem: string | null;
}

/**
 * The cache base for safe-npm's own files — the run journals (the next run relinks and moves
 * aside what one names), the private homes and their records (`homes prune` deletes what a record
 * names), the scratch homes. None of it may lie where a sandbox can write: with `XDG_CACHE_HOME`
 * in a project (`$PWD/.cache` in CI) a run could plant a journal that the next run obeys on the
 * host. Then `~/.cache` is used, and when that is in a project too, nothing (`problem`).
 */
export function ownCache(cacheHome: string, home: string): OwnCache {
  const why = projectPlace(join(cacheHome, "safe-npm"), home);
  if (why === null) return { home: cacheHome, notice: null, problem: null };
  const fallback = join(home, ".cache");
  const fallbackWhy = fallback === cacheHome ? why : projectPlace(join(fallback, "safe-npm"), home);
  if (fallbackWhy === null) {
    return {
      home: fallback,
      notice: `run journals and private homes are kept in ${join(fallback, "safe-npm")}, not in ${join(cacheHome, "safe-npm")}: ${why}, where a sandboxed run could plant what safe-npm trusts later (set XDG_CACHE_HOME outside any project)`,
      problem: null,
    };
  }
  return {
    home: cacheHome,
    notice: null,
    problem: `safe-npm's cache directory ${join(cacheHome, "safe-npm")} lies where a sandboxed run may write (${why}), and so does ${join(fallback, "safe-npm")} (${fallbackWhy}): a run could plant a journal or a home record that a later run obeys on the host`,
  };
}

/**
 * The cache base to use for a run in `projectRoot` (null: no project, `homes`): stops with an
 * error naming XDG_CACHE_HOME when it lies in a project, or in this run's project (a working
 * directory with no package.json).
 */
export function requireOwnCache(own: OwnCache, projectRoot: string | null): string {
  let problem = own.problem;
  if (problem === null && projectRoot !== null) {
    let real = own.home;
    try {
      real = realpathSync(own.home);
    } catch {}
    if (within(real, projectRoot)) {
      problem = `safe-npm's cache directory ${join(own.home, "safe-npm")} lies in the project ${projectRoot}, which the sandbox can write`;
    }
  }
  if (problem === null) return own.home;
  throw new SafeNpmError("UNSAFE_CACHE_DIR", problem, {
    hint: "set XDG_CACHE_HOME to a directory outside any project (e.g. `export XDG_CACHE_HOME=$HOME/.cache`, or `$RUNNER_TEMP/cache` in CI) and run again",
  });
}
