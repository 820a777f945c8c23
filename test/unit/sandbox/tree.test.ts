import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Moved, mountId, removeTree, reopenParent, treeSize } from "../../../src/sandbox/tree.js";

let dir: string;
let home: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-unit-"));
  home = join(dir, "home");
  outside = join(dir, "outside");
  mkdirSync(join(home, ".npm", "_cacache"), { recursive: true });
  writeFileSync(join(home, ".npm", "_cacache", "a"), Buffer.alloc(100_000, 1));
  mkdirSync(outside);
  writeFileSync(join(outside, "big"), Buffer.alloc(2_000_000, 1));
  // What code inside could plant: links to a directory and a file outside, a FIFO-free tree.
  symlinkSync(outside, join(home, ".npm", "outside-dir"));
  symlinkSync(join(outside, "big"), join(home, ".npm", "outside-file"));
  symlinkSync("/", join(home, "root"));
});
// rm (fts) removes any depth; a tree left by a failing test may be far too deep for rmSync.
afterEach(() => execFileSync("rm", ["-rf", dir]));

describe("treeSize", () => {
  it("counts what is in the tree, links as links, never what they point at", () => {
    const { bytes, otherMounts } = treeSize(home);
    expect(bytes).toBeGreaterThanOrEqual(100_000);
    expect(bytes).toBeLessThan(2_000_000);
    expect(otherMounts).toEqual([]);
  });

  it("counts a hard-linked file once", () => {
    const before = treeSize(home).bytes;
    linkSync(join(home, ".npm", "_cacache", "a"), join(home, ".npm", "a-again"));
    expect(treeSize(home).bytes).toBe(before);
  });

  it("is 0 for a missing tree", () => {
    expect(treeSize(join(dir, "nothing")).bytes).toBe(0);
  });
});

/** Root opens any directory: only an unprivileged user sees one made unreadable inside. */
describe.skipIf(process.getuid?.() === 0)("a directory made unreadable inside", () => {
  it("is named, with why; the size is a lower bound and the removal keeps it", () => {
    const locked = join(home, ".npm", "locked");
    mkdirSync(locked);
    writeFileSync(join(locked, "big"), Buffer.alloc(1_000_000, 1));
    chmodSync(locked, 0);
    try {
      const size = treeSize(home);
      expect(size.unreadable).toEqual([`${locked} (cannot be opened: EACCES)`]);
      expect(size.bytes).toBeLessThan(1_000_000);
      const { kept } = removeTree(home);
      expect(kept).toEqual([`${locked} (cannot be opened: EACCES)`]);
      expect(existsSync(join(home, ".npm", "_cacache"))).toBe(false);
    } finally {
      chmodSync(locked, 0o700);
    }
  });
});

/**
 * Climbing back past the levels whose descriptors were closed: the parent reached through `..`
 * must be the directory listed, still holding the child under its name.
 */
describe("reopenParent", () => {
  const setup = (): {
    a: string;
    fd: number;
    parent: Stats;
    child: { name: string; st: Stats };
  } => {
    const a = join(home, "a");
    mkdirSync(join(a, "b"), { recursive: true });
    const fd = openSync(join(a, "b"), "r");
    return { a, fd, parent: lstatSync(a), child: { name: "b", st: lstatSync(join(a, "b")) } };
  };

  it("opens the same parent when nothing moved", () => {
    const { fd, parent, child } = setup();
    try {
      const up = reopenParent(fd, parent, child);
      expect(fstatSync(up).ino).toBe(parent.ino);
      closeSync(up);
    } finally {
      closeSync(fd);
    }
  });

  it.each([
    ["moved to another directory", (a: string) => renameSync(join(a, "b"), join(home, "b"))],
    ["renamed in its parent", (a: string) => renameSync(join(a, "b"), join(a, "b2"))],
    [
      "its parent swapped for another directory of the same name",
      (a: string) => {
        renameSync(a, join(home, "a-old"));
        mkdirSync(a);
        renameSync(join(home, "a-old", "b"), join(a, "b"));
      },
    ],
  ])("stops when the child was %s", (_, move) => {
    const { a, fd, parent, child } = setup();
    try {
      move(a);
      expect(() => reopenParent(fd, parent, child)).toThrow(Moved);
    } finally {
      closeSync(fd);
    }
  });
});

describe("mountId", () => {
  it("tells two mounts apart, and one mount's directories as one", () => {
    const ids = ["/", "/proc", dir, home].map((path) => {
      const fd = openSync(path, "r");
      try {
        return mountId(fd);
      } finally {
        closeSync(fd);
      }
    });
    expect(ids.every((id) => typeof id === "number")).toBe(true);
    expect(ids[1]).not.toBe(ids[0]);
    expect(ids[3]).toBe(ids[2]);
  });
});

describe("removeTree", () => {
  it("removes the tree and the links in it, not their targets", () => {
    const size = treeSize(home).bytes;
    const { freed, kept } = removeTree(home);
    expect(kept).toEqual([]);
    expect(freed).toBe(size);
    expect(existsSync(home)).toBe(false);
    expect(readFileSync(join(outside, "big")).length).toBe(2_000_000);
    expect(lstatSync("/").isDirectory()).toBe(true);
  });

  it("removes a link given as the root, not its target", () => {
    const link = join(dir, "link");
    symlinkSync(outside, link);
    expect(removeTree(link).kept).toEqual([]);
    expect(existsSync(link)).toBe(false);
    expect(existsSync(join(outside, "big"))).toBe(true);
  });
});

/**
 * What code inside can make in its home in a second: directories nested far deeper than a path
 * can name (PATH_MAX 4096), than a descriptor per level allows, than a recursion's stack.
 */
describe("a tree nested 10000 deep", () => {
  const DEPTH = 10_000;
  const nest = (at: string): void => {
    execFileSync(process.execPath, [
      "-e",
      `const fs = require("fs"); process.chdir(${JSON.stringify(at)});
       for (let i = 0; i < ${DEPTH}; i++) { fs.mkdirSync("d"); process.chdir("d"); }
       fs.writeFileSync("bottom", Buffer.alloc(1_000_000, 1));`,
    ]);
  };
  /** du (fts, no recursion limit) is the control: what the tree really takes. */
  const du = (path: string): number =>
    Number(execFileSync("du", ["-sB1", path], { encoding: "utf8" }).split("\t")[0]);

  it("is measured whole (the same bytes as du, the file at the bottom included) and removed whole", () => {
    nest(join(home, ".npm"));
    const truth = du(home);
    expect(truth).toBeGreaterThan(1_000_000 + DEPTH * 4096 * 0.9);
    const size = treeSize(home);
    expect(size.unreadable).toEqual([]);
    expect(size.bytes).toBe(truth);
    const { freed, kept } = removeTree(home);
    expect(kept).toEqual([]);
    expect(freed).toBe(truth);
    expect(existsSync(home)).toBe(false);
    expect(readFileSync(join(outside, "big")).length).toBe(2_000_000);
  }, 300_000);
});
