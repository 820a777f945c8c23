import { createHash } from "node:crypto";
import {
  existsSync,
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
