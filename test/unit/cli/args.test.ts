import { describe, expect, it } from "vitest";
import { parseArgs } from "../../../src/cli/args.js";
import { SafeNpmError } from "../../../src/errors.js";

/** The SafeNpmError parseArgs throws for argv (fails the test when it does not throw one). */
function usageError(argv: readonly string[]): SafeNpmError {
  try {
    parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(SafeNpmError);
    const e = error as SafeNpmError;
    expect(e.code).toBe("USAGE");
    expect(e.exitCode).toBe(125);
    expect(e.hint).toEqual(expect.any(String));
    return e;
  }
  throw new Error(`parseArgs(${JSON.stringify(argv)}) did not throw`);
}

const defaults = {
  dryRun: false,
  network: undefined,
  allow: [],
  config: undefined,
  trustConfig: false,
  quiet: false,
  verbose: false,
  ports: [],
  noPorts: false,
};

describe("parseArgs flags", () => {
  it("reads safe-npm's flags before the command", () => {
    expect(parseArgs(["--dry-run", "--quiet", "--verbose", "install"])).toEqual({
      ...defaults,
      dryRun: true,
      quiet: true,
      verbose: true,
      target: { kind: "auto", args: ["install"] },
    });
  });

  it.each([[["--network=none", "run", "build"]], [["--network", "none", "run", "build"]]])(
    "%j → network none",
    (argv) => {
      expect(parseArgs(argv)).toEqual({
        ...defaults,
        network: "none",
        target: { kind: "auto", args: ["run", "build"] },
      });
    },
  );

  it("reads --network registry, repeated --allow-host, --config and --trust-config", () => {
    expect(
      parseArgs([
        "--network=registry",
        "--allow-host",
        "npm.example.com",
        "--allow-host=cdn.example.com:8443",
        "--config",
        "./ci.json",
        "--trust-config",
        "ci",
      ]),
    ).toEqual({
      ...defaults,
      network: "registry",
      allow: ["npm.example.com", "cdn.example.com:8443"],
      config: "./ci.json",
      trustConfig: true,
      target: { kind: "auto", args: ["ci"] },
    });
  });

  it.each([[["--allow-host"]], [["--config="]], [["--trust-config=yes", "ci"]]])(
    "%j → USAGE",
    (argv) => {
      usageError(argv);
    },
  );

  it("reads repeated --port and --no-ports", () => {
    expect(parseArgs(["--port", "5173", "--port=3000", "run", "dev"])).toEqual({
      ...defaults,
      ports: [5173, 3000],
      target: { kind: "auto", args: ["run", "dev"] },
    });
    expect(parseArgs(["--no-ports", "run", "dev"])).toMatchObject({ noPorts: true, ports: [] });
  });

  it.each([
    [["--port"], "--port needs a value"],
    [["--port", "0", "run"], 'from 1 to 65535, got "0"'],
    [["--port", "65536", "run"], 'got "65536"'],
    [["--port", "5173x", "run"], 'got "5173x"'],
    [["--port", "-1", "run"], 'got "-1"'],
    [["--no-ports=yes", "run"], "--no-ports takes no value"],
    [["--port", "5173", "--no-ports", "run"], "contradict"],
  ])("%j → USAGE (%s)", (argv, message) => {
    expect(usageError(argv).message).toContain(message);
  });

  it("reads the management commands", () => {
    expect(parseArgs(["trust"])).toMatchObject({ target: { kind: "trust" } });
    expect(parseArgs(["untrust"])).toMatchObject({ target: { kind: "untrust" } });
    expect(parseArgs(["init"])).toMatchObject({ target: { kind: "init" } });
    expect(parseArgs(["doctor"])).toMatchObject({ target: { kind: "doctor", json: false } });
    expect(parseArgs(["doctor", "--json"])).toMatchObject({
      target: { kind: "doctor", json: true },
    });
    expect(usageError(["doctor", "--verbose"]).message).toContain("doctor takes only --json");
    expect(usageError(["trust", "now"]).message).toContain("trust takes no arguments");
    expect(parseArgs(["setup"])).toMatchObject({ target: { kind: "setup", ci: false } });
    expect(parseArgs(["setup", "--ci"])).toMatchObject({ target: { kind: "setup", ci: true } });
    expect(parseArgs(["teardown"])).toMatchObject({ target: { kind: "teardown" } });
    expect(usageError(["setup", "--yes"]).message).toContain("setup takes only --ci");
    expect(usageError(["teardown", "x"]).message).toContain("teardown takes no arguments");
  });

  it("reads `homes` and `homes prune` with their flags", () => {
    expect(parseArgs(["homes"])).toMatchObject({
      target: { kind: "homes", action: "list", json: false },
    });
    expect(parseArgs(["homes", "--json"])).toMatchObject({
      target: { kind: "homes", action: "list", json: true },
    });
    expect(parseArgs(["homes", "prune"])).toMatchObject({
      target: {
        kind: "homes",
        action: "prune",
        olderThan: null,
        unrecorded: false,
        dryRun: false,
        json: false,
      },
    });
    expect(
      parseArgs(["homes", "prune", "--older-than", "30d", "--dry-run", "--unrecorded", "--json"]),
    ).toMatchObject({
      target: { olderThan: 30 * 24 * 3600 * 1000, dryRun: true, unrecorded: true, json: true },
    });
    expect(parseArgs(["homes", "prune", "--older-than=2w"])).toMatchObject({
      target: { olderThan: 14 * 24 * 3600 * 1000 },
    });
    expect(usageError(["homes", "prune", "--older-than"]).message).toContain(
      "--older-than needs a duration",
    );
    expect(usageError(["homes", "prune", "--older-than", "30"]).message).toContain('got "30"');
    expect(usageError(["homes", "prune", "--force"]).message).toContain(
      "homes prune: unknown option --force",
    );
    expect(usageError(["homes", "purge"]).message).toContain('got "purge"');
    expect(usageError(["homes", "prune", "--dry-run=yes"]).message).toContain("unknown option");
  });

  it("accepts --network full", () => {
    expect(parseArgs(["--network", "full", "ci"])).toMatchObject({
      network: "full",
      target: { kind: "auto", args: ["ci"] },
    });
  });

  it.each([
    [["--network", "bogus", "install"], '"bogus"'],
    [["--network=", "install"], 'got ""'],
  ])("%j → USAGE naming the bad value", (argv, shown) => {
    const e = usageError(argv);
    expect(e.message).toContain("--network");
    expect(e.message).toContain(shown);
    expect(e.hint).toContain("--network none");
  });

  it.each(["--dry-run=false", "--quiet=no", "--verbose=1", "--help=x", "--version=y"])(
    "a switch given a value (%s) is a USAGE error, not silently on",
    (arg) => {
      const e = usageError([arg, "install"]);
      expect(e.message).toContain("takes no value");
      expect(e.message).toContain(arg);
    },
  );

  it("--network at the end is a USAGE error", () => {
    const e = usageError(["--network"]);
    expect(e.message).toBe('--network needs "full", "registry" or "none"');
  });

  it("--network swallows the next word as its value", () => {
    const e = usageError(["--network", "install"]);
    expect(e.message).toContain('"install"');
  });

  it.each(["--frobnicate", "-x", "--net=none", "--dryrun"])(
    "unknown flag %s → USAGE naming it",
    (flag) => {
      const e = usageError([flag, "install"]);
      expect(e.message).toContain(flag);
      expect(e.hint).toContain("before the command");
    },
  );

  it.each([["--help"], ["-h"], ["--dry-run", "--help", "install"]])("%j → help", (...argv) => {
    expect(parseArgs(argv)).toEqual({ help: true });
  });

  it.each([["--version"], ["-v"], ["--quiet", "-v"]])("%j → version", (...argv) => {
    expect(parseArgs(argv)).toEqual({ version: true });
  });
});

describe("parseArgs command", () => {
  it("gives flags after the command to the command", () => {
    expect(parseArgs(["install", "--dry-run"])).toEqual({
      ...defaults,
      target: { kind: "auto", args: ["install", "--dry-run"] },
    });
    expect(parseArgs(["test", "--help"])).toEqual({
      ...defaults,
      target: { kind: "auto", args: ["test", "--help"] },
    });
    expect(parseArgs(["run", "x", "--network", "none"])).toMatchObject({
      network: undefined,
      target: { kind: "auto", args: ["run", "x", "--network", "none"] },
    });
  });

  it("ends its flags at --", () => {
    expect(parseArgs(["--quiet", "--", "--weird-script"])).toEqual({
      ...defaults,
      quiet: true,
      target: { kind: "auto", args: ["--weird-script"] },
    });
  });

  it("reads exec -- cmd a b", () => {
    expect(parseArgs(["exec", "--", "cmd", "a", "b"])).toEqual({
      ...defaults,
      target: { kind: "exec", argv: ["cmd", "a", "b"] },
    });
  });

  it("reads exec cmd without --", () => {
    expect(parseArgs(["--network=none", "exec", "node", "-e", "1"])).toEqual({
      ...defaults,
      network: "none",
      target: { kind: "exec", argv: ["node", "-e", "1"] },
    });
  });

  it("keeps a second -- for the command", () => {
    expect(parseArgs(["exec", "--", "node", "--", "x"])).toMatchObject({
      target: { kind: "exec", argv: ["node", "--", "x"] },
    });
  });

  it.each([[["exec"]], [["exec", "--"]]])("%j → USAGE", (argv) => {
    expect(usageError(argv).message).toBe("exec needs a command");
  });

  it("reads shell", () => {
    expect(parseArgs(["shell"])).toEqual({ ...defaults, target: { kind: "shell" } });
  });

  it("shell with arguments → USAGE", () => {
    const e = usageError(["shell", "-c", "id"]);
    expect(e.message).toBe("shell takes no arguments");
    expect(e.hint).toContain("exec");
  });

  it.each([
    [["npm", "x", "cowsay"], { kind: "tool", tool: "npm", args: ["x", "cowsay"] }],
    [["npx", "y"], { kind: "tool", tool: "npx", args: ["y"] }],
    [["npm"], { kind: "tool", tool: "npm", args: [] }],
  ])("%j → tool target", (argv, target) => {
    expect(parseArgs(argv)).toEqual({ ...defaults, target });
  });

  it("treats any other first word as the project's package manager's args", () => {
    expect(parseArgs(["run", "build", "--", "--watch"])).toEqual({
      ...defaults,
      target: { kind: "auto", args: ["run", "build", "--", "--watch"] },
    });
  });

  it.each([[[]], [["--quiet"]], [["--dry-run", "--"]]])("%j → USAGE: no command", (argv) => {
    const e = usageError(argv);
    expect(e.message).toBe("no command given");
    expect(e.hint).toContain("safe-npm install");
  });

  it("does not alias the argv array", () => {
    const argv = ["install", "left-pad"];
    const parsed = parseArgs(argv);
    argv.push("mutated");
    expect(parsed).toMatchObject({ target: { kind: "auto", args: ["install", "left-pad"] } });
  });
});
