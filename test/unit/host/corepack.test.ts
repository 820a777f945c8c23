import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { corepackNotPrepared, parsePackageManagerField } from "../../../src/host/corepack.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-corepack-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const project = (): string => join(dir, "project");
const home = (): string => join(dir, "corepack");
function setup(packageManager: string | undefined, prepared: string[]): void {
  mkdirSync(project(), { recursive: true });
  writeFileSync(join(project(), "package.json"), JSON.stringify({ name: "p", packageManager }));
  for (const rel of prepared) {
    mkdirSync(join(home(), "v1", rel), { recursive: true });
    writeFileSync(join(home(), "v1", rel, ".corepack"), "{}");
  }
}

describe("parsePackageManagerField", () => {
  it.each([
    ["pnpm@10.1.0", { name: "pnpm", version: "10.1.0" }],
    ["yarn@4.5.0+sha512.abcdef", { name: "yarn", version: "4.5.0" }],
    ["pnpm", null],
  ])("%s", (field, parsed) => {
    expect(parsePackageManagerField(field)).toEqual(parsed);
  });
});

describe("corepackNotPrepared", () => {
  it("is satisfied by the exact version in the cache", () => {
    setup("pnpm@10.1.0+sha512.x", ["pnpm/10.1.0"]);
    expect(corepackNotPrepared("pnpm", home(), project())).toBeNull();
  });

  it("names the manager, the version and the fix when it is missing", () => {
    setup("pnpm@10.1.0", ["pnpm/9.0.0"]);
    const e = corepackNotPrepared("pnpm", home(), project());
    expect(e?.code).toBe("COREPACK_NOT_PREPARED");
    expect(e?.message).toContain("pnpm@10.1.0 is not in corepack's cache");
    expect(e?.hint).toContain(`run \`corepack install\` in ${project()}`);
  });

  it("without a packageManager field, any prepared version will do", () => {
    setup(undefined, ["pnpm/9.0.0"]);
    expect(corepackNotPrepared("pnpm", home(), project())).toBeNull();
    expect(corepackNotPrepared("yarn", home(), project())?.message).toContain("yarn is not in");
  });

  it("leaves a field naming another manager to corepack", () => {
    setup("yarn@4.0.0", []);
    expect(corepackNotPrepared("pnpm", home(), project())).toBeNull();
  });
});
