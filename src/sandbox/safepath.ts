/**
 * Host-side access to paths inside the project, which sandboxed code may have replaced: links are
 * never followed, special files never opened (a FIFO would block a read forever), and a path
 * that leaves the project is refused.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  type Stats,
} from "node:fs";
import { join, relative, sep } from "node:path";
import { SafeNpmError } from "../errors.js";

/** Said with every refused link: the user may have made it, or something in the project did. */
export const PLANTED_HINT =
  "if you made it yourself, replace it with a regular file or directory (a copy, not a link); if not, code that ran in the project planted it: remove it and check the project";

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
    if (maxBytes !== undefined && stat.size > maxBytes) {
      throw new SafeNpmError("UNSAFE_PATH", `${path} is larger than ${maxBytes} bytes`, {
        hint: `check ${path}: it is larger than safe-npm reads`,
      });
    }
    return readFileSync(fd);
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

/**
 * Makes a folder of this user's writable by its owner again; false when it is not a real
 * folder of this user's (a link, someone else's) or already was writable. Opened without
 * following a link, and changed through that descriptor: a link swapped in is never followed.
 */
export function ownerWritable(dir: string): boolean {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isDirectory() || st.uid !== process.getuid?.()) return false;
    if ((st.mode & 0o300) === 0o300) return false;
    fchmodSync(fd, (st.mode & 0o7777) | 0o300);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * Gives a folder of this user's back its owner's read and search permission (a folder made
 * unlistable cannot be opened to fchmod it, so by path, after lstat: not a link, this user's);
 * false when it is not such a folder or already had them.
 */
export function ownerListable(dir: string): boolean {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory() || st.uid !== process.getuid?.()) return false;
  if ((st.mode & 0o500) === 0o500) return false;
  chmodSync(dir, (st.mode & 0o7777) | 0o700);
  return true;
}
