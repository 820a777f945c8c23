/**
 * Host-side access to paths inside the project, which sandboxed code may have replaced: links are
 * never followed, special files never opened (a FIFO would block a read forever), and a path
 * that leaves the project is refused.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  realpathSync,
  type Stats,
} from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import { SafeNpmError } from "../errors.js";

/** Said with every refused link: the user may have made it, or something in the project did. */
export const PLANTED_HINT =
  "if you made it yourself, replace it with a regular file or directory (a copy, not a link); if not, code that ran in the project planted it: remove it and check the project";

/** What is at `path` itself, a final link not followed; "missing" when nothing can be seen. */
export function entryKind(path: string): "file" | "directory" | "link" | "other" | "missing" {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return "missing";
  }
  if (st.isSymbolicLink()) return "link";
  return st.isFile() ? "file" : st.isDirectory() ? "directory" : "other";
}

/**
 * The kind of `path` inside `root` without following any link: "missing" when it (or a parent)
 * does not exist. Every component from `root` down must be a real directory; a link anywhere
 * (bwrap, and every other tool, would follow it), a parent that is not a directory, or a path
 * outside `root` is refused with exit 125. `what` names the path's role in the message.
 */
export function projectPathKind(
  root: string,
  path: string,
  what: string,
): "missing" | "file" | "directory" | "other" {
  const rel = relative(root, path);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) {
    throw new SafeNpmError("BAD_SETTINGS", `${what} ${path} is not inside the project ${root}`, {
      hint: "name a path inside the project",
    });
  }
  const parts = rel.split(sep);
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = join(current, part);
    let st: Stats;
    try {
      st = lstatSync(current);
    } catch {
      return "missing";
    }
    if (st.isSymbolicLink()) {
      const where = current === path ? "" : ` (its parent ${current} is a symbolic link)`;
      throw new SafeNpmError(
        "UNSAFE_PATH",
        `${what} ${path} goes through a symbolic link${where}; safe-npm does not follow links in the project`,
        { hint: PLANTED_HINT },
      );
    }
    if (i === parts.length - 1) {
      return st.isFile() ? "file" : st.isDirectory() ? "directory" : "other";
    }
    if (!st.isDirectory()) {
      throw new SafeNpmError(
        "UNSAFE_PATH",
        `${what} ${path} cannot exist: ${current} is not a directory`,
        { hint: `remove ${current}, or rename it` },
      );
    }
  }
  return "missing";
}

/** The most a file is read without a bound of its own: far beyond any config or lockfile. */
const DEFAULT_MAX_READ = 256 << 20;

/**
 * Reads a regular file. With `noFollow` the last component must not be a link (O_NOFOLLOW);
 * O_NONBLOCK keeps a FIFO from blocking the open, and fstat on the open descriptor (no second
 * look-up) refuses anything but a regular file. Errors name the file, never its content.
 */
export function readRegularFile(path: string, noFollow: boolean, maxBytes?: number): string {
  return readRegularBytes(path, noFollow, maxBytes).toString("utf8");
}

/** readRegularFile's bytes, as they are in the file. */
export function readRegularBytes(path: string, noFollow: boolean, maxBytes?: number): Buffer {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0),
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ELOOP") {
      throw new SafeNpmError(
        "UNSAFE_PATH",
        `${path} is a symbolic link; safe-npm does not follow it`,
        {
          hint: PLANTED_HINT,
        },
      );
    }
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      throw new SafeNpmError("UNSAFE_PATH", `${path} is not a regular file`, {
        hint: `replace ${path} with a regular file, or remove it`,
      });
    }
    const max = maxBytes ?? DEFAULT_MAX_READ;
    const tooLarge = (): SafeNpmError =>
      new SafeNpmError("UNSAFE_PATH", `${path} is larger than ${max} bytes`, {
        hint: `check ${path}: it is larger than safe-npm reads`,
      });
    if (stat.size > max) throw tooLarge();
    // Bounded as it is read too: a file of /proc or /sys is "regular" with size 0 and may never
    // end (a link to /proc/self/pagemap), and a file may grow meanwhile.
    const parts: Buffer[] = [];
    let size = 0;
    const chunk = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      size += n;
      if (size > max) throw tooLarge();
      parts.push(Buffer.from(chunk.subarray(0, n)));
    }
    return Buffer.concat(parts, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses a secret's file in the project that has other names (hard links). Hiding the file
 * covers one name only: a link made inside by an earlier run (before the secret was written into
 * that file) shows the same content under a name the sandbox can read. Checked before each run.
 */
export function refuseHardLinked(path: string, what: string): void {
  const { nlink } = lstatSync(path);
  if (nlink <= 1) return;
  throw new SafeNpmError(
    "HARD_LINKED_SECRET",
    `${what} ${path} has ${nlink} names (hard links): another name for it in the project would show its content inside the sandbox`,
    {
      hint: `find the other names with \`find / -xdev -samefile '${path}'\` and remove them, then write it anew as a file of its own (\`cp '${path}' '${path}.new' && mv '${path}.new' '${path}'\`); if you did not make those links, code that ran in the project did: check the project`,
    },
  );
}

/** open(2)'s O_PATH (Linux): a descriptor for a folder that cannot be read, to look at it. */
const O_PATH = 0o10000000;

/** The path that names the file or folder `fd` was opened on, whatever was renamed since. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/**
 * Makes a folder of this user's writable by its owner again; false when it is not a real
 * folder of this user's (a link, someone else's) or already was writable. Opened without
 * following a link, and changed through that descriptor: a link swapped in is never followed.
 */
export function ownerWritable(dir: string): boolean {
  return giveOwner(dir, 0o300);
}

/**
 * Gives a folder of this user's back its owner's read and search permission; false when it is
 * not such a folder or already had them. By path, a run still going in the project could swap a
 * link in after the look, and the folder's group and other bits (its planter's choice) would
 * land on whatever the link names.
 */
export function ownerListable(dir: string): boolean {
  return giveOwner(dir, 0o700, 0o500);
}

/** Adds `bits` to the mode of the folder of this user's at `dir` when it lacks some of `need`. */
function giveOwner(dir: string, bits: number, need = bits): boolean {
  let fd: number;
  try {
    // O_PATH: a folder without read permission opens too.
    fd = openSync(dir, O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    return giveOwnerAt(fd, bits, need);
  } finally {
    closeSync(fd);
  }
}

/** giveOwner for a folder already open (O_PATH is enough). */
export function giveOwnerAt(fd: number, bits: number, need = bits): boolean {
  const st = fstatSync(fd);
  if (!st.isDirectory() || st.uid !== process.getuid?.()) return false;
  if ((st.mode & need) === need) return false;
  // The mode read from that very folder. fchmod refuses an O_PATH descriptor (EBADF); chmod
  // follows the /proc magic link to the folder it names.
  chmodSync(fdPath(fd), (st.mode & 0o7777) | bits);
  return true;
}

/**
 * An O_PATH descriptor for the folder `dir`, reached from `root` one folder at a time without
 * following a link (each step opens `name` in the folder before it, through its /proc path). A
 * run still going in the project could swap a link in for any folder on the way, and a rename
 * or chmod by path would then act outside the project. `root` is taken by path: its parents lie
 * outside the project. A link or a non-folder on the way throws (ELOOP, ENOTDIR).
 */
export function openDirBeneath(root: string, dir: string): number {
  const rel = relative(root, dir);
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`${dir} is not inside ${root}`);
  }
  let fd = openSync(root, O_PATH | constants.O_DIRECTORY);
  try {
    for (const name of rel === "" ? [] : rel.split(sep)) {
      const next = openSync(
        `${fdPath(fd)}/${name}`,
        O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW,
      );
      closeSync(fd);
      fd = next;
    }
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** The real path, or null. The C library's: one call, where node's own lstats each component. */
export function realOrNull(path: string): string | null {
  try {
    return realpathSync.native(path);
  } catch {
    return null;
  }
}
