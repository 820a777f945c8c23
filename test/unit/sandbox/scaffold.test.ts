import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import { recoverInterrupted } from "../../../src/sandbox/guarded.js";
import { snapshot } from "../../../src/sandbox/integrity.js";
import { plantedNames, recordTopLevel, settleTopLevel } from "../../../src/sandbox/scaffold.js";

describe("what a run planted at the top of a working directory made the project", () => {
  it("names new project files, lockfiles, node_modules and dot-entries in a directory that held something", () => {
    const after = [
      "repo",
      "my-app",
      "package.json",
      "package-lock.json",
      "npm-shrinkwrap.json",
      "yarn.lock",
      "pnpm-lock.yaml",
      "pnpm-workspace.yaml",
      "bun.lock",
      "bun.lockb",
      "node_modules",
      ".envrc",
      ".git",
    ];
    expect(plantedNames(new Set(["repo"]), after)).toEqual(
      [
        ".envrc",
        ".git",
        "bun.lock",
        "bun.lockb",
        "node_modules",
        "npm-shrinkwrap.json",
        "package-lock.json",
        "package.json",
        "pnpm-lock.yaml",
        "pnpm-workspace.yaml",
        "yarn.lock",
      ].sort(),
    );
    // What was there before is the user's; a new directory (the app) is what was asked for.
    expect(plantedNames(new Set(["repo", ".git"]), ["repo", ".git", "my-app"])).toEqual([]);
  });

  it("leaves an empty directory (or one holding only .git) to become the new project", () => {
    expect(plantedNames(new Set(), ["package.json", ".gitignore"])).toEqual([]);
    expect(plantedNames(new Set([".git"]), [".git", "package.json"])).toEqual([]);
    expect(plantedNames(new Set([".gitignore"]), [".gitignore", "package.json"])).toEqual([
      "package.json",
    ]);
  });
});

describe("settling the top level after the run", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("moves aside what was planted and restores links, without following them", () => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-scaffold-"));
    const outside = join(dir, "outside");
    mkdirSync(outside);
    const root = join(dir, "code");
    mkdirSync(join(root, "repo"), { recursive: true });
    symlinkSync("/real", join(root, "mylink"));
    symlinkSync("/gone", join(root, "removed"));
    symlinkSync("/kept", join(root, "kept"));
    const before = recordTopLevel(root);
    // The run: plants, relinks, unlinks, and replaces a link with a directory.
    writeFileSync(join(root, "package.json"), "{}");
    unlinkSync(join(root, "mylink"));
    symlinkSync(outside, join(root, "mylink"));
    unlinkSync(join(root, "removed"));
    symlinkSync(outside, join(root, ".envrc"));
    const lines = settleTopLevel(before);
    expect(existsSync(join(root, "package.json"))).toBe(false);
    expect(existsSync(join(root, "package.json.quarantined-by-safe-npm"))).toBe(true);
    expect(readlinkSync(join(root, ".envrc.quarantined-by-safe-npm"))).toBe(outside);
    expect(readlinkSync(join(root, "mylink"))).toBe("/real");
    expect(readlinkSync(join(root, "mylink.quarantined-by-safe-npm"))).toBe(outside);
    expect(readlinkSync(join(root, "removed"))).toBe("/gone");
    expect(readlinkSync(join(root, "kept"))).toBe("/kept");
    expect(existsSync(join(outside, "package.json"))).toBe(false);
    expect(lines.join("")).toContain(`restored the link ${join(root, "mylink")} -> /real`);
    expect(lines.join("")).toContain(`restored the link ${join(root, "removed")} -> /gone`);
    expect(lines).toHaveLength(4);
  });
});

describe("a scaffolder run killed before its after-run step", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("is settled by the next run there from its journal, which then stops and asks to run again", () => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-scaffold-"));
    const root = join(dir, "code");
    const journal = join(dir, "runs");
    mkdirSync(join(root, "repo"), { recursive: true });
    mkdirSync(journal);
    symlinkSync("/real", join(root, "mylink"));
    const before = recordTopLevel(root);
    // What the killed run planted, which makes the directory a project for the next run.
    writeFileSync(join(root, "package.json"), '{ "workspaces": ["*"] }');
    writeFileSync(join(root, "package-lock.json"), "{}");
    unlinkSync(join(root, "mylink"));
    symlinkSync("/tmp/ATTACKER", join(root, "mylink"));
    // Its journal, as writeJournal leaves it, under a process that is gone.
    const prefix = createHash("sha256").update(root).digest("hex").slice(0, 16);
    writeFileSync(
      join(journal, `${prefix}-999999999-1.json`),
      JSON.stringify({
        root,
        install: false,
        entries: [],
        watch: [],
        topLevel: { names: [...before.names], links: [...before.links] },
      }),
    );
    const lines: string[] = [];
    let error: unknown;
    try {
      recoverInterrupted(
        root,
        journal,
        { skip: [], running: { version: "0", dist: "/nonexistent" } },
        (line) => lines.push(line),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SafeNpmError);
    expect((error as SafeNpmError).code).toBe("INTERRUPTED_RUN");
    expect(existsSync(join(root, "package.json"))).toBe(false);
    expect(existsSync(join(root, "package-lock.json"))).toBe(false);
    expect(readlinkSync(join(root, "mylink"))).toBe("/real");
    expect(lines.join("")).toContain(`moved ${join(root, "package.json")}`);
    // The journal is consumed: the run after that goes ahead.
    expect(() =>
      recoverInterrupted(
        root,
        journal,
        { skip: [], running: { version: "0", dist: "/nonexistent" } },
        () => {},
      ),
    ).not.toThrow();
  });
});

describe("a journal is data: what it may make the next run do", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  const running = { skip: [], running: { version: "0", dist: "/nonexistent" } };

  function layout(): { root: string; journal: string; write: (topLevel: unknown) => string } {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-journal-"));
    const root = join(dir, "p6");
    const journal = join(dir, "runs");
    mkdirSync(join(root, ".git"), { recursive: true });
    writeFileSync(join(root, ".git", "HEAD"), "ref: refs/heads/main\n");
    mkdirSync(join(root, "node_modules", "foo", "lib", "deep", "g"), { recursive: true });
    mkdirSync(journal, { mode: 0o700 });
    const prefix = createHash("sha256").update(root).digest("hex").slice(0, 16);
    // The snapshot the run took (the attack copies it from the run's own journal).
    const before = snapshot(root, [], { skip: [] });
    const entries = [...before.entries];
    const write = (topLevel: unknown): string => {
      const file = join(journal, `${prefix}-999999999-1.json`);
      const data = { root, install: false, entries, watch: before.watch, topLevel };
      writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
      return file;
    };
    return { root, journal, write };
  }

  it("never replaces an existing .git directory with the link a journal names", () => {
    const { root, journal, write } = layout();
    const planted = join(root, "node_modules", "foo", "lib", "deep", "g");
    write({ names: [".git", "node_modules"], links: [[".git", planted]] });
    const lines: string[] = [];
    expect(() => recoverInterrupted(root, journal, running, (l) => lines.push(l))).toThrow(
      SafeNpmError,
    );
    expect(lstatSync(join(root, ".git")).isDirectory()).toBe(true);
    expect(existsSync(join(root, ".git.quarantined-by-safe-npm"))).toBe(false);
    expect(lines.join("")).toContain("left as it is");
    // Control: the same journal restores a link that is gone (what it is for).
    rmSync(join(root, ".git"), { recursive: true });
    write({ names: [".git"], links: [[".git", "/real"]] });
    expect(() => recoverInterrupted(root, journal, running, () => {})).toThrow(SafeNpmError);
    expect(readlinkSync(join(root, ".git"))).toBe("/real");
  });

  it("is judged with the killed run's own skip list, and removes only its empty mount points", () => {
    const { root, journal } = layout();
    const prefix = createHash("sha256").update(root).digest("hex").slice(0, 16);
    // The killed run kept .git and protected/ read-only: its snapshot has neither.
    mkdirSync(join(root, "protected", "sub", ".git"), { recursive: true });
    writeFileSync(join(root, "protected", "sub", ".git", "HEAD"), "ref: refs/heads/main\n");
    const skip = [join(root, ".git"), join(root, "protected"), "/usr"];
    // Root config files are watched as guardProject names them, read-only or not.
    const watch = [".pnpmfile.cjs", ".yarnrc.yml"].map((n) => ({
      kind: "pmconfig" as const,
      path: join(root, n),
      always: true,
    }));
    const before = snapshot(root, watch, { skip });
    // What bwrap left for it: an empty stand-in and a directory, and a stand-in written into.
    mkdirSync(join(root, ".yarn", "releases"), { recursive: true });
    writeFileSync(join(root, ".yarnrc.yml"), "");
    writeFileSync(join(root, ".pnpmfile.cjs"), "module.exports = {}\n");
    const placeholders = [".yarn", ".yarn/releases", ".yarnrc.yml", ".pnpmfile.cjs"].map((p) =>
      join(root, p),
    );
    writeFileSync(
      join(journal, `${prefix}-999999999-1.json`),
      JSON.stringify({
        root,
        install: false,
        entries: [...before.entries],
        watch: before.watch,
        skip,
        configNames: [".pnpmfile.cjs", ".yarnrc.yml"],
        placeholders,
      }),
      { mode: 0o600 },
    );
    const lines: string[] = [];
    recoverInterrupted(root, journal, running, (l) => lines.push(l));
    // Read-only in that run: not taken for new.
    expect(lines.join("")).not.toContain(`moved ${join(root, "protected")}`);
    expect(existsSync(join(root, "protected", "sub", ".git", "HEAD"))).toBe(true);
    expect(lstatSync(join(root, ".git")).isDirectory()).toBe(true);
    // Empty mount points gone; the one written into is judged and moved aside.
    expect(existsSync(join(root, ".yarn"))).toBe(false);
    expect(existsSync(join(root, ".yarnrc.yml"))).toBe(false);
    expect(lines.join("")).toContain(`moved ${join(root, ".pnpmfile.cjs")}`);
    expect(existsSync(join(root, ".pnpmfile.cjs"))).toBe(false);
    // Control: walked without that skip list, the same repository is taken for new.
    const control = snapshot(root, [], { skip: [join(root, ".git")] });
    expect([...control.entries.keys()]).toContain(join(root, "protected", "sub", ".git"));
  });

  it("is checked by a run in a project above or below its own, and left alone by others", () => {
    const { root, journal } = layout();
    const pkg = join(root, "pkg");
    mkdirSync(pkg);
    const before = snapshot(root, [], { skip: [join(root, ".git")] });
    const write = (forRoot: string, pid: number): string => {
      const prefix = createHash("sha256").update(forRoot).digest("hex").slice(0, 16);
      const file = join(journal, `${prefix}-${pid}-1.json`);
      const data = { root: forRoot, install: false, entries: [...before.entries], watch: [] };
      writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
      return file;
    };
    // What the killed run (its project: root) planted in the package.
    mkdirSync(join(pkg, "x", ".git"), { recursive: true });
    writeFileSync(join(pkg, "x", ".git", "HEAD"), "ref: refs/heads/main\n");
    const unrelated = write(`${root}-other`, 999999998);
    const mine = write(root, 999999999);
    const lines: string[] = [];
    recoverInterrupted(pkg, journal, running, (l) => lines.push(l));
    expect(lines.join("")).toContain(`an earlier run in ${root} was killed`);
    expect(lines.join("")).toContain(`moved ${join(pkg, "x", ".git")}`);
    expect(existsSync(mine)).toBe(false);
    // A journal of a project neither above nor below is its own next run's to check.
    expect(existsSync(unrelated)).toBe(true);
    expect(lines.join("")).not.toContain("-other");
  });

  it("refuses a journal whose links leave the top level, and journals others can write", () => {
    const { root, journal, write } = layout();
    const file = write({ names: ["../escape"], links: [["../escape", "/real"]] });
    const lines: string[] = [];
    recoverInterrupted(root, journal, running, (l) => lines.push(l));
    expect(lstatSync(join(root, "..", "escape"), { throwIfNoEntry: false })).toBeUndefined();
    expect(lines.join("")).toContain("outside the project's top level");
    expect(existsSync(file)).toBe(false);
    // A directory others can write: its journals are not obeyed (nor removed).
    rmSync(join(root, ".git"), { recursive: true });
    const kept = write({ names: [".git"], links: [[".git", "/real"]] });
    chmodSync(journal, 0o777);
    const ignored: string[] = [];
    recoverInterrupted(root, journal, running, (l) => ignored.push(l));
    expect(lstatSync(join(root, ".git"), { throwIfNoEntry: false })).toBeUndefined();
    expect(existsSync(kept)).toBe(true);
    expect(ignored.join("")).toContain("only you can write");
  });
});
