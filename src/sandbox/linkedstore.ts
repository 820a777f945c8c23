/**
 * pnpm's store and bun's cache on the project's mount for an install, so that the manager can
 * hard-link from them into node_modules. Inside, every bind is a mount of its own and link(2)
 * fails with EXDEV across mounts even of one filesystem (link(2), "EXDEV"), so a store bound from
 * the private home is copied file by file. For an install-class pnpm or bun run whose private
 * home and project share a filesystem, the host renames the store into the project's
 * node_modules before bwrap starts (O(1)), the home inside holds a link to it at the usual path
 * (so pnpm's `.modules.yaml` still records the host's default store path), and after the run
 * the host renames it back.
 *
 * After the run the project is hostile. The move back never resolves a path through it: the
 * node_modules directory is opened once before the run (O_NOFOLLOW) and kept open, and the store
 * is renamed out through `/proc/self/fd/<fd>/<name>`, which names that very directory whatever
 * now sits at `<project>/node_modules`. rename(2) moves a link or a FIFO planted in place of the
 * store as itself; what arrives in the home is then checked with lstat and removed unless it is
 * a directory. The store's contents are no more trusted than before: code inside could write
 * them in the private home too.
 *
 * One run at a time per private home holds the store (a lock file beside the home, which no
 * sandbox sees, naming the holder by pid and start time); a concurrent run copies as before. A
 * run killed before moving the store back leaves it in node_modules: the next run moves it home
 * when the home's store is missing or empty, and removes it otherwise.
 */

import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

export interface LinkedStore {
  /** Where the manager looks for it, relative to the home (one of privatehome.ts's CACHE_DIRS). */
  home: string;
  /** Its name in the project's node_modules while the run lasts. */
  name: string;
  /** For messages. */
  label: string;
}

export const PNPM_STORE: LinkedStore = {
  home: ".local/share/pnpm/store",
  name: ".safe-npm-pnpm-store",
  label: "pnpm's store",
};
export const BUN_CACHE: LinkedStore = {
  home: ".bun/install/cache",
  name: ".safe-npm-bun-cache",
  label: "bun's cache",
};
export const LINKED_STORES: readonly LinkedStore[] = [PNPM_STORE, BUN_CACHE];

/** The store an install-class run of this tool (argv[0]) links from, if any. */
export function storeForTool(tool: string): LinkedStore | null {
  if (tool === "pnpm") return PNPM_STORE;
  if (tool === "bun") return BUN_CACHE;
  return null;
}

/** Where the store lies inside (a link at its usual path leads there). */
export function storeInProject(root: string, store: LinkedStore): string {
  return join(root, "node_modules", store.name);
}

/**
 * Why the store cannot be on the project's mount, or null when it can: rename(2) works only
 * within one filesystem (st_dev of the project and of the private home, or of its nearest
 * existing parent when it is still to be made).
 */
export function linkObstacle(privateHome: string, root: string): string | null {
  const device = (path: string): number | null => {
    for (let p = path; ; p = dirname(p)) {
      try {
        return statSync(p).dev;
      } catch {
        if (dirname(p) === p) return null;
      }
    }
  };
  const home = device(privateHome);
  const project = device(root);
  if (home === null || project === null) return "the private home or the project cannot be read";
  return home === project ? null : "the private home and the project are on different filesystems";
}

/** A store moved into the project for one run. */
export interface LinkedRun {
  /** The stores in the project for this run (empty: copying, as `notes` say). */
  stores: LinkedStore[];
  /** Why a store stays in the home (copied from), or what was reclaimed. */
  notes: string[];
  /** Moves the stores back into the home; returns what went wrong (never throws). */
  release: () => string[];
}

const NO_LINK: LinkedRun = { stores: [], notes: [], release: () => [] };

/** The lock beside the home: `<home>.store-lock`, holding "<pid> <start time>". */
export function storeLockPath(privateHome: string): string {
  return `${privateHome}.store-lock`;
}

/**
 * Moves `store` from the private home into the project's node_modules (creating node_modules
 * when missing). Call after the home's cache directories are prepared, before bwrap starts.
 * `startTime` gives a process's start time (null when it is gone), to tell a live lock holder.
 */
export function linkStore(
  privateHome: string,
  root: string,
  store: LinkedStore,
  startTime: (pid: number | "self") => string | null,
): LinkedRun {
  const obstacle = linkObstacle(privateHome, root);
  if (obstacle !== null) return { ...NO_LINK, notes: [`${store.label} copied: ${obstacle}`] };
  const lock = storeLockPath(privateHome);
  if (!acquireLock(lock, startTime)) {
    return {
      ...NO_LINK,
      notes: [`${store.label} copied: another safe-npm run of this project holds it`],
    };
  }
  const notes: string[] = [];
  const nodeModules = join(root, "node_modules");
  let created = false;
  let fd: number;
  try {
    const st = lstatSync(nodeModules, { throwIfNoEntry: false });
    if (st === undefined) {
      mkdirSync(nodeModules);
      created = true;
    }
    // O_NOFOLLOW: a node_modules that is a link is not used (ELOOP), the store stays home.
    fd = openSync(nodeModules, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    releaseLock(lock);
    return {
      ...NO_LINK,
      notes: [`${store.label} copied: ${nodeModules} is not a directory (${code(error)})`],
    };
  }
  const inProject = `/proc/self/fd/${fd}/${store.name}`;
  const home = join(privateHome, store.home);
  const finish = (): void => {
    closeSync(fd);
    if (created) {
      try {
        rmdirSync(nodeModules); // only when still empty, and never through a link (ENOTDIR)
      } catch {}
    }
    releaseLock(lock);
  };
  try {
    if (fstatSync(fd).dev !== lstatSync(home).dev) {
      finish();
      return {
        ...NO_LINK,
        notes: [`${store.label} copied: node_modules is on another filesystem than the home`],
      };
    }
    const left = reclaim(inProject, home);
    if (left !== null) notes.push(`${store.label}: ${left}`);
    renameSync(home, inProject);
  } catch (error) {
    finish();
    return { ...NO_LINK, notes: [...notes, `${store.label} copied: ${code(error)}`] };
  }
  let released = false;
  return {
    stores: [store],
    notes,
    release: () => {
      if (released) return [];
      released = true;
      const problems = moveBack(inProject, home, store, nodeModules);
      finish();
      return problems;
    },
  };
}

/**
 * A store left in node_modules by a run killed before moving it back: moved home when the home's
 * store is missing or empty (it is the same store, no more hostile than the home's), else removed.
 */
function reclaim(inProject: string, home: string): string | null {
  const left = lstatSync(inProject, { throwIfNoEntry: false });
  if (left === undefined) return null;
  if (left.isDirectory() && isEmptyDir(home)) {
    if (lstatSync(home, { throwIfNoEntry: false }) !== undefined) rmdirSync(home);
    renameSync(inProject, home);
    return "reclaimed from node_modules, where an interrupted run left it";
  }
  // rm removes a link, never what it points to.
  rmSync(inProject, { recursive: true, force: true });
  return "an older copy left in node_modules by an interrupted run was removed";
}

function moveBack(
  inProject: string,
  home: string,
  store: LinkedStore,
  nodeModules: string,
): string[] {
  const where = join(nodeModules, store.name);
  try {
    const st = lstatSync(inProject, { throwIfNoEntry: false });
    if (st === undefined) return [`${store.label} was removed from ${where} during the run`];
    if (!st.isDirectory()) {
      unlinkSync(inProject);
      return [`${where} was replaced during the run by something not a directory: removed`];
    }
    const existing = lstatSync(home, { throwIfNoEntry: false });
    if (existing !== undefined) {
      if (!isEmptyDir(home)) {
        // A concurrent run without the lock made a new store meanwhile and may still use it.
        rmSync(inProject, { recursive: true, force: true });
        return [
          `${store.label} in the home was remade during the run; this run's copy was removed`,
        ];
      }
      rmdirSync(home);
    }
    renameSync(inProject, home);
    // Only a directory was moved (checked above, and nothing inside runs any more); check again
    // what arrived before anything binds it.
    if (!lstatSync(home).isDirectory()) {
      rmSync(home, { force: true });
      return [`${where} was not a directory: removed`];
    }
    return [];
  } catch (error) {
    return [
      `could not move ${store.label} back from ${where} (${code(error)}); the next run reclaims it`,
    ];
  }
}

function isEmptyDir(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return true;
  return st.isDirectory() && readdirSync(path).length === 0;
}

function acquireLock(path: string, startTime: (pid: number | "self") => string | null): boolean {
  const mine = `${process.pid} ${startTime("self")}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx", mode: 0o600 });
      return true;
    } catch (error) {
      if (code(error) !== "EEXIST") return false;
    }
    let holder: string;
    try {
      holder = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const [pid, start] = holder.trim().split(" ");
    if (pid !== undefined && /^\d+$/.test(pid) && startTime(Number(pid)) === start) return false;
    // Its holder is gone (killed before releasing it).
    try {
      unlinkSync(path);
    } catch {}
  }
  return false;
}

function releaseLock(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}
