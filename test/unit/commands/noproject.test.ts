import { describe, expect, it } from "vitest";
import { commandClass } from "../../../src/commands/classes.js";
import { handling } from "../../../src/commands/noproject.js";

describe("commands without a project (the README's table)", () => {
  it.each([
    ["npm", ["--version"], "host"],
    ["npm", [], "host"],
    ["npm", ["help", "install"], "host"],
    ["npm", ["view", "react", "version"], "host"],
    ["npm", ["config", "get", "registry"], "host"],
    ["npm", ["config", "list"], "host"],
    ["npm", ["get", "registry"], "host"],
    ["yarn", [], "sandbox"],
    ["pnpm", [], "host"],
    ["npm", ["login"], "host"],
    ["yarn", ["--version"], "host"],
    ["pnpm", ["-v"], "host"],
    ["bun", ["--version"], "host"],
    ["npx", ["create-vite", "my-app"], "here"],
    ["npm", ["init"], "here"],
    ["npm", ["init", "vite", "my-app"], "here"],
    ["npm", ["create", "vite"], "here"],
    ["npm", ["exec", "--", "cowsay", "hi"], "here"],
    ["pnpm", ["dlx", "create-vite"], "here"],
    ["pnpx", ["create-vite"], "here"],
    ["yarn", ["create", "vite"], "here"],
    ["bunx", ["create-vite"], "here"],
    ["bun", ["create", "vite"], "here"],
    ["npm", ["install"], "sandbox"],
    ["npm", ["run", "build"], "sandbox"],
    ["npm", ["ls", "-g"], "host"],
    // A flag that points the host run at another config or folder: never on the host.
    ["npm", ["view", "leftpad", "--prefix", "/tmp/pe"], "sandbox"],
    ["npm", ["view", "leftpad", "--prefix=/tmp/pe"], "sandbox"],
    ["npm", ["help", "--userconfig", "/tmp/pe/.npmrc"], "sandbox"],
    ["npm", ["config", "get", "registry", "--globalconfig=/tmp/pe/npmrc"], "sandbox"],
    ["npm", ["config", "set", "x", "y", "--userconfig", "/tmp/pe/.npmrc"], "sandbox"],
    ["npm", ["whoami", "-C", "/tmp/pe"], "sandbox"],
    ["pnpm", ["view", "leftpad", "-C", "/tmp/pe"], "sandbox"],
    ["pnpm", ["view", "leftpad", "--dir=/tmp/pe"], "sandbox"],
    ["yarn", ["info", "leftpad", "--cwd", "/tmp/pe"], "sandbox"],
    ["yarn", ["--cwd=/tmp/pe", "--version"], "sandbox"],
    // npm's option parser takes any unambiguous prefix of a key: only listed flags stay on the host.
    ["npm", ["view", "create-evil", "name", "--userc=/tmp/a4/p7/.npmrc"], "sandbox"],
    ["npm", ["view", "create-evil", "name", "--userc", "/tmp/a4/p7/.npmrc"], "sandbox"],
    ["npm", ["view", "create-evil", "name", "--globalc=/tmp/a4/p7/npmrc"], "sandbox"],
    ["npm", ["view", "x", "--pref=/tmp/pe"], "sandbox"],
    ["npm", ["help", "install", "--viewer=browser", "--browser=/tmp/pe/x"], "sandbox"],
    ["npm", ["whoami", "--cafile=/tmp/pe/ca"], "sandbox"],
    ["npm", ["config", "get", "registry", "--userconfi=/tmp/pe/.npmrc"], "sandbox"],
    ["npm", ["config", "set", "x", "y", "--glob=/tmp/pe"], "sandbox"],
    ["npm", ["--js", "view", "x"], "sandbox"],
    ["npm", ["view", "x", "--"], "sandbox"],
    ["pnpm", ["view", "x", "--config.registry=http://127.0.0.1:1/"], "sandbox"],
    ["yarn", ["info", "x", "--use-yarnrc", "/tmp/pe/.yarnrc"], "sandbox"],
    ["bun", ["--version", "--config=/tmp/pe/bunfig.toml"], "sandbox"],
    // The listed flags, as typed: on the host.
    ["npm", ["view", "react", "version", "--json"], "host"],
    ["npm", ["view", "react", "--registry", "https://r.example/"], "host"],
    ["npm", ["view", "react", "--registry=https://r.example/", "--parseable", "--long"], "host"],
    ["npm", ["ls", "-g", "--depth=0"], "host"],
    ["npm", ["search", "react", "--searchlimit=5", "-p"], "host"],
    ["npm", ["config", "list", "-l", "--json"], "host"],
    ["npm", ["login", "--scope=@me", "--auth-type=web"], "host"],
    ["npm", ["dist-tag", "add", "p@1.0.0", "beta", "--otp", "123456"], "host"],
    ["pnpm", ["view", "react", "--json"], "host"],
    ["pnpm", ["--version"], "host"],
    ["yarn", ["info", "react", "--json"], "host"],
    ["bun", ["--help"], "host"],
  ] as const)("%s %j → %s", (tool, args, kind) => {
    expect(handling(tool, args, false).kind).toBe(kind);
  });

  it("refuses global installs with or without a project; publish runs sandboxed", () => {
    for (const hasProject of [false, true]) {
      for (const [tool, args] of [
        ["npm", ["install", "-g", "x"]],
        ["npm", ["i", "--global", "x"]],
        ["npm", ["--location=global", "install", "x"]],
        ["pnpm", ["add", "-g", "x"]],
        ["yarn", ["global", "add", "x"]],
        ["bun", ["add", "-g", "x"]],
      ] as const) {
        expect(handling(tool, args, hasProject)).toMatchObject({
          kind: "refuse",
          code: "GLOBAL_INSTALL",
        });
      }
      // publish is an ordinary sandboxed run: the credential is added on the host, to the upload.
      for (const [tool, args] of [
        ["npm", ["publish"]],
        ["pnpm", ["publish", "--access", "public"]],
        ["yarn", ["npm", "publish"]],
        ["bun", ["publish"]],
      ] as const) {
        expect(handling(tool, args, hasProject)).toEqual({ kind: "sandbox" });
      }
      expect(handling(null, ["publish"], hasProject)).toEqual({ kind: "sandbox" });
    }
  });

  it("writes the user's config on the host, with or without a project (inside it would be lost)", () => {
    for (const hasProject of [false, true]) {
      expect(handling("npm", ["config", "set", "fund", "false"], hasProject).kind).toBe("host");
      expect(handling("npm", ["set", "fund", "false"], hasProject).kind).toBe("host");
      expect(handling("npm", ["config", "delete", "fund"], hasProject).kind).toBe("host");
      expect(handling("pnpm", ["config", "set", "x", "y"], hasProject).kind).toBe("host");
    }
    // The project's config is read-only inside, and its reads belong to the project.
    expect(handling("npm", ["config", "set", "x", "y", "--location=project"], true).kind).toBe(
      "sandbox",
    );
    expect(handling("npm", ["config", "get", "registry"], true).kind).toBe("sandbox");
    expect(handling("yarn", ["config", "set", "x", "y"], true).kind).toBe("sandbox");
  });

  it("reads -g only before `--`: after it, the words are the command's", () => {
    expect(handling("npm", ["exec", "--", "tool", "-g"], true).kind).toBe("sandbox");
    expect(handling("npm", ["exec", "-g", "--", "tool"], true).kind).toBe("refuse");
  });

  it("runs the account commands on the host in a project too (the token never enters)", () => {
    expect(handling("npm", ["whoami"], true).kind).toBe("host");
    expect(handling("npm", ["login", "--registry", "https://r.example"], true).kind).toBe("host");
    // npx's words are a package's: `npx whoami` runs a package, in the sandbox.
    expect(handling("npx", ["whoami"], true).kind).toBe("sandbox");
  });

  it("leaves everything else in a project to the sandbox", () => {
    expect(handling("npm", ["--version"], true).kind).toBe("sandbox");
    expect(handling("npm", ["view", "x"], true).kind).toBe("sandbox");
    expect(handling("npx", ["create-vite"], true).kind).toBe("sandbox");
  });
});

describe("a flag's value is never taken for the command word", () => {
  // Each row: a host or scaffolder word that a flag before it may take as its value. With no
  // project the command goes to the sandbox (which then asks for a project), never to the host.
  it.each([
    ["npm", ["--loglevel", "info", "exec", "--yes", "--package=/p/probe.tgz", "probe"]],
    ["npm", ["--loglevel", "info", "install", "foo"]],
    ["npm", ["--registry", "view", "install", "foo"]],
    ["npm", ["--userconfig", "help", "run", "x"]],
    ["npm", ["-w", "whoami", "install"]],
    ["npm", ["--", "view"]],
    ["npm", ["-gf", "ls", "install"]],
    ["pnpm", ["--loglevel", "info", "dlx", "file:/p/probe.tgz"]],
    ["pnpm", ["-C", "root", "add", "foo"]],
    ["pnpm", ["--filter", "view", "install"]],
    ["yarn", ["--cwd", "info", "add", "foo"]],
    ["yarn", ["--loglevel", "help", "install"]],
    ["bun", ["--cwd", "help", "install"]],
    ["bun", ["--config", "help", "x", "probe"]],
  ] as const)("%s %j → sandbox", (tool, args) => {
    expect(handling(tool, args, false).kind).toBe("sandbox");
    expect(handling(tool, args, true).kind).toBe("sandbox");
  });

  it.each([
    // Controls: the same words where nothing before them can take them as a value.
    ["npm", ["info", "react"], "host"],
    ["npm", ["--loglevel=info", "view", "react"], "host"],
    ["npm", ["--json", "view", "react"], "host"],
    ["npm", ["-s", "--offline", "help", "install"], "host"],
    ["npm", ["--yes", "exec", "probe"], "here"],
    ["npm", ["--loglevel=info", "exec", "probe"], "here"],
    ["npm", ["--loglevel", "info"], "sandbox"],
    ["npm", ["--json"], "sandbox"],
    ["npm", ["--registry=https://r.example", "config", "get", "registry"], "host"],
    ["npm", ["config", "--json", "list"], "host"],
    ["npm", ["config", "--location", "user", "set", "x"], "sandbox"],
    ["pnpm", ["--silent", "view", "react"], "host"],
    ["pnpm", ["-r", "dlx", "x"], "here"],
    ["pnpm", ["--dir=/x", "info", "react"], "sandbox"],
    ["yarn", ["--silent", "info", "react"], "host"],
    ["yarn", ["--json", "dlx", "x"], "here"],
    ["bun", ["--silent", "help"], "host"],
    ["bun", ["--bun", "x", "probe"], "here"],
  ] as const)("%s %j → %s", (tool, args, kind) => {
    expect(handling(tool, args, false).kind).toBe(kind);
  });

  it("refuses a global command whose word a flag may have taken (`-g --tag ls install x`)", () => {
    for (const hasProject of [false, true]) {
      for (const [tool, args] of [
        ["npm", ["-g", "--tag", "ls", "install", "foo"]],
        ["npm", ["--tag", "ls", "-g", "install", "foo"]],
        ["npm", ["--location", "global", "ls"]],
        ["pnpm", ["-g", "--reporter", "ls", "add", "foo"]],
        ["bun", ["-g", "--cwd", "ls", "add", "foo"]],
        ["yarn", ["global", "--prefix", "list", "add", "foo"]],
      ] as const) {
        expect(handling(tool, args, hasProject)).toMatchObject({
          kind: "refuse",
          code: "GLOBAL_INSTALL",
        });
      }
      // Controls: a clear read-only word stays on the host.
      expect(handling("npm", ["-g", "ls"], hasProject).kind).toBe("host");
      expect(handling("npm", ["ls", "-g", "--depth", "0"], hasProject).kind).toBe("host");
      expect(handling("yarn", ["global", "list"], hasProject).kind).toBe("host");
    }
  });

  it("keeps the account commands on the host only when their word is clear", () => {
    expect(handling("npm", ["--registry", "whoami", "install"], true).kind).toBe("sandbox");
    expect(handling("npm", ["--registry=https://r.example", "whoami"], true).kind).toBe("host");
  });
});

describe("scaffolders and registry queries reach the registry", () => {
  it.each([
    ["npm", ["init", "vite"], "install"],
    ["npm", ["init"], "run"],
    ["npm", ["init", "-y"], "run"],
    ["npm", ["create", "vite", "app"], "install"],
    ["pnpm", ["create", "vite"], "install"],
    ["yarn", ["create", "vite"], "install"],
    ["bun", ["create", "vite"], "install"],
    ["npm", ["view", "react"], "install"],
  ] as const)("%s %j → %s", (tool, args, cls) => {
    expect(commandClass(tool, args)).toBe(cls);
  });
});
