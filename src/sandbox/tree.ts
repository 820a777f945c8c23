/**
 * Walking a tree that sandboxed code could write to (a private home), for its size and for its
 * removal, without ever following a link or opening anything but a directory, whatever its depth.
 *
 * Each directory is opened with O_DIRECTORY | O_NOFOLLOW and its entries are reached through
 * `/proc/self/fd/<fd>/<name>` (node has no openat): the path stays pinned to the directory that
 * was opened, so a directory swapped for a link by a concurrent run cannot redirect the walk (a
 * plain path would be resolved again on every call). Entries are inspected with lstat only; a
 * link is counted and removed as the link. A child is entered only when the directory opened is
 * the one listed (same dev and inode).
 *
 * Code inside can nest directories tens of thousands deep. The walk keeps its own stack (no
 * recursion) and holds descriptors only for the last WINDOW levels: an ancestor whose descriptor
 * was closed is opened again through `<child fd>/..` when the walk climbs back to it, and must be
 * the same directory (dev and inode) still holding the child under its name; if not, the tree
 * was moved during the walk and the walk stops there, reporting it.
 *
 * A directory on another mount (another device, or a bind mount of the same filesystem, told by
 * the mount id the kernel gives in /proc/self/fdinfo) is neither counted nor entered nor removed.
 * A directory that cannot be opened or read is reported: a size is then a lower bound.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  type Stats,
  unlinkSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

export interface TreeSize {
  /** Bytes on disk (512-byte blocks, as du counts), each hard-linked file once. */
  bytes: number;
  /** Directories below the root on another mount: not counted, not entered. */
  otherMounts: string[];
  /** Directories that could not be opened or read, with why: `bytes` is then at least that. */
  unreadable: string[];
}

export interface TreeRemoval {
  /** Bytes on disk of what was removed. */
  freed: number;
  /** What could not be removed, with why (another mount, a permission). */
  kept: string[];
}

/** Levels whose directory stays open; deeper ancestors are opened again on the way back up. */
export const WINDOW = 32;
/** Problems named one by one; past this many, only counted. */
const MAX_REPORTED = 50;

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const fdPath = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

const onDisk = (st: Stats): number => st.blocks * 512;

/** The id of the mount the open file `fd` is on, or null where the kernel does not say. */
export function mountId(fd: number): number | null {
  try {
    const match = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return match === null ? null : Number(match[1]);
  } catch {
    return null;
  }
}

interface Frame {
  /** Its name in its parent (the root's: its path). */
  name: string;
  st: Stats;
  /** Open while within WINDOW levels of the deepest; null otherwise. */
  fd: number | null;
  /** Entries still to handle. */
  names: string[];
  /** Removal: everything in it went so far. */
  emptied: boolean;
}

/** The tree changed under the walk in a way it cannot go on from. */
export class Moved extends Error {}

interface Walk {
  bytes: number;
  otherMounts: string[];
  /** With why, for directories not entered and (removal) entries not removed. */
  problems: string[];
}

function walkTree(root: string, remove: boolean): Walk {
  const result: Walk = { bytes: 0, otherMounts: [], problems: [] };
  let hidden = 0;
  const report = (list: string[], text: string): void => {
    if (result.otherMounts.length + result.problems.length < MAX_REPORTED) list.push(text);
    else hidden++;
  };
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch {
    return result;
  }
  if (!top.isDirectory()) {
    if (!remove) return { ...result, bytes: onDisk(top) };
    try {
      unlinkSync(root);
      return { ...result, bytes: onDisk(top) };
    } catch (error) {
      return { ...result, problems: [`${root} (${reason(error)})`] };
    }
  }

  /** Frames holding a descriptor, all closed when the walk ends however it ends. */
  const open = new Set<Frame>();
  const stack: Frame[] = [];
  const pathOf = (name?: string): string =>
    join(root, ...stack.slice(1).map((f) => f.name), ...(name === undefined ? [] : [name]));
  const closeFrame = (frame: Frame): void => {
    if (frame.fd !== null) closeSync(frame.fd);
    frame.fd = null;
    open.delete(frame);
  };
  const seen = new Set<string>();
  let parentFd: number | null = null;
  try {
    // The root is reached from its parent (a directory safe-npm made, never bound inside), so
    // that a root that is itself a mount point is seen as one.
    parentFd = openSync(dirname(root), constants.O_RDONLY | constants.O_DIRECTORY);
    const rootName = basename(root);
    let rootFd: number;
    try {
      rootFd = openSync(fdPath(parentFd, rootName), DIR_FLAGS);
    } catch (error) {
      result.problems.push(`${root} (cannot be opened: ${reason(error)})`);
      return result;
    }
    const rootMount = mountId(rootFd);
    const rootSt = fstatSync(rootFd);
    const parentMount = mountId(parentFd);
    if (rootSt.dev !== top.dev || rootSt.ino !== top.ino) {
      closeSync(rootFd);
      result.problems.push(`${root} (changed during the walk)`);
      return result;
    }
    if (rootMount !== null && parentMount !== null && rootMount !== parentMount) {
      closeSync(rootFd);
      result.otherMounts.push(root);
      return result;
    }
    const rootFrame: Frame = { name: root, st: top, fd: rootFd, names: [], emptied: true };
    open.add(rootFrame);
    try {
      rootFrame.names = readdirSync(`/proc/self/fd/${rootFd}`);
    } catch (error) {
      result.bytes += onDisk(top);
      result.problems.push(`${root} (cannot be read: ${reason(error)})`);
      return result;
    }
    if (!remove) result.bytes += onDisk(top);
    stack.push(rootFrame);

    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as Frame;
      const dirFd = frame.fd as number;
      const name = frame.names.pop();
      if (name === undefined) {
        // Its entries are done: climb back to its parent (opening it again if it was closed).
        stack.pop();
        const parent = stack[stack.length - 1];
        if (parent !== undefined && parent.fd === null) {
          parent.fd = reopenParent(dirFd, parent.st, frame);
          open.add(parent);
        }
        closeFrame(frame);
        if (!remove) continue;
        const holder = (parent === undefined ? parentFd : parent.fd) as number;
        if (!frame.emptied) {
          if (parent !== undefined) parent.emptied = false;
          continue;
        }
        try {
          const path = fdPath(holder, parent === undefined ? basename(root) : frame.name);
          retryWritable(holder, () => rmdirSync(path));
          result.bytes += onDisk(frame.st);
        } catch (error) {
          const shown = parent === undefined ? root : pathOf(frame.name);
          report(result.problems, `${shown} (${reason(error)})`);
          if (parent !== undefined) parent.emptied = false;
        }
        continue;
      }

      const path = fdPath(dirFd, name);
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      if (!st.isDirectory()) {
        if (remove) {
          try {
            retryWritable(dirFd, () => unlinkSync(path));
            result.bytes += onDisk(st);
          } catch (error) {
            report(result.problems, `${pathOf(name)} (${reason(error)})`);
            frame.emptied = false;
          }
          continue;
        }
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        result.bytes += onDisk(st);
        continue;
      }
      if (st.dev !== top.dev) {
        report(result.otherMounts, pathOf(name));
        frame.emptied = false;
        continue;
      }
      let fd: number;
      try {
        fd = openSync(path, DIR_FLAGS);
      } catch (error) {
        report(result.problems, `${pathOf(name)} (cannot be opened: ${reason(error)})`);
        if (!remove) result.bytes += onDisk(st);
        frame.emptied = false;
        continue;
      }
      const child: Frame = { name, st, fd, names: [], emptied: true };
      open.add(child);
      const opened = fstatSync(fd);
      if (opened.dev !== st.dev || opened.ino !== st.ino) {
        closeFrame(child);
        report(result.problems, `${pathOf(name)} (changed during the walk)`);
        frame.emptied = false;
        continue;
      }
      const mount = mountId(fd);
      if (mount !== null && rootMount !== null && mount !== rootMount) {
        // A bind mount of the same filesystem has the same dev: only the mount id tells.
        closeFrame(child);
        report(result.otherMounts, pathOf(name));
        frame.emptied = false;
        continue;
      }
      try {
        child.names = readdirSync(`/proc/self/fd/${fd}`);
      } catch (error) {
        closeFrame(child);
        report(result.problems, `${pathOf(name)} (cannot be read: ${reason(error)})`);
        if (!remove) result.bytes += onDisk(st);
        frame.emptied = false;
        continue;
      }
      if (!remove) result.bytes += onDisk(st);
      stack.push(child);
      const far = stack[stack.length - 1 - WINDOW];
      if (far !== undefined) closeFrame(far);
    }
  } catch (error) {
    if (!(error instanceof Moved)) throw error;
    result.problems.push(`${pathOf()} (${error.message})`);
  } finally {
    for (const frame of open) closeFrame(frame);
    if (parentFd !== null) closeSync(parentFd);
  }
  if (hidden > 0) result.problems.push(`… and ${hidden} more`);
  return result;
}

/**
 * The parent of the directory open at `childFd`, opened again through `..`: it must be the
 * directory listed before (`parent`) and still hold the child under its name. Otherwise the
 * tree was moved while it was walked, and the walk stops rather than go on somewhere else.
 */
export function reopenParent(
  childFd: number,
  parent: Stats,
  child: { name: string; st: Stats },
): number {
  const fd = openSync(`/proc/self/fd/${childFd}/..`, DIR_FLAGS);
  try {
    const st = fstatSync(fd);
    const listed = lstatSync(fdPath(fd, child.name));
    if (
      st.dev === parent.dev &&
      st.ino === parent.ino &&
      listed.dev === child.st.dev &&
      listed.ino === child.st.ino
    ) {
      return fd;
    }
  } catch {
    // not there any more: moved
  }
  closeSync(fd);
  throw new Moved("moved during the walk: stopped there");
}

/**
 * The size of `root` on disk. A root that is missing counts 0; one that is not a directory
 * counts as itself.
 */
export function treeSize(root: string): TreeSize {
  const walk = walkTree(root, false);
  return { bytes: walk.bytes, otherMounts: walk.otherMounts, unreadable: walk.problems };
}

/**
 * Removes `root` and everything below it on the same mount, links as links. What cannot be
 * removed is reported, never forced through: a directory on another mount stays, and so do its
 * ancestors.
 */
export function removeTree(root: string): TreeRemoval {
  const walk = walkTree(root, true);
  return {
    freed: walk.bytes,
    kept: [...walk.otherMounts.map((path) => `${path} (another mount)`), ...walk.problems],
  };
}

/**
 * Code inside may have made a directory read-only (0555), which keeps its entries from being
 * removed: it belongs to the user, so it is made writable (through its descriptor) and the
 * removal tried once more.
 */
function retryWritable(dirFd: number, remove: () => void): void {
  try {
    remove();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EACCES") throw error;
    const mode = fstatSync(dirFd).mode & 0o7777;
    fchmodSync(dirFd, mode | 0o700);
    remove();
  }
}

function reason(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
