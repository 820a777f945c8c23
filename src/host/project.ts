/** Finds the project root above the working directory and the package manager it uses. */
import { existsSync, lstatSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { findUpSync } from "find-up";
import { SafeNpmError } from "../errors.js";
import { PLANTED_HINT, readRegularFile } from "../sandbox/safepath.js";
import {
  aliasedDir,
  type DirId,
  dirId,
  type PlaceFacts,
  realOrSelf,
  resolveLoosely,
  specialEntries,
  unsafeWorkingDir,
} from "./workdir.js";

export type PackageManagerName = "npm" | "yarn" | "pnpm" | "bun";

export interface DetectedPackageManager {
  name: PackageManagerName;
  /** package-manager-detector's agent (`yarn@berry`, `pnpm@6`, …), or the name. */
  agent: string;
  /** Which rule decided, shown by --dry-run. */
  source:
    | "packageManager field"
    | "devEngines.packageManager"
    | "lockfile"
    | "settings"
    | "default";
}

export interface Project {
  /** Real path of the project root; bound read-write into the sandbox. */
  root: string;
  /** Why this directory is the root. */
  reason: "lockfile" | "workspaces" | "package.json" | "working directory";
}

export const LOCKFILES: readonly string[] = [
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "bun.lock",
  "bun.lockb",
];

/**
 * The project root is the nearest ancestor of `cwd` that holds a package.json together with a
 * lockfile or a workspace declaration (so a workspace package finds its workspace root); else
 * the nearest package.json. The user's home itself, or a directory containing it, is refused:
 * a stray lockfile in `~` must not make the whole home writable inside the sandbox.
 */
export function findProject(cwd: string, home: string): Project {
  let reason: Project["reason"] = "lockfile";
  const anchored = findUpSync(
    (dir) => {
      if (!present(join(dir, "package.json"))) return undefined;
      if (LOCKFILES.some((f) => present(join(dir, f)))) {
        reason = "lockfile";
        return dir;
      }
      if (present(join(dir, "pnpm-workspace.yaml")) || hasWorkspaces(dir)) {
        reason = "workspaces";
        return dir;
      }
      return undefined;
    },
    { cwd, type: "directory" },
  );
  const containsHome = (dir: string): boolean => dir === home || isInside(home, dir);
  // A lockfile in ~ (someone once ran npm there) must not swallow every project below it.
  let root = anchored !== undefined && !containsHome(anchored) ? anchored : undefined;
  if (root === undefined) {
    const pkg = findUpSync(
      (dir) => (present(join(dir, "package.json")) ? join(dir, "package.json") : undefined),
      { cwd },
    );
    if (pkg === undefined) {
      throw new SafeNpmError("NO_PROJECT", `no package.json found from ${cwd} upward`, {
        hint: "run safe-npm inside a JavaScript project (a directory with a package.json), or create one with `npm init`",
      });
    }
    root = dirname(pkg);
    reason = "package.json";
  }
  if (containsHome(root)) {
    throw new SafeNpmError(
      "PROJECT_CONTAINS_HOME",
      `the project root ${root} would contain your home directory ${home}`,
      {
        hint: `safe-npm makes the project writable inside the sandbox; move the stray package.json/lockfile out of ${root}, or run from a real project directory`,
      },
    );
  }
  // package-manager-detector and the package manager read it: a FIFO would hang them.
  const pkgPath = join(root, "package.json");
  const kind = lstatSync(pkgPath, { throwIfNoEntry: false });
  const target = kind?.isSymbolicLink() ? statSync(pkgPath, { throwIfNoEntry: false }) : kind;
  if (kind !== undefined && (target === undefined || !target.isFile())) {
    throw new SafeNpmError(
      "NO_PROJECT",
      kind.isSymbolicLink()
        ? `${pkgPath} is a link that leads to no regular file`
        : `${pkgPath} is not a regular file`,
      {
        hint: kind.isSymbolicLink() ? PLANTED_HINT : "replace it with a regular file",
      },
    );
  }
  return { root, reason };
}

/**
 * An entry by its name, whatever it is or leads to: a lockfile or package.json made a dangling
 * link (or one through a FIFO) inside a run still makes its folder the project, as the after-run
 * walk, which lists names, sees it (an `existsSync` would follow it and let the next run's root
 * move out to the folder above, under other settings).
 */
function present(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
}

/**
 * No package.json anywhere above: the working directory itself is the project (`npx create-vite
 * app` in an empty directory), never the home or a directory containing it, nor a shared, system
 * or configuration directory, nor one holding sockets, FIFOs or devices (workdir.ts).
 */
export function workingDirProject(cwd: string, facts: PlaceFacts): Project {
  const home = realOrSelf(facts.home);
  if (cwd === home || isInside(home, cwd)) {
    throw new SafeNpmError(
      "PROJECT_CONTAINS_HOME",
      `there is no project here, and ${cwd} ${cwd === home ? "is" : "contains"} your home directory: it cannot be the sandbox's project`,
      {
        hint: "make a directory for the new project and run the command there, e.g. `mkdir ~/code && cd ~/code`",
      },
    );
  }
  const env = facts.env;
  const real = (v: string | undefined): string | undefined =>
    v === undefined || v === "" ? undefined : resolveLoosely(v);
  let why = unsafeWorkingDir(cwd, {
    home,
    pathDirs: [...new Set([...facts.pathDirs, ...facts.pathDirs.map(resolveLoosely)])],
    env: {
      TMPDIR: real(env.TMPDIR),
      XDG_CONFIG_HOME: real(env.XDG_CONFIG_HOME),
      XDG_DATA_HOME: real(env.XDG_DATA_HOME),
      XDG_STATE_HOME: real(env.XDG_STATE_HOME),
      XDG_CACHE_HOME: real(env.XDG_CACHE_HOME),
      XDG_RUNTIME_DIR: real(env.XDG_RUNTIME_DIR),
    },
  });
  why ??= aliasedDir(cwdChain(cwd), dirId(home), guardedDirs(home, facts));
  const special = why === null ? specialEntries(cwd) : [];
  if (special.length > 0) {
    why = `${cwd} holds ${special.map((n) => JSON.stringify(n)).join(", ")}: a socket, FIFO or device, which would be reachable inside`;
  }
  if (why !== null) {
    throw new SafeNpmError(
      "UNSAFE_WORKING_DIR",
      `there is no project here, and this directory cannot be the sandbox's project: ${why}`,
      {
        hint: "make a directory for the new project first and run the command there: `mkdir my-app && cd my-app`, or run it in ~/code",
      },
    );
  }
  return { root: cwd, reason: "working directory" };
}

/** The working directory and each of its ancestors, with their identities. */
function cwdChain(cwd: string): { path: string; id: DirId }[] {
  const chain: { path: string; id: DirId }[] = [];
  for (let at = cwd; ; at = dirname(at)) {
    const id = dirId(at);
    if (id !== undefined) chain.push({ path: at, id });
    if (dirname(at) === at) return chain;
  }
}

/**
 * The directories a bind mount must not alias: the home's dot-directories (~/.config, ~/.ssh),
 * the XDG directories and PATH's existing directories, leaving out any that hold the home
 * (a PATH entry "/" would otherwise refuse everything).
 */
function guardedDirs(home: string, facts: PlaceFacts): { path: string; id: DirId }[] {
  let dots: string[] = [];
  try {
    dots = readdirSync(home)
      .filter((n) => n.startsWith("."))
      .map((n) => join(home, n));
  } catch {}
  const env = facts.env;
  const dirs = [
    ...dots,
    env.XDG_CONFIG_HOME,
    env.XDG_DATA_HOME,
    env.XDG_STATE_HOME,
    env.XDG_CACHE_HOME,
    env.XDG_RUNTIME_DIR,
    ...facts.pathDirs,
  ].filter((d): d is string => d !== undefined && d !== "" && d.startsWith("/"));
  const out: { path: string; id: DirId }[] = [];
  for (const path of new Set(dirs)) {
    const real = realOrSelf(path);
    if (real === home || isInside(home, real)) continue;
    const id = dirId(path);
    if (id !== undefined) out.push({ path, id });
  }
  return out;
}

/**
 * What a working-directory project already holds (the regular files and directories directly in
 * it, by name): kept read-only for the run, so a scaffolder started in `~/code` can add `my-app`
 * but change none of the repositories beside it. Links are left out: bwrap would bind their
 * target (`x -> ~/.ssh` would show the key); the link itself stays a link in a directory whose
 * links lead nowhere writable.
 */
export function workingDirEntries(root: string): string[] {
  return readdirSync(root).filter((name) => {
    const st = lstatSync(join(root, name), { throwIfNoEntry: false });
    return st !== undefined && (st.isFile() || st.isDirectory());
  });
}

function hasWorkspaces(dir: string): boolean {
  return readPackageJson(dir)?.workspaces !== undefined;
}

/** True when `path` lies strictly inside `dir`. */
export function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep);
}

const SUPPORTED: readonly string[] = ["npm", "yarn", "pnpm", "bun"];

/** The lockfiles that decide, in package-manager-detector's order (its `LOCKS`). */
const DECIDING_LOCKFILES: readonly (readonly [string, PackageManagerName])[] = [
  ["bun.lock", "bun"],
  ["bun.lockb", "bun"],
  ["pnpm-lock.yaml", "pnpm"],
  ["yarn.lock", "yarn"],
  ["package-lock.json", "npm"],
  ["npm-shrinkwrap.json", "npm"],
];

/**
 * The package.json fields (`packageManager`, then `devEngines.packageManager`), then the
 * lockfiles; none → npm. The rules and agent names are package-manager-detector's (`detect`
 * with the field strategies, `resolveAgent`), done here synchronously on the package.json
 * already read: importing it pulled `fs/promises` (and readline) into every start. An
 * unsupported `packageManager` (deno, …) does not hide a lockfile, and --dry-run says which
 * rule decided.
 */
export async function detectPackageManager(root: string): Promise<DetectedPackageManager> {
  return detectPackageManagerSync(root);
}

function detectPackageManagerSync(root: string): DetectedPackageManager {
  const pkg = readPackageJson(root);
  const field = pkg === null ? null : packageManagerField(pkg);
  if (field !== null) return field;
  for (const [file, name] of DECIDING_LOCKFILES) {
    if (existsSync(join(root, file))) return { name, agent: name, source: "lockfile" };
  }
  return { name: "npm", agent: "npm", source: "default" };
}

function packageManagerField(pkg: Record<string, unknown>): DetectedPackageManager | null {
  let name: string | undefined;
  let version: string | undefined;
  let source: DetectedPackageManager["source"];
  const devEngines = pkg.devEngines as { packageManager?: { name?: unknown; version?: unknown } };
  if (typeof pkg.packageManager === "string") {
    [name, version] = pkg.packageManager.replace(/^\^/, "").split("@");
    source = "packageManager field";
  } else if (typeof devEngines?.packageManager?.name === "string") {
    name = devEngines.packageManager.name;
    version =
      typeof devEngines.packageManager.version === "string"
        ? devEngines.packageManager.version
        : undefined;
    source = "devEngines.packageManager";
  } else {
    return null;
  }
  if (name === undefined || !SUPPORTED.includes(name)) return null;
  const major =
    version === undefined ? Number.NaN : Number.parseInt(version.match(/\d+/)?.[0] ?? "", 10);
  const agent =
    name === "yarn" && major > 1 ? "yarn@berry" : name === "pnpm" && major < 7 ? "pnpm@6" : name;
  return { name: name as PackageManagerName, agent, source };
}

/** A package.json larger than this is not read (none is near it). */
const MAX_PACKAGE_JSON = 16 << 20;

function readPackageJson(dir: string): Record<string, unknown> | null {
  try {
    // Regular files only, never through a link (as settings are read): a FIFO or a link to
    // /proc planted as package.json must not hang safe-npm, nor a file elsewhere steer it.
    const pkg = JSON.parse(
      readRegularFile(join(dir, "package.json"), true, MAX_PACKAGE_JSON),
    ) as unknown;
    return typeof pkg === "object" && pkg !== null ? (pkg as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
