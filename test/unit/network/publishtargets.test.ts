import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { publishTargets } from "../../../src/network/publishtargets.js";

let root: string;
const pkg = (dir: string, json: Record<string, unknown>): void => {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, "package.json"), JSON.stringify(json));
};
const names = (...command: string[]) => publishTargets(root, root, command).names;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-publish-"));
  pkg(".", {
    name: "app",
    version: "1.2.3",
    workspaces: ["packages/*", "tools/cli", "!packages/skip"],
  });
  pkg("packages/a", { name: "@acme/a", version: "1.0.0" });
  pkg("packages/b", { name: "@acme/b", version: "2.0.0" });
  pkg("packages/skip", { name: "skipped", version: "1.0.0" });
  pkg("tools/cli", { name: "acme-cli", version: "3.0.0" });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("publishTargets: the packages a publish command uploads, known on the host", () => {
  it("the project itself, and its --tag", () => {
    expect(publishTargets(root, root, ["npm", "publish", "--otp", "123456"])).toEqual({
      names: ["app"],
      versions: { app: "1.2.3" },
      tag: "latest",
      access: { app: null },
      registries: { app: null },
      registryFlag: null,
    });
    expect(publishTargets(root, root, ["npm", "publish", "--tag=next"]).tag).toBe("next");
    // Where it goes when the command says so: --registry over publishConfig.registry.
    expect(
      publishTargets(root, root, ["npm", "publish", "--registry", "https://r.example/"]).registries,
    ).toEqual({ app: "https://r.example/" });
    pkg("packages/c", {
      name: "c",
      version: "1.0.0",
      publishConfig: { registry: "https://own.example/npm/" },
    });
    expect(publishTargets(root, root, ["npm", "publish", "packages/c"]).registries).toEqual({
      c: "https://own.example/npm/",
    });
    expect(
      publishTargets(root, root, ["npm", "publish", "packages/c", "--registry=https://r.example/"])
        .registries,
    ).toEqual({ c: "https://r.example/" });
    expect(publishTargets(root, root, ["npm", "publish", "--access", "public"]).access).toEqual({
      app: "public",
    });
    expect(names("yarn", "npm", "publish", "--tag", "beta")).toEqual(["app"]);
  });

  it("records each package's version, and refuses a package.json with none", () => {
    expect(publishTargets(root, root, ["npm", "publish", "-w", "@acme/b"]).versions).toEqual({
      "@acme/b": "2.0.0",
    });
    pkg("packages/a", { name: "@acme/a" });
    expect(() => names("npm", "publish", "packages/a")).toThrow(/names no version to publish/);
  });

  it("yarn 1's --new-version: its own version passes, another is refused up front with the fix", () => {
    expect(names("yarn", "publish", "--new-version", "1.2.3", "--non-interactive")).toEqual([
      "app",
    ]);
    expect(names("yarn", "publish", "--message", "v%s", "--non-interactive")).toEqual(["app"]);
    expect(() => names("yarn", "publish", "--new-version=1.2.4")).toThrow(
      /--new-version 1\.2\.4 would change app's version inside the sandbox \(package\.json holds 1\.2\.3\)/,
    );
    try {
      names("yarn", "publish", "--new-version", "1.2.4");
    } catch (error) {
      expect((error as { hint?: string }).hint).toMatch(/yarn version --new-version 1\.2\.4/);
    }
  });

  it("a folder argument (`.` or a path) names the package in it", () => {
    expect(names("npm", "publish", ".")).toEqual(["app"]);
    expect(names("npm", "publish", "packages/a")).toEqual(["@acme/a"]);
    expect(publishTargets(root, join(root, "packages"), ["npm", "publish", "./b"]).names).toEqual([
      "@acme/b",
    ]);
  });

  it("npm's -w / --workspace / --workspaces name the workspaces' packages", () => {
    expect(names("npm", "publish", "-w", "@acme/a")).toEqual(["@acme/a"]);
    expect(names("npm", "publish", "--workspace=packages/b")).toEqual(["@acme/b"]);
    expect(names("npm", "publish", "--workspaces")).toEqual(["@acme/a", "@acme/b", "acme-cli"]);
    expect(names("npm", "publish", "-ws", "--include-workspace-root")).toEqual([
      "@acme/a",
      "@acme/b",
      "acme-cli",
      "app",
    ]);
  });

  it.each([
    [["npm", "publish", "app-1.0.0.tgz"], /cannot tell which package app-1.0.0.tgz holds/],
    [["npm", "publish", "https://x.example/a.tgz"], /cannot tell which package/],
    [["npm", "publish", "missing"], /cannot tell which package missing holds/],
    [["pnpm", "-r", "publish"], /cannot tell which packages pnpm -r publish/],
    [["pnpm", "publish", "--filter", "a"], /cannot tell which packages/],
    [["npm", "publish", "-w", "nope"], /no workspace nope/],
    [["npm", "publish", "/etc"], /not inside the project/],
  ])("refuses %j", (command, message) => {
    expect(() => publishTargets(root, root, command)).toThrow(message);
  });

  it("refuses a package.json without a name, and one that is a link", () => {
    pkg("packages/c", { version: "1.0.0" });
    expect(() => names("npm", "publish", "packages/c")).toThrow(/names no package/);
    mkdirSync(join(root, "packages/d"));
    symlinkSync(join(root, "packages/a/package.json"), join(root, "packages/d/package.json"));
    expect(() => names("npm", "publish", "packages/d")).toThrow(/symbolic link/);
  });

  it("refuses a folder reached through a link", () => {
    symlinkSync(join(root, "packages/a"), join(root, "linked"));
    expect(() => names("npm", "publish", "linked")).toThrow(/symbolic link/);
  });
});
