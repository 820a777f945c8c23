/**
 * ownerListable gives a folder made unlistable inside back to its owner. A run still going in
 * the project may swap a link in for the folder while the check looks at it: the race is forced
 * here by swapping right after the folder's mode is read.
 */
import * as fs from "node:fs";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** Called once right after the next stat of the folder: the concurrent run's swap. */
let swap: (() => void) | null = null;
vi.mock("node:fs", async (importOriginal) => {
  const real = await importOriginal<typeof fs>();
  const after =
    <A extends unknown[], R>(f: (...args: A) => R) =>
    (...args: A): R => {
      const result = f(...args);
      const s = swap;
      swap = null;
      s?.();
      return result;
    };
  return {
    ...real,
    default: real,
    lstatSync: after(real.lstatSync as (...a: unknown[]) => fs.Stats),
    fstatSync: after(real.fstatSync as (...a: unknown[]) => fs.Stats),
  };
});

const { ownerListable } = await import("../../../src/sandbox/safepath.js");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-listable-"));
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
    swap = () => {
      renameSync(folder, join(dir, "moved"));
      symlinkSync(victim, folder);
    };
    ownerListable(folder);
    expect(swap).toBeNull();
    // The victim keeps its mode; by path it would have become 0777, open to every user.
    expect(mode(victim)).toBe(0o700);
    expect(mode(join(dir, "moved"))).toBe(0o777);
  });
});
