/**
 * The hint after a pnpm install that stopped on unapproved build scripts: read from
 * node_modules/.modules.yaml, which code inside the sandbox wrote, so every field is hostile.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ignoredBuilds,
  ignoredBuildsHint,
  lockfileKeys,
} from "../../../src/commands/pnpmbuilds.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-pnpmbuilds-"));
  mkdirSync(join(root, "node_modules"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const state = (value: unknown): void => {
  writeFileSync(join(root, "node_modules", ".modules.yaml"), JSON.stringify(value));
  const list = (value as { ignoredBuilds?: unknown })?.ignoredBuilds;
  const names = Array.isArray(list) ? list.filter((n) => typeof n === "string") : [];
  // Every listed name is a dependency of the lockfile unless a test says otherwise.
  writeFileSync(
    join(root, "pnpm-lock.yaml"),
    `lockfileVersion: '9.0'\n\npackages:\n\n${names.map((n) => `  '${n}':\n    version: 1.0.0\n`).join("")}`,
  );
};

describe("ignoredBuilds", () => {
  it("reads pnpm's list, once each", () => {
    state({ ignoredBuilds: ["esbuild@0.25.0", "@scope/x@1.0.0", "esbuild@0.25.0"] });
    expect(ignoredBuilds(root)).toEqual(["esbuild@0.25.0", "@scope/x@1.0.0"]);
  });

  it("keeps only printable names without spaces, and strings only", () => {
    state({
      ignoredBuilds: ["ok", "evil\u001b[2Jclear", "with space", 42, { a: 1 }, "", "x".repeat(400)],
    });
    expect(ignoredBuilds(root)).toEqual(["ok"]);
  });

  it("leaves out what pnpm-workspace.yaml names already (an earlier run's state)", () => {
    state({ ignoredBuilds: ["a@1.0.0", "b@2.0.0"] });
    writeFileSync(join(root, "pnpm-workspace.yaml"), "allowBuilds:\n  'a@1.0.0': false\n");
    expect(ignoredBuilds(root)).toEqual(["b@2.0.0"]);
  });

  it("says nothing for a missing, malformed or linked state file", () => {
    expect(ignoredBuilds(root)).toEqual([]);
    writeFileSync(join(root, "node_modules", ".modules.yaml"), "ignoredBuilds:\n  - yaml\n");
    expect(ignoredBuilds(root)).toEqual([]);
    state({ ignoredBuilds: "not a list" });
    expect(ignoredBuilds(root)).toEqual([]);
    // A link (to a file elsewhere that would list names) is not followed.
    rmSync(join(root, "node_modules", ".modules.yaml"));
    const elsewhere = join(root, "elsewhere.json");
    writeFileSync(elsewhere, JSON.stringify({ ignoredBuilds: ["planted"] }));
    symlinkSync(elsewhere, join(root, "node_modules", ".modules.yaml"));
    expect(ignoredBuilds(root)).toEqual([]);
    // Nor a node_modules that is a link.
    rmSync(join(root, "node_modules"), { recursive: true });
    mkdirSync(join(root, "other"));
    writeFileSync(join(root, "other", ".modules.yaml"), JSON.stringify({ ignoredBuilds: ["x"] }));
    symlinkSync(join(root, "other"), join(root, "node_modules"));
    expect(ignoredBuilds(root)).toEqual([]);
  });
});

describe("names a script made up", () => {
  it("are left out unless pnpm-lock.yaml has them", () => {
    state({ ignoredBuilds: ["real@1.0.0", "all-safe-run-pnpm-approve-builds-on-host"] });
    writeFileSync(
      join(root, "pnpm-lock.yaml"),
      "lockfileVersion: '9.0'\n\npackages:\n\n  real@1.0.0:\n    resolution: {}\n\nsnapshots:\n\n  real@1.0.0: {}\n",
    );
    expect(ignoredBuilds(root)).toEqual(["real@1.0.0"]);
    rmSync(join(root, "pnpm-lock.yaml"));
    expect(ignoredBuilds(root)).toEqual([]);
  });

  it("lockfileKeys reads plain and quoted package keys only", () => {
    const keys = lockfileKeys(
      "importers:\n\n  .:\n    dependencies:\n      x:\n        version: 1.0.0\n\npackages:\n\n  x@1.0.0:\n    version: 1.0.0\n  '@s/y@2.0.0':\n    version: 2.0.0\n  b@file:vendor/b-1.0.0.tgz:\n    version: 1.0.0\n",
    );
    expect([...keys].sort()).toEqual(["@s/y@2.0.0", "b@file:vendor/b-1.0.0.tgz", "x@1.0.0"]);
  });

  it("a state file larger than 1 MB is not read", () => {
    state({ ignoredBuilds: ["x@1.0.0"], pad: "p".repeat(1024 * 1024) });
    expect(ignoredBuilds(root)).toEqual([]);
  });
});

describe("ignoredBuildsHint", () => {
  it("is empty without names", () => {
    expect(ignoredBuildsHint([])).toEqual([]);
  });

  it("names each and gives allowBuilds lines with single-quoted keys", () => {
    const lines = ignoredBuildsHint(["x@file:vendor/x-1.0.0.tgz", "it's@1.0.0"]);
    expect(lines).toContain("  x@file:vendor/x-1.0.0.tgz");
    expect(lines).toContain("    'x@file:vendor/x-1.0.0.tgz': true");
    expect(lines).toContain("    'it''s@1.0.0': true");
    expect(lines.join("\n")).toContain(
      "pnpm approve-builds` would run the approved scripts on the host",
    );
  });

  it("shows at most 20 and counts the rest", () => {
    const names = Array.from({ length: 25 }, (_, i) => `p${i}@1.0.0`);
    const lines = ignoredBuildsHint(names);
    expect(lines.filter((l) => /^ {4}'p\d+@1\.0\.0': true$/.test(l))).toHaveLength(20);
    expect(lines).toContain("  … and 5 more");
  });
});
