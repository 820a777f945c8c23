/**
 * Where a scaffolder may make the working directory its project (`npx create-vite app` with no
 * package.json above). Everything directly in that directory becomes readable inside, and new
 * entries writable: in a shared or system place that shows other users' files and connectable
 * sockets (/tmp/tmux-0/default), and what is written there is later run or read by the host
 * (a directory on PATH, ~/.config/autostart, git's config). Only an ordinary directory of the
 * user's own will do: `mkdir my-app && cd my-app`, or ~/code.
 */
import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";

/** Root-level directories of the system, shared with other users or read by the host. */
const SYSTEM_DIRS = [
  "/tmp",
  "/var/tmp",
  "/dev/shm",
  "/run",
  "/var",
  "/etc",
  "/usr",
  "/opt",
  "/srv",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/root",
  "/snap",
  "/lost+found",
];

export interface PlaceFacts {
  /** The user's home (its real path). */
  home: string;
  /** PATH's directories (as written and resolved, see `resolveLoosely`). */
  pathDirs: readonly string[];
  /** TMPDIR and the XDG base directories (their values; unset ones are defaulted here). */
  env: Readonly<Record<string, string | undefined>>;
}

/** True when `path` is `dir` or lies inside it. */
function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * PURE: why `cwd` cannot be a scaffolder's project, or null when it can. `cwd` and the facts are
 * real paths.
 */
export function unsafeWorkingDir(cwd: string, facts: PlaceFacts): string | null {
  const { home, env } = facts;
  if (within(home, cwd)) {
    return `${cwd} ${cwd === home ? "is" : "contains"} your home directory`;
  }
  const inHome = within(cwd, home);
  if (inHome) {
    const parts = relative(home, cwd).split(sep);
    const dot = parts.findIndex((c) => c.startsWith("."));
    if (dot !== -1) {
      // Name the dot-directory where it is (~/code/.hidden), not as if it were at the top of the home.
      return `${cwd} is in ${join(home, ...parts.slice(0, dot + 1))}, a hidden directory where programs keep their config and data and the host reads it`;
    }
  }
  const xdg: [string, string | undefined][] = [
    ["TMPDIR", env.TMPDIR],
    ["XDG_CONFIG_HOME", env.XDG_CONFIG_HOME ?? join(home, ".config")],
    ["XDG_DATA_HOME", env.XDG_DATA_HOME ?? join(home, ".local", "share")],
    ["XDG_STATE_HOME", env.XDG_STATE_HOME ?? join(home, ".local", "state")],
    ["XDG_CACHE_HOME", env.XDG_CACHE_HOME ?? join(home, ".cache")],
    ["XDG_RUNTIME_DIR", env.XDG_RUNTIME_DIR],
  ];
  for (const [name, dir] of xdg) {
    // A home inside $TMPDIR (a test's) is still the home.
    const homeIn = name === "TMPDIR" && inHome && dir !== undefined && within(home, dir);
    if (dir !== undefined && isAbsolute(dir) && dir !== "/" && within(cwd, dir) && !homeIn) {
      return `${cwd} is in $${name} (${dir})`;
    }
  }
  // A PATH or XDG directory inside the project (~/code/tools/bin, even one not made yet) would
  // take what the sandbox writes there: a command the host's shell then runs, a config it reads.
  for (const [name, dir] of [
    ...xdg.filter(([n]) => n !== "TMPDIR"),
    ...facts.pathDirs.map((d): [string, string] => ["PATH", d]),
  ]) {
    if (dir !== undefined && isAbsolute(dir) && within(dir, cwd)) {
      return `${cwd} ${dir === cwd ? "is" : "contains"} ${dir}, ${name === "PATH" ? "a directory on PATH: a command written there would run on the host" : `$${name}: the host reads it`}`;
    }
  }
  for (const dir of facts.pathDirs) {
    // A PATH entry that holds the home ("/") would refuse everything; the home rules cover it.
    if (isAbsolute(dir) && !within(home, dir) && within(cwd, dir)) {
      return `${cwd} is in ${dir}, a directory on PATH: a command written there would run on the host`;
    }
  }
  for (const dir of SYSTEM_DIRS) {
    // A home inside a system directory (/var/lib/jenkins, a home under /tmp) is still the home.
    if (within(cwd, dir) && !(inHome && within(home, dir))) {
      return `${cwd} is in ${dir}, a system directory${["/tmp", "/var/tmp", "/dev/shm", "/run"].includes(dir) ? " shared with other users and programs" : ""}`;
    }
  }
  return null;
}

/**
 * The entries directly in `dir` that are sockets, FIFOs or devices: readable or connectable
 * inside once the directory is the project (a tmux or ssh-agent socket).
 */
export function specialEntries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((name) => {
    const st = lstatSync(join(dir, name), { throwIfNoEntry: false });
    return (
      st !== undefined &&
      (st.isSocket() || st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice())
    );
  });
}

/**
 * A path's real path; for one that does not exist (yet), its nearest existing ancestor's real
 * path with the rest appended, so `~/code/tools/bin` on PATH is seen inside `~/code` before the
 * sandbox makes it.
 */
export function resolveLoosely(path: string): string {
  if (!isAbsolute(path)) return path;
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(realpathSync(at), ...rest.reverse());
    } catch {
      const up = dirname(at);
      if (up === at) return path;
      rest.push(basename(at));
      at = up;
    }
  }
}

/** A directory's identity: what a bind mount keeps when the path changes. */
export interface DirId {
  dev: number;
  ino: number;
}

/**
 * A directory's identity, or undefined when it is not a directory (following links) or cannot
 * be looked at: a PATH entry the user may not search (another user's ~/.cargo/bin) is no place
 * the sandbox could write to either.
 */
export function dirId(path: string): DirId | undefined {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    return st?.isDirectory() ? { dev: st.dev, ino: st.ino } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * PURE: why `chain` (the working directory, then each of its ancestors) reaches a guarded
 * directory under another name, or null. Real paths cannot see a bind mount
 * (`mount --bind ~/.config ~/code/cfg`): the directory's identity (st_dev, st_ino) can. Being
 * inside the home is fine; being the home is not.
 */
export function aliasedDir(
  chain: readonly { path: string; id: DirId }[],
  home: DirId | undefined,
  guarded: readonly { path: string; id: DirId }[],
): string | null {
  const same = (a: DirId, b: DirId): boolean => a.dev === b.dev && a.ino === b.ino;
  const cwd = chain[0];
  if (cwd === undefined) return null;
  if (home !== undefined && same(cwd.id, home)) {
    return `${cwd.path} is your home directory under another name (a bind mount)`;
  }
  for (const at of chain) {
    const hit = guarded.find((g) => same(g.id, at.id) && !(home !== undefined && same(g.id, home)));
    if (hit !== undefined) {
      return `${cwd.path} is in ${at.path}, which is ${hit.path} under another name (a bind mount)`;
    }
  }
  return null;
}

/** A path's real path, or the path itself when it does not resolve. */
export function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
