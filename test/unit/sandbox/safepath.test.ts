import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import { HOST_RUN_DIRS, HOST_RUN_FILES, projectGuards } from "../../../src/sandbox/hostfiles.js";
import {
  cleanupPlaceholders,
  findPlaceholders,
  makePinDirs,
} from "../../../src/sandbox/placeholders.js";
import { ownerWritable, projectPathKind, readRegularFile } from "../../../src/sandbox/safepath.js";

let dir: string;
let root: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-paths-"));
  root = join(dir, "project");
  outside = join(dir, "home", ".ssh");
  mkdirSync(root, { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, "id_rsa"), "KEY");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): SafeNpmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SafeNpmError);
    return error as SafeNpmError;
  }
  throw new Error("did not throw");
}

describe("projectPathKind", () => {
  it("says what a path is without following anything", () => {
    mkdirSync(join(root, "a", "b"), { recursive: true });
    writeFileSync(join(root, "a", "f"), "");
    execFileSync("mkfifo", [join(root, "fifo")]);
    expect(projectPathKind(root, join(root, "a"), "x")).toBe("directory");
    expect(projectPathKind(root, join(root, "a", "f"), "x")).toBe("file");
    expect(projectPathKind(root, join(root, "fifo"), "x")).toBe("other");
    expect(projectPathKind(root, join(root, "a", "missing", "deeper"), "x")).toBe("missing");
  });

  it("refuses a link as the path itself, naming the path", () => {
    symlinkSync(outside, join(root, "keys"));
    const e = errorOf(() => projectPathKind(root, join(root, "keys"), 'protect entry "keys":'));
    expect(e.code).toBe("UNSAFE_PATH");
    expect(e.exitCode).toBe(125);
    expect(e.message).toContain(`protect entry "keys": ${join(root, "keys")}`);
    expect(e.message).toContain("symbolic link");
    expect(e.hint).toContain("replace it with a regular file or directory");
  });

  it("refuses a link anywhere between the root and the path (bwrap would follow a parent too)", () => {
    mkdirSync(join(root, "a"));
    symlinkSync(join(dir, "home"), join(root, "a", "h"));
    const e = errorOf(() => projectPathKind(root, join(root, "a", "h", ".ssh", "id_rsa"), "x"));
    expect(e.message).toContain(`its parent ${join(root, "a", "h")} is a symbolic link`);
    // A dangling link is a link too.
    symlinkSync(join(dir, "nowhere"), join(root, "dangling"));
    expect(errorOf(() => projectPathKind(root, join(root, "dangling"), "x")).code).toBe(
      "UNSAFE_PATH",
    );
  });

  it("refuses a path that leaves the project, and a parent that is a file", () => {
    expect(errorOf(() => projectPathKind(root, outside, "x")).message).toContain(
      "is not inside the project",
    );
    expect(errorOf(() => projectPathKind(root, root, "x")).message).toContain("not inside");
    writeFileSync(join(root, "file"), "");
    expect(errorOf(() => projectPathKind(root, join(root, "file", "x"), "x")).message).toContain(
      "is not a directory",
    );
  });
});

describe("readRegularFile", () => {
  it("reads a regular file, through a link only when allowed", () => {
    writeFileSync(join(root, "f"), "text");
    symlinkSync(join(outside, "id_rsa"), join(root, "l"));
    expect(readRegularFile(join(root, "f"), true)).toBe("text");
    expect(readRegularFile(join(root, "l"), false)).toBe("KEY");
    const e = errorOf(() => readRegularFile(join(root, "l"), true));
    expect(e.message).toBe(`${join(root, "l")} is a symbolic link; safe-npm does not follow it`);
    expect(e.message).not.toContain("KEY");
  });

  it("refuses a FIFO at once instead of blocking, and a directory", () => {
    execFileSync("mkfifo", [join(root, "fifo")]);
    // No writer ever opens this FIFO: a blocking open would never return.
    expect(errorOf(() => readRegularFile(join(root, "fifo"), false)).message).toContain(
      "is not a regular file",
    );
    expect(errorOf(() => readRegularFile(root, true)).message).toContain("is not a regular file");
  });

  it("passes ENOENT on as it is", () => {
    expect(() => readRegularFile(join(root, "missing"), true)).toThrow(/ENOENT/);
  });

  it("stops reading at its bound: a /proc file is 'regular', of size 0, and may never end", () => {
    // Followed (a link the caller accepts, an absolute cafile): read until the bound, not for ever.
    symlinkSync("/proc/self/pagemap", join(root, "pagemap"));
    expect(errorOf(() => readRegularFile(join(root, "pagemap"), false, 1 << 20)).message).toBe(
      `${join(root, "pagemap")} is larger than ${1 << 20} bytes`,
    );
    // Without a bound of its own, the default one.
    expect(errorOf(() => readRegularFile("/proc/self/pagemap", false)).message).toContain(
      "is larger than",
    );
    // A small /proc file is read whole (its size says 0).
    expect(readRegularFile("/proc/self/stat", false, 1 << 20)).toMatch(/^\d+ /);
  });
});

describe("projectGuards", () => {
  it("protects what exists, seals what is missing: files as files, yarn's directories as directories", () => {
    writeFileSync(join(root, ".npmrc"), "registry=http://127.0.0.1:9/\n");
    mkdirSync(join(root, ".git"));
    mkdirSync(join(root, ".yarn", "releases"), { recursive: true });
    const g = projectGuards(root, [".git", "missing-entry"], "the default");
    expect(g.protect).toEqual([
      join(root, ".git"),
      join(root, ".npmrc"),
      join(root, ".yarn", "releases"),
    ]);
    expect(g.seal).toEqual(
      HOST_RUN_FILES.filter(
        (f) => f !== ".npmrc" && f !== "pnpm-workspace.yaml" && f !== "yarn.config.cjs",
      ).map((f) => join(root, f)),
    );
    // An empty stand-in would make the project look like a pnpm workspace, or give yarn a
    // constraints file without constraints: watched instead.
    expect(g.watch).toEqual([
      { kind: "pmconfig", path: join(root, "pnpm-workspace.yaml") },
      { kind: "pmconfig", path: join(root, "yarn.config.cjs") },
    ]);
    expect(g.sealDirs).toEqual([join(root, ".yarn", "plugins")]);
    expect(HOST_RUN_DIRS).toContain(".yarn/plugins");
  });

  it("names each file a package manager on the host runs or obeys", () => {
    expect([...HOST_RUN_FILES].sort()).toEqual(
      [
        ".npmrc",
        ".pnpmfile.cjs",
        ".pnpmfile.mjs",
        ".env.yarn",
        ".yarnrc",
        ".yarnrc.yml",
        "bunfig.toml",
        ".corepack.env",
        "pnpm-workspace.yaml",
        "yarn.config.cjs",
      ].sort(),
    );
  });

  it("refuses a protect entry that is a link, or lies under one, naming the entry and its source", () => {
    symlinkSync(outside, join(root, "keys"));
    const e = errorOf(() => projectGuards(root, [".git", "keys"], "from /p/.sandboxrc.json"));
    expect(e.message).toContain('protect entry "keys" (from /p/.sandboxrc.json):');
    mkdirSync(join(root, "sub"));
    symlinkSync(join(dir, "home"), join(root, "sub", "h"));
    expect(() => projectGuards(root, ["sub/h/.ssh"], "x")).toThrow(/its parent .* symbolic link/);
  });

  it.each([
    [".npmrc", "link"],
    ["bunfig.toml", "link"],
    [".yarn", "link"],
    [".yarn/releases", "link"],
    [".npmrc", "fifo"],
    ["pnpm-workspace.yaml", "directory"],
  ])("refuses %s as a %s", (name, what) => {
    const path = join(root, name);
    mkdirSync(join(path, ".."), { recursive: true });
    if (what === "link") symlinkSync(join(outside, "id_rsa"), path);
    else if (what === "fifo") execFileSync("mkfifo", [path]);
    else mkdirSync(path);
    const e = errorOf(() => projectGuards(root, [], "the default"));
    expect(e.code).toBe("UNSAFE_PATH");
    expect(e.message).toContain(name === ".yarn" ? join(root, ".yarn") : path);
  });
});

describe("placeholders", () => {
  it("notes every missing path and removes only what is still empty, children first", () => {
    mkdirSync(join(root, "keep"));
    const mounts = [
      { kind: "data" as const, dest: join(root, ".yarnrc.yml"), data: "", label: "" },
      { kind: "empty-dir" as const, dest: join(root, ".yarn", "releases") },
      { kind: "empty-dir" as const, dest: join(root, ".yarn", "plugins") },
      { kind: "ro-bind" as const, src: "/x", dest: join(root, "keep") },
    ];
    const found = findPlaceholders(mounts, root);
    expect(found).toEqual([
      join(root, ".yarnrc.yml"),
      join(root, ".yarn"),
      join(root, ".yarn", "releases"),
      join(root, ".yarn", "plugins"),
    ]);
    // What bwrap creates, and what the command wrote beside it (yarn 4's cache).
    writeFileSync(join(root, ".yarnrc.yml"), "");
    mkdirSync(join(root, ".yarn", "releases"), { recursive: true });
    mkdirSync(join(root, ".yarn", "plugins"));
    mkdirSync(join(root, ".yarn", "cache"));
    cleanupPlaceholders(found, root);
    expect(existsSync(join(root, ".yarnrc.yml"))).toBe(false);
    expect(existsSync(join(root, ".yarn", "releases"))).toBe(false);
    expect(existsSync(join(root, ".yarn", "plugins"))).toBe(false);
    expect(existsSync(join(root, ".yarn", "cache"))).toBe(true);
  });

  it("keeps a placeholder the command filled, and never removes through a link", () => {
    const found = [join(root, ".yarn"), join(root, ".yarn", "plugins"), join(root, "bunfig.toml")];
    writeFileSync(join(root, "bunfig.toml"), "preload = []\n");
    // Inside, .yarn was replaced by a link to a directory outside holding an empty "plugins".
    mkdirSync(join(dir, "victim", "plugins"), { recursive: true });
    symlinkSync(join(dir, "victim"), join(root, ".yarn"));
    cleanupPlaceholders(found, root);
    expect(existsSync(join(root, "bunfig.toml"))).toBe(true);
    expect(existsSync(join(dir, "victim", "plugins"))).toBe(true);
  });
});

describe("pinned directories", () => {
  it("creates the missing ones before the run (bwrap binds only what exists), removed after while empty", () => {
    mkdirSync(join(root, "tools"));
    const mounts = [
      { kind: "pin" as const, dest: join(root, "tools") },
      { kind: "pin" as const, dest: join(root, "tools", "ci") },
      { kind: "pin" as const, dest: join(root, ".yarn") },
      { kind: "empty-dir" as const, dest: join(root, ".yarn", "releases") },
      { kind: "ro-bind" as const, src: "/x", dest: join(root, "tools", "ci", "hooks") },
    ];
    const found = findPlaceholders(mounts, root);
    makePinDirs(mounts, root);
    expect(existsSync(join(root, "tools", "ci"))).toBe(true);
    expect(existsSync(join(root, ".yarn"))).toBe(true);
    // Only the pins: bwrap makes the other mount points itself.
    expect(existsSync(join(root, ".yarn", "releases"))).toBe(false);
    expect(existsSync(join(root, "tools", "ci", "hooks"))).toBe(false);
    cleanupPlaceholders(found, root);
    expect(existsSync(join(root, "tools", "ci"))).toBe(false);
    expect(existsSync(join(root, ".yarn"))).toBe(false);
    expect(existsSync(join(root, "tools"))).toBe(true);
  });

  it("refuses one that is a link, or lies under one (bwrap would bind the target)", () => {
    symlinkSync(outside, join(root, "ci"));
    const mounts = [{ kind: "pin" as const, dest: join(root, "ci", "conf") }];
    expect(errorOf(() => makePinDirs([{ kind: "pin", dest: join(root, "ci") }], root)).code).toBe(
      "UNSAFE_PATH",
    );
    const e = errorOf(() => makePinDirs(mounts, root));
    expect(e.code).toBe("UNSAFE_PATH");
    expect(e.message).toContain(join(root, "ci"));
    expect(existsSync(join(outside, "conf"))).toBe(false);
  });
});

describe("ownerWritable", () => {
  it("gives the owner write permission back on a real folder of theirs, never through a link", () => {
    const locked = join(root, "locked");
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    expect(ownerWritable(locked)).toBe(true);
    expect(statSync(locked).mode & 0o777).toBe(0o755);
    // Already writable: nothing to do.
    expect(ownerWritable(locked)).toBe(false);
    // A link to a read-only folder elsewhere: left as it is.
    chmodSync(outside, 0o555);
    symlinkSync(outside, join(root, "link"));
    expect(ownerWritable(join(root, "link"))).toBe(false);
    expect(statSync(outside).mode & 0o777).toBe(0o555);
    chmodSync(outside, 0o755);
    expect(ownerWritable(join(root, "missing"))).toBe(false);
  });
});
