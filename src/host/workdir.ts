/**
 * Where a scaffolder may make the working directory its project (`npx create-vite app` with no
 * package.json above). Everything directly in that directory becomes readable inside, and new
 * entries writable: in a shared or system place that shows other users' files and connectable
 * sockets (/tmp/tmux-0/default), and what is written there is later run or read by the host
 * (a directory on PATH, ~/.config/autostart, git's config). Only an ordinary directory of the
 * user's own will do: `mkdir my-app && cd my-app`, or ~/code.
 */
import { lstatSync, readdirSync, realpathSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";

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
  /** PATH's directories. */
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
    const dot = relative(home, cwd)
      .split(sep)
      .find((c) => c.startsWith("."));
    if (dot !== undefined) {
      return `${cwd} is in ${join(home, dot)}, where programs keep their config and data and the host reads it`;
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

/** A path's real path, or the path itself when it does not resolve. */
export function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
