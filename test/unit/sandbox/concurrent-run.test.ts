/**
 * Host-side steps after a run, against another run still going in the same project: it may swap
 * a link in for a folder right after the step looked. The race is forced here by swapping right
 * after the looked-at path's stat.
 */
import * as fs from "node:fs";
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** The concurrent run's swap: done once, right after a stat of a path ending in `suffix`. */
let swap: { suffix: string; run: () => void } | null = null;
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof fs>();
  const after =
    <R>(f: (target: unknown, ...rest: unknown[]) => R) =>
    (target: unknown, ...rest: unknown[]): R => {
      const result = f(target, ...rest);
      const s = swap;
      if (s !== null && (typeof target === "number" || String(target).endsWith(s.suffix))) {
        swap = null;
        s.run();
      }
      return result;
    };
  return {
    ...real,
    default: real,
    lstatSync: after(real.lstatSync as (t: unknown, ...r: unknown[]) => fs.Stats),
    fstatSync: after(real.fstatSync as (t: unknown, ...r: unknown[]) => fs.Stats),
  };
});

const { ownerListable } = await import("../../../src/sandbox/safepath.js");
const { cleanupPlaceholders } = await import("../../../src/sandbox/placeholders.js");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-concurrent-"));
  swap = null;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (path: string): number => statSync(path).mode & 0o7777;

describe("ownerListable", () => {
  it("gives the owner back read and search, leaving the folder's other bits as they are", () => {
    const folder = join(dir, "hidden");
    mkdirSync(folder);
    fs.chmodSync(folder, 0o311);
    expect(ownerListable(folder)).toBe(true);
    expect(mode(folder)).toBe(0o711);
    expect(ownerListable(folder)).toBe(false);
  });

  it("never changes what a link in the folder's place names", () => {
    const victim = join(dir, "victim");
    mkdirSync(victim, 0o700);
    fs.chmodSync(victim, 0o700);
    symlinkSync(victim, join(dir, "link"));
    expect(ownerListable(join(dir, "link"))).toBe(false);
    expect(mode(victim)).toBe(0o700);
  });

  it("changes the folder it looked at, not a link swapped in for it after the look", () => {
    const folder = join(dir, "hidden");
    const victim = join(dir, "victim");
    mkdirSync(folder);
    mkdirSync(victim);
    fs.chmodSync(victim, 0o700);
    // The folder's own bits are the planter's choice: everything for everyone but its owner.
    fs.chmodSync(folder, 0o077);
    swap = {
      suffix: "",
      run: () => {
        renameSync(folder, join(dir, "moved"));
        symlinkSync(victim, folder);
      },
    };
    ownerListable(folder);
    expect(swap).toBeNull();
    // The victim keeps its mode; by path it would have become 0777, open to every user.
    expect(mode(victim)).toBe(0o700);
    expect(mode(join(dir, "moved"))).toBe(0o777);
  });
});

describe("cleanupPlaceholders", () => {
  it("removes the empty stand-in in the folder it reached, not one a link swapped in names", () => {
    const root = join(dir, "project");
    const victim = join(dir, "victim");
    mkdirSync(join(root, "docs"), { recursive: true });
    mkdirSync(victim);
    // The user's own empty file of that name elsewhere, and the run's stand-in.
    writeFileSync(join(victim, ".yarnrc.yml"), "");
    writeFileSync(join(root, "docs", ".yarnrc.yml"), "");
    swap = {
      suffix: "/.yarnrc.yml",
      run: () => {
        renameSync(join(root, "docs"), join(root, "moved"));
        symlinkSync(victim, join(root, "docs"));
      },
    };
    cleanupPlaceholders([join(root, "docs", ".yarnrc.yml")], root);
    expect(swap).toBeNull();
    expect(fs.existsSync(join(victim, ".yarnrc.yml"))).toBe(true);
    expect(fs.existsSync(join(root, "moved", ".yarnrc.yml"))).toBe(false);
  });
});
