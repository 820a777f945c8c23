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
 * Code inside runs as the same user and can take write permission away from the store directory
 * or from node_modules (`chmod 0555`): rename(2) of a directory to another parent needs it on
 * both (the directory's `..` changes), as a user without CAP_DAC_OVERRIDE. Before either move
 * the host gives the owner's rwx back: node_modules through the descriptor it holds, the store
 * through an O_PATH descriptor checked to be that very directory. The move back renames over the
 * home's empty store directory (rename(2) replaces an empty directory), so a failed move never
 * leaves the home without one.
 *
 * One run at a time per private home holds the store (a lock file beside the home, which no
 * sandbox sees, naming the holder by pid and start time); a concurrent run copies as before. A
 * run killed before moving the store back leaves it in node_modules: the next run moves it home
 * when the home's store is missing or empty, and removes it otherwise.
 */

import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { removeTree } from "./tree.js";

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
  /** Why a store stays in the home (copied from), or what was reclaimed (for --verbose). */
  notes: string[];
  /** What the user must act on: a directory in the store's place that is not its store. */
  warnings: string[];
  /** Moves the stores back into the home; returns what went wrong (never throws). */
  release: () => string[];
}

const NO_LINK: LinkedRun = { stores: [], notes: [], warnings: [], release: () => [] };

/**
 * The lock beside the home: `<home>.store-lock`, holding "<pid> <start time>" of its holder and,
 * while the store is in the project, "<dev>:<ino>" of the store directory: a directory keeps its
 * inode through rename(2), so only that directory is ever moved back, also by the run after a
 * killed one.
 */
export function storeLockPath(privateHome: string): string {
  return `${privateHome}.store-lock`;
}

type StartTime = (pid: number | "self") => string | null;

/**
 * Moves `store` from the private home into the project's node_modules (creating node_modules
 * when missing). Call after the home's cache directories are prepared, before bwrap starts.
 * `startTime` gives a process's start time (null when it is gone), to tell a live lock holder.
 * Never throws: what stops the move leaves the store in the home (copying), said in `notes`.
 */
export function linkStore(
  privateHome: string,
  root: string,
  store: LinkedStore,
  startTime: StartTime,
): LinkedRun {
  const obstacle = linkObstacle(privateHome, root);
  if (obstacle !== null) return { ...NO_LINK, notes: [`${store.label} copied: ${obstacle}`] };
  const lock = storeLockPath(privateHome);
  const held = acquireLock(lock, startTime);
  if (held === null) {
    return {
      ...NO_LINK,
      notes: [`${store.label} copied: another safe-npm run of this project holds it`],
    };
  }
  const notes: string[] = [];
  const nodeModules = join(root, "node_modules");
  const where = join(nodeModules, store.name);
  let created = false;
  let fd: number;
  try {
    if (lstatSync(nodeModules, { throwIfNoEntry: false }) === undefined) {
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
  // That very directory, whatever sits at <project>/node_modules later (proc(5), /proc/pid/fd).
  const inProject = `/proc/self/fd/${fd}/${store.name}`;
  const home = join(privateHome, store.home);
  const finish = (keepLock: boolean): void => {
    closeSync(fd);
    if (created) {
      try {
        rmdirSync(nodeModules); // only when still empty, and never through a link (ENOTDIR)
      } catch {}
    }
    if (!keepLock) releaseLock(lock);
  };
  let identity: string;
  try {
    const homeStat = lstatSync(home);
    if (fstatSync(fd).dev !== homeStat.dev) {
      finish(false);
      return {
        ...NO_LINK,
        notes: [`${store.label} copied: node_modules is on another filesystem than the home`],
      };
    }
    const left = reclaim(fd, inProject, home, held.store, where, privateHome);
    if (left !== null) notes.push(`${store.label}: ${left}`);
    const st = lstatSync(home);
    identity = `${st.dev}:${st.ino}`;
    // Recorded before the move: a run killed from here on leaves a record of what is its store.
    writeFileSync(lock, `${held.owner} ${identity}\n`);
    renameSync(home, inProject);
  } catch (error) {
    // A killed run's store still in node_modules keeps its record, for the next run to reclaim.
    const kept = held.store !== null && leftBehind(inProject, held.store);
    if (kept) writeFileSync(lock, `${held.owner} ${held.store}\n`);
    finish(kept);
    if (error instanceof ForeignStore) return { ...NO_LINK, notes, warnings: [error.message] };
    return { ...NO_LINK, notes: [...notes, `${store.label} copied: ${code(error)}`] };
  }
  let released = false;
  return {
    stores: [store],
    notes,
    warnings: [],
    release: () => {
      if (released) return [];
      released = true;
      const { problems, keepLock } = moveBack(
        fd,
        inProject,
        home,
        identity,
        where,
        store.label,
        privateHome,
      );
      finish(keepLock);
      return problems;
    },
  };
}

/**
 * Removes a store copy that a sandbox could still be writing (another run of this project can
 * see node_modules), without walking it by path: a recursive rm in node lists a directory and
 * then removes each child by path, so a directory swapped for a link in between sends the rest
 * of the removal through that link, outside the project. The copy is first renamed beside the
 * private home (one rename of the directory through the kept fd; the homes directory is in no
 * sandbox), then removed by tree.ts's walk, which descends through descriptors opened with
 * O_NOFOLLOW, checks each directory is still the one it listed, and removes links as links.
 */
function discardTree(inProject: string, privateHome: string): void {
  const trash = `${privateHome}.discard-${process.pid}-${randomBytes(6).toString("hex")}`;
  renameSync(inProject, trash);
  removeTree(trash);
}

/** A non-empty directory at the store's name that safe-npm did not put there. */
class ForeignStore extends Error {}

const identityOf = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;

/** Linux's O_PATH (asm-generic/fcntl.h, x86_64 and arm64 alike); node does not export it. */
const O_PATH = 0o10000000;

/** Whether the directory of that identity still sits at the store's name in node_modules. */
function leftBehind(inProject: string, identity: string): boolean {
  const st = lstatSync(inProject, { throwIfNoEntry: false });
  return st?.isDirectory() === true && identityOf(st) === identity;
}

/**
 * Gives the owner rwx on node_modules (its held descriptor) and on the store, where code inside
 * took it away: moving the store out of node_modules needs write permission on both (module
 * header). The store is opened O_PATH (no permission on it needed) with O_NOFOLLOW|O_DIRECTORY
 * (never a link), checked to be `identity`, and changed through /proc/self/fd: whatever another
 * run's sandbox puts at that name meanwhile is not touched. Throws when it is not the store.
 */
function ownerMayMove(nodeModulesFd: number, inProject: string, identity: string): void {
  const nm = fstatSync(nodeModulesFd).mode & 0o7777;
  if ((nm & 0o700) !== 0o700) fchmodSync(nodeModulesFd, nm | 0o700);
  const fd = openSync(inProject, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (identityOf(st) !== identity) throw new Error("it was replaced while being moved");
    // The mode preparePrivateHome gives the home's folders.
    if ((st.mode & 0o7777) !== 0o700) chmodSync(`/proc/self/fd/${fd}`, 0o700);
  } finally {
    closeSync(fd);
  }
}

/**
 * What sits at the store's name in node_modules before the run: the store of a run killed
 * before moving it back (the lock's recorded identity) goes home when the home's store is
 * missing or empty, or is removed when the home has one; a link, file or FIFO is removed (the
 * name is safe-npm's); any other directory is left as it is, and the run copies (the rename
 * onto it fails).
 */
function reclaim(
  nodeModulesFd: number,
  inProject: string,
  home: string,
  recorded: string | null,
  where: string,
  privateHome: string,
): string | null {
  const left = lstatSync(inProject, { throwIfNoEntry: false });
  if (left === undefined) return null;
  if (!left.isDirectory()) {
    unlinkSync(inProject);
    return `${where}, not a directory, was removed`;
  }
  if (recorded === null || identityOf(left) !== recorded) {
    if (readdirSync(inProject).length === 0) {
      rmdirSync(inProject);
      return null;
    }
    throw new ForeignStore(
      `${where} is not a store safe-npm put there: left as it is, and this install copies from the store instead of hard-linking; remove it to hard-link again`,
    );
  }
  ownerMayMove(nodeModulesFd, inProject, recorded);
  if (isEmptyDir(home)) {
    // Over the empty home directory, if there is one: a failed rename leaves it in place.
    renameSync(inProject, home);
    return "reclaimed from node_modules, where an interrupted run left it";
  }
  discardTree(inProject, privateHome);
  return "an older copy left in node_modules by an interrupted run was removed";
}

/** Moves the store back; keeps the lock (and its record) when it could not. */
function moveBack(
  nodeModulesFd: number,
  inProject: string,
  home: string,
  identity: string,
  where: string,
  label: string,
  privateHome: string,
): { problems: string[]; keepLock: boolean } {
  try {
    const st = lstatSync(inProject, { throwIfNoEntry: false });
    if (st === undefined)
      return { problems: [`${label} was removed from ${where} during the run`], keepLock: false };
    if (!st.isDirectory()) {
      unlinkSync(inProject);
      return {
        problems: [`${where} was replaced during the run by something not a directory: removed`],
        keepLock: false,
      };
    }
    if (identityOf(st) !== identity) {
      return {
        problems: [
          `${where} was replaced during the run by another directory: left as it is (remove it); ${label} starts anew`,
        ],
        keepLock: false,
      };
    }
    ownerMayMove(nodeModulesFd, inProject, identity);
    if (!isEmptyDir(home)) {
      // Made meanwhile by a run that found the home without its store; it may still use it.
      discardTree(inProject, privateHome);
      return {
        problems: [`${label} in the home was remade during the run; this run's copy was removed`],
        keepLock: false,
      };
    }
    // Over the empty home directory, if there is one: a failed rename leaves it in place.
    renameSync(inProject, home);
    return { problems: [], keepLock: false };
  } catch (error) {
    return {
      problems: [
        `could not move ${label} back from ${where} (${code(error)}); the next run reclaims it`,
      ],
      keepLock: true,
    };
  }
}

function isEmptyDir(path: string): boolean {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return true;
  return st.isDirectory() && readdirSync(path).length === 0;
}

/**
 * Takes the lock: null when a live process holds it; else this process's owner line and the
 * store identity a dead holder recorded (it was killed with the store in the project).
 */
function acquireLock(
  path: string,
  startTime: StartTime,
): { owner: string; store: string | null } | null {
  const owner = `${process.pid} ${startTime("self")}`;
  let recorded: string | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${owner}\n`, { flag: "wx", mode: 0o600 });
      return { owner, store: recorded };
    } catch (error) {
      if (code(error) !== "EEXIST") return null;
    }
    let holder: string;
    try {
      holder = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const [pid, start, store] = holder.trim().split(" ");
    if (pid !== undefined && /^\d+$/.test(pid) && startTime(Number(pid)) === start) return null;
    // Its holder is gone (killed before releasing it).
    recorded = store !== undefined && /^\d+:\d+$/.test(store) ? store : null;
    try {
      unlinkSync(path);
    } catch {}
  }
  return null;
}

function releaseLock(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}
