import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findChangedGitEntries, quarantine } from "../../src/gitcheck.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-gitcheck-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function file(rel: string, text = ""): void {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), text);
}
/** A point in time after everything made so far (file times have a coarse clock). */
async function now(): Promise<number> {
  await new Promise((r) => setTimeout(r, 30));
  const t = Date.now();
  await new Promise((r) => setTimeout(r, 30));
  return t;
}

describe("findChangedGitEntries", () => {
  it("finds a .git directory or file made after the start, anywhere but node_modules", async () => {
    file(".git/config");
    file("old/.git/config");
    const since = await now();
    file("sub/.git/config", "[core]\n\tfsmonitor = evil\n");
    file("deep/er/.git", "gitdir: ../../evil\n");
    file("node_modules/x/.git/config");
    expect(findChangedGitEntries(root, since, [join(root, ".git")])).toEqual([
      join(root, "deep/er/.git"),
      join(root, "sub/.git"),
    ]);
  });

  it("finds an existing repository whose config or hooks changed, not one that git merely used", async () => {
    file("vendor/a/.git/config");
    file("vendor/a/.git/hooks/pre-commit.sample");
    file("vendor/b/.git/config");
    file("vendor/c/.git/config");
    const since = await now();
    file("vendor/a/.git/hooks/post-checkout", "#!/bin/sh\nevil\n");
    file("vendor/b/.git/config", "[core]\n\thooksPath = /tmp/evil\n");
    file("vendor/c/.git/index.lock");
    expect(findChangedGitEntries(root, since, [])).toEqual([
      join(root, "vendor/a/.git"),
      join(root, "vendor/b/.git"),
    ]);
  });

  it("skips the paths it is told to (the read-only project .git)", async () => {
    const since = await now();
    file(".git/config");
    expect(findChangedGitEntries(root, since, [join(root, ".git")])).toEqual([]);
  });
});

describe("quarantine", () => {
  it("renames without overwriting an earlier quarantine", () => {
    file("sub/.git/config");
    file("sub/.git.quarantined-by-safe-npm/config");
    const moved = quarantine(join(root, "sub/.git"));
    expect(moved).toBe(join(root, "sub/.git.quarantined-by-safe-npm-1"));
    expect(existsSync(join(moved, "config"))).toBe(true);
    expect(existsSync(join(root, "sub/.git"))).toBe(false);
  });
});
