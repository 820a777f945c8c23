/**
 * Walking a tree that sandboxed code could write to (a private home), for its size and for its
 * removal, without ever following a link or opening anything but a directory.
 *
 * Each directory is opened with O_DIRECTORY | O_NOFOLLOW and its entries are reached through
 * `/proc/self/fd/<fd>/<name>`: the path stays pinned to the directory that was opened, so a
 * directory swapped for a link by a concurrent run cannot redirect the walk (a plain path would
 * be resolved again on every call). Entries are inspected with lstat only; a link is counted and
 * removed as the link. A directory on another device (a mount inside the tree) is neither
 * counted nor entered nor removed.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  rmdirSync,
  type Stats,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";

export interface TreeSize {
  /** Bytes on disk (512-byte blocks, as du counts), each hard-linked file once. */
  bytes: number;
  /** Directories below the root on another device: not counted, not entered. */
  otherMounts: string[];
}

export interface TreeRemoval {
  /** Bytes on disk of what was removed. */
  freed: number;
  /** What could not be removed, with why (another device, a permission). */
  kept: string[];
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

const fdPath = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`;

function openDir(path: string): number {
  return openSync(path, DIR_FLAGS);
}

const onDisk = (st: Stats): number => st.blocks * 512;

/**
 * The size of `root` on disk. A root that is missing counts 0; one that is not a directory
 * counts as itself.
 */
export function treeSize(root: string): TreeSize {
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch {
    return { bytes: 0, otherMounts: [] };
  }
  if (!top.isDirectory()) return { bytes: onDisk(top), otherMounts: [] };
  const seen = new Set<string>();
  const otherMounts: string[] = [];
  let bytes = 0;
  const walk = (fd: number, shown: string): void => {
    for (const name of safeReaddir(fd)) {
      let st: Stats;
      try {
        st = lstatSync(fdPath(fd, name));
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (st.dev !== top.dev) {
          otherMounts.push(join(shown, name));
          continue;
        }
        bytes += onDisk(st);
        withDir(fdPath(fd, name), (child) => walk(child, join(shown, name)));
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      bytes += onDisk(st);
    }
  };
  bytes += onDisk(top);
  withDir(root, (fd) => walk(fd, root));
  return { bytes, otherMounts };
}

/**
 * Removes `root` and everything below it on the same device, links as links. What cannot be
 * removed is reported, never forced through: a directory on another device stays, and so do its
 * ancestors.
 */
export function removeTree(root: string): TreeRemoval {
  let top: Stats;
  try {
    top = lstatSync(root);
  } catch {
    return { freed: 0, kept: [] };
  }
  const kept: string[] = [];
  if (!top.isDirectory()) {
    try {
      unlinkSync(root);
      return { freed: onDisk(top), kept };
    } catch (error) {
      return { freed: 0, kept: [`${root} (${reason(error)})`] };
    }
  }
  let freed = 0;
  /** Empties the directory open at `fd`; true when it is empty afterwards. */
  const empty = (fd: number, shown: string): boolean => {
    let all = true;
    for (const name of safeReaddir(fd)) {
      const path = fdPath(fd, name);
      let st: Stats;
      try {
        st = lstatSync(path);
      } catch {
        continue;
      }
      const remove = (): void => (st.isDirectory() ? rmdirSync(path) : unlinkSync(path));
      if (st.isDirectory()) {
        if (st.dev !== top.dev) {
          kept.push(`${join(shown, name)} (another mount)`);
          all = false;
          continue;
        }
        const emptied = withDir(path, (child) => empty(child, join(shown, name)));
        if (emptied !== true) {
          if (emptied === null) kept.push(`${join(shown, name)} (cannot be opened)`);
          all = false;
          continue;
        }
      }
      try {
        retryWritable(fd, remove);
        freed += onDisk(st);
      } catch (error) {
        kept.push(`${join(shown, name)} (${reason(error)})`);
        all = false;
      }
    }
    return all;
  };
  const emptied = withDir(root, (fd) => empty(fd, root));
  if (emptied === true) {
    try {
      rmdirSync(root);
      freed += onDisk(top);
    } catch (error) {
      kept.push(`${root} (${reason(error)})`);
    }
  } else if (emptied === null) {
    kept.push(`${root} (cannot be opened)`);
  }
  return { freed, kept };
}

/** Runs `body` on the directory at `path` opened without following a link; null if it cannot be. */
function withDir<T>(path: string, body: (fd: number) => T): T | null {
  let fd: number;
  try {
    fd = openDir(path);
  } catch {
    return null;
  }
  try {
    return body(fd);
  } finally {
    closeSync(fd);
  }
}

function safeReaddir(fd: number): string[] {
  try {
    return readdirSync(`/proc/self/fd/${fd}`);
  } catch {
    return [];
  }
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
