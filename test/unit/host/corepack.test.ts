import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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

  it("reads no package.json that is a link or a FIFO (a planted one must not hang or steer it)", () => {
    setup(undefined, ["pnpm/10.1.0"]);
    // A link to a file outside the project naming a version that is not prepared: not followed.
    const outside = join(dir, "elsewhere.json");
    writeFileSync(outside, JSON.stringify({ packageManager: "pnpm@9.9.9" }));
    rmSync(join(project(), "package.json"));
    symlinkSync(outside, join(project(), "package.json"));
    expect(corepackNotPrepared("pnpm", home(), project())).toBeNull();
    // A FIFO nobody writes to: opening it to read would block for ever.
    rmSync(join(project(), "package.json"));
    execFileSync("mkfifo", [join(project(), "package.json")]);
    expect(corepackNotPrepared("pnpm", home(), project())).toBeNull();
    // Control: the same field in a regular file is read.
    rmSync(join(project(), "package.json"));
    writeFileSync(
      join(project(), "package.json"),
      JSON.stringify({ packageManager: "pnpm@9.9.9" }),
    );
    expect(corepackNotPrepared("pnpm", home(), project())?.message).toContain("pnpm@9.9.9");
  });
});
