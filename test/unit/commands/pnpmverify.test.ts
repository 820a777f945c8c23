import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  pnpmMajor,
  verifyDepsNotice,
  verifyDepsSetting,
} from "../../../src/commands/pnpmverify.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-pnpmverify-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("verifyDepsSetting", () => {
  it.each([
    ["verifyDepsBeforeRun: false\n", "false"],
    ["a: 1\nverifyDepsBeforeRun: 'warn' # quiet\n", "warn"],
    ['verifyDepsBeforeRun: "install"\n', "install"],
    // Duplicate keys, a key pnpm does not see at the top level, more than one document: unclear.
    ["verifyDepsBeforeRun: error\nverifyDepsBeforeRun: install\n", "unclear"],
    ["catalog: {\nverifyDepsBeforeRun: false\n}\n", "unclear"],
    ["catalog: [\nverifyDepsBeforeRun: false\n]\n", "unclear"],
    ["verifyDepsBeforeRun: false\n---\nx: 1\n", "unclear"],
    ['"verifyDepsBeforeRun": false\n', "unclear"],
    // An escape spells the name without its letters: parsed all the same.
    ['"verifyDeps\\x42eforeRun": false\n', "unclear"],
    ["<<: {verifyDepsBeforeRun: false}\n", "unclear"],
    ["verifyDepsBeforeRun: 0\n", "unclear"],
    ["packages:\n  verifyDepsBeforeRun: false\n", null],
    ["", null],
  ])("%j → %s", async (yaml, value) => {
    expect(await verifyDepsSetting(yaml)).toBe(value);
  });
});

describe("verifyDepsNotice", () => {
  const home = (): string => join(dir, "home");
  const root = (): string => join(dir, "project");
  beforeEach(() => mkdirSync(root(), { recursive: true }));

  it("speaks for pnpm 11 and later (and an unknown version) while the setting installs", async () => {
    expect(await verifyDepsNotice(root(), {}, home(), 12)).toContain("verifyDepsBeforeRun");
    expect(await verifyDepsNotice(root(), {}, home(), null)).toContain("verifyDepsBeforeRun");
    expect(await verifyDepsNotice(root(), {}, home(), 10)).toBeNull();
  });

  it("speaks for pnpm 10 where the project or the user sets it to install", async () => {
    writeFileSync(join(root(), "pnpm-workspace.yaml"), "verifyDepsBeforeRun: install\n");
    expect(await verifyDepsNotice(root(), {}, home(), 10)).toContain("verifyDepsBeforeRun");
    rmSync(join(root(), "pnpm-workspace.yaml"));
    writeFileSync(join(root(), ".npmrc"), "verify-deps-before-run=install\n");
    expect(await verifyDepsNotice(root(), {}, home(), 10)).toContain("verifyDepsBeforeRun");
    rmSync(join(root(), ".npmrc"));
    expect(
      await verifyDepsNotice(root(), {}, home(), 10, "verify-deps-before-run=install\n"),
    ).not.toBeNull();
    // pnpm 12 does not read .npmrc settings: an off there does not quiet it.
    writeFileSync(join(root(), ".npmrc"), "verify-deps-before-run=false\n");
    expect(await verifyDepsNotice(root(), {}, home(), 12)).not.toBeNull();
  });

  it("takes a value hidden in a flow collection for what pnpm reads: the default", async () => {
    writeFileSync(
      join(root(), "pnpm-workspace.yaml"),
      "catalog: {\nverifyDepsBeforeRun: false\n}\n",
    );
    expect(await verifyDepsNotice(root(), {}, home(), 12)).not.toBeNull();
  });

  it("is quiet once the project, the user's config or the variable turns it off", async () => {
    writeFileSync(join(root(), "pnpm-workspace.yaml"), "verifyDepsBeforeRun: false\n");
    expect(await verifyDepsNotice(root(), {}, home(), 12)).toBeNull();
    rmSync(join(root(), "pnpm-workspace.yaml"));
    const config = join(home(), ".config", "pnpm");
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, "config.yaml"), "verifyDepsBeforeRun: prompt\n");
    expect(await verifyDepsNotice(root(), {}, home(), 12)).toBeNull();
    // The variable wins over the files.
    const env = { pnpm_config_verify_deps_before_run: "install" };
    expect(await verifyDepsNotice(root(), env, home(), 12)).not.toBeNull();
  });

  it("reads the project's file never through a link", async () => {
    const elsewhere = join(dir, "elsewhere.yaml");
    writeFileSync(elsewhere, "verifyDepsBeforeRun: false\n");
    symlinkSync(elsewhere, join(root(), "pnpm-workspace.yaml"));
    expect(await verifyDepsNotice(root(), {}, home(), 12)).not.toBeNull();
  });
});

describe("pnpmMajor", () => {
  it("reads the version of pnpm's package, and nothing else's", async () => {
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "pnpm", version: "12.21.0" }));
    expect(pnpmMajor(dir)).toBe(12);
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "@pnpm/exe", version: "10.3.1" }),
    );
    expect(pnpmMajor(dir)).toBe(10);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "other", version: "9.0.0" }));
    expect(pnpmMajor(dir)).toBeNull();
    expect(pnpmMajor(join(dir, "missing"))).toBeNull();
  });
});
