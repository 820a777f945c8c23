/** Finds the project root above the working directory and the package manager it uses. */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { findUpSync } from "find-up";
import { SafeNpmError } from "../errors.js";
import { readRegularFile } from "../sandbox/safepath.js";
import { type PlaceFacts, realOrSelf, specialEntries, unsafeWorkingDir } from "./workdir.js";

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

const LOCKFILES = [
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
      if (!existsSync(join(dir, "package.json"))) return undefined;
      if (LOCKFILES.some((f) => existsSync(join(dir, f)))) {
        reason = "lockfile";
        return dir;
      }
      if (existsSync(join(dir, "pnpm-workspace.yaml")) || hasWorkspaces(dir)) {
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
    const pkg = findUpSync("package.json", { cwd });
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
  const kind = lstatSync(join(root, "package.json"), { throwIfNoEntry: false });
  if (kind !== undefined && !kind.isFile() && !kind.isSymbolicLink()) {
    throw new SafeNpmError("NO_PROJECT", `${join(root, "package.json")} is not a regular file`, {
      hint: "replace it with a regular file",
    });
  }
  return { root, reason };
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
    v === undefined || v === "" ? undefined : realOrSelf(v);
  let why = unsafeWorkingDir(cwd, {
    home,
    pathDirs: facts.pathDirs.map(realOrSelf),
    env: {
      TMPDIR: real(env.TMPDIR),
      XDG_CONFIG_HOME: real(env.XDG_CONFIG_HOME),
      XDG_DATA_HOME: real(env.XDG_DATA_HOME),
      XDG_STATE_HOME: real(env.XDG_STATE_HOME),
      XDG_CACHE_HOME: real(env.XDG_CACHE_HOME),
      XDG_RUNTIME_DIR: real(env.XDG_RUNTIME_DIR),
    },
  });
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

/**
 * package-manager-detector reads the package.json fields (`packageManager`, then
 * `devEngines.packageManager`) and names the lockfiles; the lockfile rule is applied here so that
 * an unsupported `packageManager` (deno, …) does not hide a lockfile, and so --dry-run can say
 * which rule decided. None → npm.
 */
export async function detectPackageManager(root: string): Promise<DetectedPackageManager> {
  const { detect, LOCKS } = await import("package-manager-detector");
  const pkg = readPackageJson(root);
  const fromField = await detect({
    cwd: root,
    stopDir: root,
    strategies: ["packageManager-field", "devEngines-field"],
  });
  if (fromField !== null && SUPPORTED.includes(fromField.name)) {
    return {
      name: fromField.name as PackageManagerName,
      agent: fromField.agent,
      source:
        typeof pkg?.packageManager === "string"
          ? "packageManager field"
          : "devEngines.packageManager",
    };
  }
  for (const [file, name] of Object.entries(LOCKS)) {
    if (
      SUPPORTED.includes(name) &&
      !file.endsWith("-workspace.yaml") &&
      existsSync(join(root, file))
    ) {
      return { name: name as PackageManagerName, agent: name, source: "lockfile" };
    }
  }
  return { name: "npm", agent: "npm", source: "default" };
}

function readPackageJson(dir: string): Record<string, unknown> | null {
  try {
    // Regular files only: a FIFO planted as package.json must not hang safe-npm.
    const pkg = JSON.parse(readRegularFile(join(dir, "package.json"), false)) as unknown;
    return typeof pkg === "object" && pkg !== null ? (pkg as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
