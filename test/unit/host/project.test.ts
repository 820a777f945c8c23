import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { detect } from "package-manager-detector";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import { detectPackageManager, findProject, isInside } from "../../../src/host/project.js";

let base: string;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "safe-npm-project-")));
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** Creates files (and their directories) under the temporary base; returns its absolute path. */
function files(spec: Record<string, string | object>): void {
  for (const [rel, content] of Object.entries(spec)) {
    const path = join(base, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  }
}

function dir(rel: string): string {
  const path = join(base, rel);
  mkdirSync(path, { recursive: true });
  return path;
}

/** A home directory that is unrelated to every project under base. */
const elsewhere = "/nonexistent/home/alice";

function findError(cwd: string, home: string): SafeNpmError {
  try {
    findProject(cwd, home);
  } catch (error) {
    expect(error).toBeInstanceOf(SafeNpmError);
    return error as SafeNpmError;
  }
  throw new Error("findProject did not throw");
}

describe("findProject", () => {
  it("a lockfile or package.json made a dangling link keeps its folder the project: the root does not move out", () => {
    files({ "o/package.json": {}, "o/package-lock.json": "{}", "o/in/package.json": {} });
    symlinkSync("/nonexistent", join(base, "o/in/package-lock.json"));
    expect(findProject(dir("o/in"), elsewhere)).toEqual({
      root: join(base, "o/in"),
      reason: "lockfile",
    });
    // A lockfile that is a link to itself, likewise.
    rmSync(join(base, "o/in/package-lock.json"));
    symlinkSync("yarn.lock", join(base, "o/in/yarn.lock"));
    expect(findProject(dir("o/in"), elsewhere).root).toBe(join(base, "o/in"));
    // package.json a dangling link: its folder is still the nearest, and the run stops there.
    rmSync(join(base, "o/in/yarn.lock"));
    writeFileSync(join(base, "o/in/package-lock.json"), "{}");
    rmSync(join(base, "o/in/package.json"));
    symlinkSync("/nonexistent", join(base, "o/in/package.json"));
    const e = findError(dir("o/in"), elsewhere);
    expect(e.code).toBe("NO_PROJECT");
    expect(e.message).toContain(
      `${join(base, "o/in/package.json")} is a link that leads to no regular file`,
    );
  });

  it("takes the nearest package.json", () => {
    files({ "app/package.json": { name: "app" } });
    expect(findProject(dir("app/src/deep"), elsewhere)).toEqual({
      root: join(base, "app"),
      reason: "package.json",
    });
  });

  it("takes the cwd itself when it holds the package.json", () => {
    files({ "app/package.json": {}, "app/package-lock.json": "{}" });
    expect(findProject(join(base, "app"), elsewhere)).toEqual({
      root: join(base, "app"),
      reason: "lockfile",
    });
  });

  it.each([
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
  ])("prefers an ancestor with %s over a nearer package.json without one", (lockfile) => {
    files({
      "mono/package.json": { name: "mono", private: true },
      [`mono/${lockfile}`]: "",
      "mono/packages/web/package.json": { name: "web" },
    });
    expect(findProject(dir("mono/packages/web/src"), elsewhere)).toEqual({
      root: join(base, "mono"),
      reason: "lockfile",
    });
  });

  it("marks a root by its workspaces field", () => {
    files({
      "mono/package.json": { name: "mono", workspaces: ["packages/*"] },
      "mono/packages/web/package.json": { name: "web" },
    });
    expect(findProject(dir("mono/packages/web"), elsewhere)).toEqual({
      root: join(base, "mono"),
      reason: "workspaces",
    });
  });

  it("marks a root by pnpm-workspace.yaml", () => {
    files({
      "mono/package.json": { name: "mono" },
      "mono/pnpm-workspace.yaml": "packages:\n  - packages/*\n",
      "mono/packages/web/package.json": { name: "web" },
    });
    expect(findProject(dir("mono/packages/web"), elsewhere)).toEqual({
      root: join(base, "mono"),
      reason: "workspaces",
    });
  });

  it("ignores a package.json that is not JSON when looking for workspaces", () => {
    files({ "mono/package.json": "{ not json", "mono/packages/web/package.json": {} });
    expect(findProject(dir("mono/packages/web"), elsewhere)).toEqual({
      root: join(base, "mono/packages/web"),
      reason: "package.json",
    });
  });

  it("stops at the nearest anchored root (a lockfile nearer than a workspace root)", () => {
    files({
      "mono/package.json": { workspaces: ["packages/*"] },
      "mono/packages/web/package.json": {},
      "mono/packages/web/package-lock.json": "{}",
    });
    expect(findProject(dir("mono/packages/web/src"), elsewhere).root).toBe(
      join(base, "mono/packages/web"),
    );
  });

  it("ignores a lockfile without a package.json next to it", () => {
    files({ "yarn.lock": "", "app/package.json": {} });
    expect(findProject(dir("app/lib"), elsewhere)).toEqual({
      root: join(base, "app"),
      reason: "package.json",
    });
  });

  it("fails with NO_PROJECT naming the cwd when there is no package.json", () => {
    const cwd = dir("empty/sub");
    files({ "empty/package-lock.json": "{}" });
    const e = findError(cwd, elsewhere);
    expect(e.code).toBe("NO_PROJECT");
    expect(e.message).toContain(cwd);
    expect(e.hint).toContain("package.json");
    expect(e.exitCode).toBe(125);
  });

  it("refuses a project root equal to the home", () => {
    files({ "home/alice/package.json": {}, "home/alice/package-lock.json": "{}" });
    const home = join(base, "home/alice");
    const e = findError(dir("home/alice/notes"), home);
    expect(e.code).toBe("PROJECT_CONTAINS_HOME");
    expect(e.message).toContain(home);
  });

  it("refuses the home itself as cwd when it holds a package.json", () => {
    files({ "home/alice/package.json": {} });
    const home = join(base, "home/alice");
    expect(findError(home, home).code).toBe("PROJECT_CONTAINS_HOME");
  });

  it("refuses a project root that contains the home", () => {
    files({ "package.json": {} });
    const home = dir("home/alice");
    const e = findError(dir("home/alice/scratch"), home);
    expect(e.code).toBe("PROJECT_CONTAINS_HOME");
    expect(e.message).toContain(base);
    expect(e.message).toContain(home);
  });

  it("accepts a project inside the home", () => {
    files({ "home/alice/code/app/package.json": {} });
    const home = join(base, "home/alice");
    expect(findProject(dir("home/alice/code/app"), home).root).toBe(
      join(base, "home/alice/code/app"),
    );
  });

  it("accepts a sibling whose name only starts with the home's name", () => {
    files({ "home/alice-work/package.json": {} });
    const home = dir("home/alice");
    expect(findProject(dir("home/alice-work"), home).root).toBe(join(base, "home/alice-work"));
  });
});

describe("isInside", () => {
  it.each([
    ["/a/b/c", "/a/b", true],
    ["/a/b", "/a/b", false],
    ["/a/bc", "/a/b", false],
    ["/a", "/a/b", false],
    ["/a/b/../c", "/a/b", false],
    ["/x/..y", "/x", true],
  ])("isInside(%s, %s) → %s", (path, parent, inside) => {
    expect(isInside(path, parent)).toBe(inside);
  });
});

describe("detectPackageManager", () => {
  it("reads the packageManager field", async () => {
    files({ "package.json": { packageManager: "yarn@4.5.0" } });
    expect(await detectPackageManager(base)).toEqual({
      name: "yarn",
      agent: "yarn@berry",
      source: "packageManager field",
    });
  });

  it("reads a packageManager field with a hash", async () => {
    files({ "package.json": { packageManager: "pnpm@9.12.0+sha512.abcdef" } });
    expect(await detectPackageManager(base)).toMatchObject({
      name: "pnpm",
      source: "packageManager field",
    });
  });

  it.each([
    ["pnpm-lock.yaml", "pnpm"],
    ["yarn.lock", "yarn"],
    ["package-lock.json", "npm"],
    ["bun.lock", "bun"],
  ] as const)("reads %s", async (lockfile, name) => {
    files({ "package.json": { name: "app" }, [lockfile]: "" });
    const detected = await detectPackageManager(base);
    expect(detected.name).toBe(name);
    expect(detected.source).toBe("lockfile");
    expect(detected.agent.startsWith(name)).toBe(true);
  });

  it("defaults to npm", async () => {
    files({ "package.json": { name: "app" } });
    expect(await detectPackageManager(base)).toEqual({
      name: "npm",
      agent: "npm",
      source: "default",
    });
  });

  it("lets the packageManager field win over a lockfile", async () => {
    files({ "package.json": { packageManager: "pnpm@9.0.0" }, "package-lock.json": "{}" });
    expect(await detectPackageManager(base)).toMatchObject({
      name: "pnpm",
      source: "packageManager field",
    });
  });

  it("does not look above the root", async () => {
    files({ "pnpm-lock.yaml": "", "app/package.json": { name: "app" } });
    expect(await detectPackageManager(join(base, "app"))).toMatchObject({
      name: "npm",
      source: "default",
    });
  });

  it("reads devEngines.packageManager", async () => {
    files({
      "package.json": { devEngines: { packageManager: { name: "pnpm", version: "9.0.0" } } },
    });
    expect((await detectPackageManager(base)).name).toBe("pnpm");
  });
});

describe("detectPackageManager edge cases", () => {
  it("names devEngines.packageManager as the rule when only that field is set", async () => {
    files({
      "package.json": { devEngines: { packageManager: { name: "pnpm", version: "9.0.0" } } },
    });
    expect(await detectPackageManager(base)).toMatchObject({
      name: "pnpm",
      source: "devEngines.packageManager",
    });
  });

  it("falls through to the lockfile when packageManager names an unsupported manager", async () => {
    files({ "package.json": { packageManager: "deno@2.0.0" }, "pnpm-lock.yaml": "" });
    expect(await detectPackageManager(base)).toMatchObject({ name: "pnpm", source: "lockfile" });
  });
});

describe("detectPackageManager agrees with package-manager-detector", () => {
  // The field rules were package-manager-detector's; they are done here without importing it
  // (start-up time). Each case is checked against the library itself.
  it.each([
    [{ packageManager: "yarn@1.22.22" }],
    [{ packageManager: "yarn@4.5.0+sha224.abc" }],
    [{ packageManager: "^yarn@3.0.0" }],
    [{ packageManager: "pnpm@6.35.1" }],
    [{ packageManager: "pnpm@10.0.0" }],
    [{ packageManager: "npm@10.9.0" }],
    [{ packageManager: "bun@1.1.0" }],
    [{ packageManager: "bun" }],
    [{ devEngines: { packageManager: { name: "yarn", version: ">=2" } } }],
    [{ devEngines: { packageManager: { name: "pnpm", version: "^5.0.0" } } }],
    [{ devEngines: { packageManager: { name: "npm" } } }],
    [{ packageManager: "pnpm@9.0.0", devEngines: { packageManager: { name: "yarn" } } }],
  ])("%j", async (pkg) => {
    files({ "package.json": pkg });
    const expected = await detect({
      cwd: base,
      stopDir: base,
      strategies: ["packageManager-field", "devEngines-field"],
    });
    const detected = await detectPackageManager(base);
    expect({ name: detected.name, agent: detected.agent }).toEqual({
      name: expected?.name,
      agent: expected?.agent,
    });
  });
});

describe("findProject with a stray lockfile in the home", () => {
  it("falls back to the project's own package.json", () => {
    files({
      "home/package.json": { name: "oops" },
      "home/package-lock.json": "{}",
      "home/code/app/package.json": { name: "app" },
    });
    const project = findProject(dir("home/code/app/src"), join(base, "home"));
    expect(project).toEqual({ root: join(base, "home/code/app"), reason: "package.json" });
  });

  it("still refuses the home when nothing nearer holds a package.json", () => {
    files({ "home/package.json": { name: "oops" }, "home/package-lock.json": "{}" });
    expect(findError(dir("home/notes"), join(base, "home")).code).toBe("PROJECT_CONTAINS_HOME");
  });
});
