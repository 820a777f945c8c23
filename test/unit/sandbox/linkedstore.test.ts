import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BUN_CACHE,
  linkObstacle,
  linkStore,
  PNPM_STORE,
  storeForTool,
  storeLockPath,
} from "../../../src/sandbox/linkedstore.js";
import { preparePrivateHome } from "../../../src/sandbox/privatehome.js";

let dir: string;
let home: string;
let root: string;
let storeHome: string;
let inProject: string;
/** This process is alive (start time "1"); every other pid is gone. */
const startTime = (pid: number | "self"): string | null =>
  pid === "self" || pid === process.pid ? "1" : null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-unit-"));
  home = join(dir, "homes", "app-0123456789ab");
  root = join(dir, "project");
  mkdirSync(root);
  preparePrivateHome(home);
  storeHome = join(home, PNPM_STORE.home);
  inProject = join(root, "node_modules", PNPM_STORE.name);
  writeFileSync(join(storeHome, "file"), "stored");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ino = (path: string): number => lstatSync(path).ino;

describe("storeForTool", () => {
  it("links pnpm's store and bun's cache, nothing for other tools", () => {
    expect(storeForTool("pnpm")).toBe(PNPM_STORE);
    expect(storeForTool("bun")).toBe(BUN_CACHE);
    expect(storeForTool("npm")).toBeNull();
    expect(storeForTool("yarn")).toBeNull();
  });
});

describe("linkObstacle", () => {
  it("is null on one filesystem, also before the home exists", () => {
    expect(linkObstacle(join(dir, "not-yet", "home"), root)).toBeNull();
  });
  it("names different filesystems", () => {
    // /proc is never the temporary directory's filesystem.
    expect(linkObstacle("/proc/self", root)).toMatch(/different filesystems/);
  });
});

describe("linkStore", () => {
  it("moves the store into node_modules for the run and back after, the same directory", () => {
    const before = ino(storeHome);
    const run = linkStore(home, root, PNPM_STORE, startTime);
    expect(run.stores).toEqual([PNPM_STORE]);
    expect(existsSync(storeHome)).toBe(false);
    expect(ino(inProject)).toBe(before);
    expect(readFileSync(storeLockPath(home), "utf8")).toMatch(/^\d+ 1 \d+:\d+\n$/);
    expect(run.release()).toEqual([]);
    expect(ino(storeHome)).toBe(before);
    expect(readFileSync(join(storeHome, "file"), "utf8")).toBe("stored");
    // node_modules was made for the run and is empty again: gone, as is the lock.
    expect(existsSync(join(root, "node_modules"))).toBe(false);
    expect(existsSync(storeLockPath(home))).toBe(false);
  });

  it("keeps a node_modules the install filled", () => {
    const run = linkStore(home, root, PNPM_STORE, startTime);
    writeFileSync(join(root, "node_modules", ".modules.yaml"), "");
    expect(run.release()).toEqual([]);
    expect(readdirSync(join(root, "node_modules"))).toEqual([".modules.yaml"]);
  });

  it("does not use a node_modules that is a link (the store stays in the home)", () => {
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, "node_modules"));
    const run = linkStore(home, root, PNPM_STORE, startTime);
    expect(run.stores).toEqual([]);
    expect(run.notes.join()).toMatch(/not a directory/);
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(existsSync(join(storeHome, "file"))).toBe(true);
    expect(existsSync(storeLockPath(home))).toBe(false);
  });

  it("takes the store back from the directory it put it in when node_modules became a link", () => {
    const run = linkStore(home, root, PNPM_STORE, startTime);
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(join(elsewhere, PNPM_STORE.name), { recursive: true });
    writeFileSync(join(elsewhere, PNPM_STORE.name, "victim"), "user's");
    renameSync(join(root, "node_modules"), join(root, "moved"));
    symlinkSync(elsewhere, join(root, "node_modules"));
    expect(run.release()).toEqual([]);
    expect(readFileSync(join(storeHome, "file"), "utf8")).toBe("stored");
    expect(readFileSync(join(elsewhere, PNPM_STORE.name, "victim"), "utf8")).toBe("user's");
  });

  it.each([
    ["a link", (path: string, target: string) => symlinkSync(target, path)],
    ["a FIFO", (path: string) => execFileSync("mkfifo", [path])],
    ["a file", (path: string) => writeFileSync(path, "")],
  ])("removes %s planted in the store's place, following nothing", (_name, plant) => {
    const run = linkStore(home, root, PNPM_STORE, startTime);
    const target = join(dir, "secret");
    mkdirSync(target);
    writeFileSync(join(target, "key"), "secret");
    rmSync(inProject, { recursive: true });
    plant(inProject, target);
    expect(run.release().join()).toMatch(/not a directory: removed/);
    expect(lstatSync(inProject, { throwIfNoEntry: false })).toBeUndefined();
    expect(lstatSync(storeHome, { throwIfNoEntry: false })).toBeUndefined();
    expect(readdirSync(target)).toEqual(["key"]);
  });

  it("moves no directory but the store: another one in its place is left where it is", () => {
    const run = linkStore(home, root, PNPM_STORE, startTime);
    renameSync(inProject, join(root, "store-moved-away"));
    mkdirSync(join(root, "src"));
    writeFileSync(join(root, "src", "index.js"), "");
    renameSync(join(root, "src"), inProject);
    expect(run.release().join()).toMatch(/another directory: left as it is/);
    expect(readdirSync(inProject)).toEqual(["index.js"]);
    expect(lstatSync(storeHome, { throwIfNoEntry: false })).toBeUndefined();
    expect(existsSync(storeLockPath(home))).toBe(false);
    // The next run leaves it alone too, and copies.
    preparePrivateHome(home);
    const next = linkStore(home, root, PNPM_STORE, startTime);
    expect(next.stores).toEqual([]);
    expect(next.warnings.join()).toMatch(/not a store safe-npm put there/);
    expect(readdirSync(inProject)).toEqual(["index.js"]);
  });

  it("copies while another live run holds the store", () => {
    const first = linkStore(home, root, PNPM_STORE, startTime);
    preparePrivateHome(home);
    const second = linkStore(home, root, PNPM_STORE, startTime);
    expect(second.stores).toEqual([]);
    expect(second.notes.join()).toMatch(/another safe-npm run/);
    // The second run's fresh, empty store gives way to the first run's.
    expect(first.release()).toEqual([]);
    expect(readFileSync(join(storeHome, "file"), "utf8")).toBe("stored");
  });

  it("reclaims the store a killed run left in node_modules", () => {
    const before = ino(storeHome);
    linkStore(home, root, PNPM_STORE, startTime);
    // Killed: the lock names a process that is gone; the home's store is remade empty.
    const lock = storeLockPath(home);
    writeFileSync(lock, readFileSync(lock, "utf8").replace(/^\d+/, "999999999"));
    preparePrivateHome(home);
    const run = linkStore(home, root, PNPM_STORE, startTime);
    expect(run.notes.join()).toMatch(/reclaimed/);
    expect(ino(inProject)).toBe(before);
    expect(run.release()).toEqual([]);
    expect(readFileSync(join(storeHome, "file"), "utf8")).toBe("stored");
  });

  // rename(2) of a directory to another parent needs write permission on it and on its parent
  // for a user without CAP_DAC_OVERRIDE (the unprivileged CI run); code inside can take both.
  it("moves the store home although code inside took write permission from it and node_modules", () => {
    const before = ino(storeHome);
    const run = linkStore(home, root, PNPM_STORE, startTime);
    chmodSync(inProject, 0o555);
    chmodSync(join(root, "node_modules"), 0o555);
    expect(run.release()).toEqual([]);
    expect(ino(storeHome)).toBe(before);
    expect(lstatSync(storeHome).mode & 0o777).toBe(0o700);
    expect(existsSync(inProject)).toBe(false);
    expect(existsSync(storeLockPath(home))).toBe(false);
    // The next run links it again.
    const next = linkStore(home, root, PNPM_STORE, startTime);
    expect(next.stores).toEqual([PNPM_STORE]);
    expect(next.release()).toEqual([]);
  });

  it("reclaims a killed run's store whose write permission code inside took away", () => {
    const before = ino(storeHome);
    linkStore(home, root, PNPM_STORE, startTime);
    const lock = storeLockPath(home);
    writeFileSync(lock, readFileSync(lock, "utf8").replace(/^\d+/, "999999999"));
    chmodSync(inProject, 0o500);
    chmodSync(join(root, "node_modules"), 0o500);
    preparePrivateHome(home);
    const run = linkStore(home, root, PNPM_STORE, startTime);
    expect(run.notes.join()).toMatch(/reclaimed/);
    expect(run.stores).toEqual([PNPM_STORE]);
    expect(ino(inProject)).toBe(before);
    expect(run.release()).toEqual([]);
    expect(readFileSync(join(storeHome, "file"), "utf8")).toBe("stored");
  });

  it("changes the mode of nothing but the store: a link at its name is removed, its target untouched", () => {
    const run = linkStore(home, root, PNPM_STORE, startTime);
    const outside = join(dir, "outside");
    mkdirSync(outside, { mode: 0o555 });
    renameSync(inProject, join(root, "moved-store"));
    symlinkSync(outside, inProject);
    expect(run.release().join()).toMatch(/not a directory/);
    expect(lstatSync(outside).mode & 0o777).toBe(0o555);
    expect(existsSync(inProject)).toBe(false);
  });

  it("removes a killed run's store when the home has one again", () => {
    linkStore(home, root, PNPM_STORE, startTime);
    const lock = storeLockPath(home);
    writeFileSync(lock, readFileSync(lock, "utf8").replace(/^\d+/, "999999999"));
    preparePrivateHome(home);
    writeFileSync(join(storeHome, "newer"), "");
    const run = linkStore(home, root, PNPM_STORE, startTime);
    expect(run.notes.join()).toMatch(/removed/);
    expect(readdirSync(inProject)).toEqual(["newer"]);
    expect(run.release()).toEqual([]);
  });
});
