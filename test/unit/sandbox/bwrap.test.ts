import { describe, expect, it } from "vitest";
import {
  type BwrapInvocation,
  buildBwrapArgs,
  FOREGROUND_PERL,
  READY_FD,
  READY_SCRIPT,
  shellQuote,
} from "../../../src/sandbox/bwrap.js";
import { isSecretName, NO_SETTINGS, type Policy } from "../../../src/sandbox/policy.js";
import { CACHE_DIRS } from "../../../src/sandbox/privatehome.js";
import {
  type BaseOptions,
  basePolicy,
  CWD,
  FAKE_SECCOMP,
  GIT_DIR,
  HOME,
  HOST_ENV,
  NPM_PREFIX,
  NPM_TOKEN,
  NVM_PREFIX,
  PRIVATE_HOME,
  PROJECT,
  SCRIPT_ENV,
  scriptEnv,
} from "../fixtures.js";

/** How many values each bwrap option the builder may emit takes (bwrap(1)). */
const ARITY: Readonly<Record<string, number>> = {
  "--unshare-user": 0,
  "--disable-userns": 0,
  "--unshare-pid": 0,
  "--unshare-ipc": 0,
  "--unshare-uts": 0,
  "--unshare-cgroup-try": 0,
  "--unshare-net": 0,
  "--hostname": 1,
  "--cap-drop": 1,
  "--die-with-parent": 0,
  "--new-session": 0,
  "--clearenv": 0,
  "--setenv": 2,
  "--ro-bind": 2,
  "--bind": 2,
  "--symlink": 2,
  "--tmpfs": 1,
  "--proc": 1,
  "--dev": 1,
  "--ro-bind-data": 2,
  "--seccomp": 1,
  "--chdir": 1,
};

interface Option {
  /** Position of the option in args. */
  at: number;
  flag: string;
  values: string[];
}

/** Splits the argv into bwrap options (each known, with its values) and the command after `--`. */
function parse(args: readonly string[]): { options: Option[]; command: string[] } {
  const options: Option[] = [];
  let i = 0;
  while (i < args.length) {
    const flag = args[i] as string;
    if (flag === "--") return { options, command: args.slice(i + 1) };
    const arity = ARITY[flag];
    if (arity === undefined) throw new Error(`unexpected bwrap argument ${flag} at ${i}`);
    const values = args.slice(i + 1, i + 1 + arity);
    if (values.length !== arity) throw new Error(`${flag} at ${i} lacks its values`);
    options.push({ at: i, flag, values });
    i += 1 + arity;
  }
  throw new Error("no -- before the command");
}

function build(options: BaseOptions = {}, seccomp: Uint8Array | null = FAKE_SECCOMP) {
  const policy = basePolicy(options);
  const invocation = buildBwrapArgs(policy, seccomp);
  return { policy, invocation, ...parse(invocation.args) };
}

function flags(options: readonly Option[], flag: string): Option[] {
  return options.filter((o) => o.flag === flag);
}

function indexOfMount(options: readonly Option[], flag: string, src: string): number {
  const found = options.find((o) => o.flag === flag && o.values[0] === src);
  if (found === undefined) throw new Error(`no ${flag} ${src}`);
  return found.at;
}

function setenvs(options: readonly Option[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const o of flags(options, "--setenv")) env[o.values[0] as string] = o.values[1] as string;
  return env;
}

/** The invocation with the data decoded, for snapshots. */
function snapshotOf(invocation: BwrapInvocation) {
  return {
    args: invocation.args,
    inputs: invocation.inputs.map((i) => ({
      fd: i.fd,
      label: i.label,
      data:
        i.label === "seccomp filter"
          ? `<${i.data.length} bytes>`
          : new TextDecoder().decode(i.data),
    })),
    readyFd: invocation.readyFd,
  };
}

describe("buildBwrapArgs snapshots", () => {
  const cases: [string, BaseOptions, Uint8Array | null][] = [
    ["default npm install", {}, FAKE_SECCOMP],
    ["network none", { input: { network: "none" } }, FAKE_SECCOMP],
    [
      "exec kind",
      { input: { kind: "exec", command: ["node", "scripts/build.js", "--out", "dist dir"] } },
      FAKE_SECCOMP,
    ],
    [
      "shell in the terminal's foreground",
      {
        host: { stdinIsTty: true, foregroundTty: true, perl: true },
        input: { kind: "shell", command: ["/bin/bash"] },
      },
      FAKE_SECCOMP,
    ],
    [
      "shell on a terminal without perl",
      {
        host: { stdinIsTty: true, foregroundTty: true, perl: false },
        input: { kind: "shell", command: ["/bin/bash"] },
      },
      FAKE_SECCOMP,
    ],
    [
      "non-merged /bin",
      {
        host: {
          rootDirs: { "/bin": null, "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64" },
        },
      },
      FAKE_SECCOMP,
    ],
    [
      "resolv.conf symlink target",
      { host: { resolvConf: "/run/systemd/resolve/stub-resolv.conf" } },
      FAKE_SECCOMP,
    ],
    ["no user npmrc", { host: { userNpmrc: null } }, FAKE_SECCOMP],
    ["no .git to protect", { input: { protect: [] } }, FAKE_SECCOMP],
    ["seccomp unavailable (riscv64)", { host: { arch: "riscv64" } }, null],
    ["run from a package.json script", { host: { env: scriptEnv() } }, FAKE_SECCOMP],
  ];
  it.each(cases)("%s", (_name, options, seccomp) => {
    const { invocation } = build(options, seccomp);
    expect(snapshotOf(invocation)).toMatchSnapshot();
  });
});

describe("buildBwrapArgs namespaces and privileges", () => {
  it("emits only known options with their values, then -- and the command", () => {
    const { options, command } = build();
    expect(options.length).toBeGreaterThan(10);
    expect(command.length).toBeGreaterThan(4);
  });

  it("clears the environment before every --setenv", () => {
    const { options } = build();
    const clear = flags(options, "--clearenv");
    expect(clear).toHaveLength(1);
    const sets = flags(options, "--setenv");
    expect(sets.length).toBeGreaterThan(3);
    for (const s of sets) expect(s.at).toBeGreaterThan(clear[0]?.at ?? Number.POSITIVE_INFINITY);
  });

  it("drops every capability and dies with its parent", () => {
    const { invocation } = build();
    const at = invocation.args.indexOf("--cap-drop");
    expect(at).toBeGreaterThanOrEqual(0);
    expect(invocation.args[at + 1]).toBe("ALL");
    expect(invocation.args).toContain("--die-with-parent");
  });

  it("unshares pid, ipc, uts and cgroup", () => {
    const { options } = build();
    for (const flag of [
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      "--unshare-cgroup-try",
    ]) {
      expect(flags(options, flag), flag).toHaveLength(1);
    }
    expect(flags(options, "--hostname")[0]?.values).toEqual(["safe-npm"]);
  });

  it("unshares the user namespace and forbids nested ones when userNamespace", () => {
    const policy = basePolicy();
    expect(policy.userNamespace).toBe(true);
    const on = parse(buildBwrapArgs(policy, FAKE_SECCOMP).args).options;
    expect(flags(on, "--unshare-user")).toHaveLength(1);
    expect(flags(on, "--disable-userns")).toHaveLength(1);
    const off = parse(buildBwrapArgs({ ...policy, userNamespace: false }, FAKE_SECCOMP).args);
    expect(flags(off.options, "--unshare-user")).toHaveLength(0);
    expect(flags(off.options, "--disable-userns")).toHaveLength(0);
  });

  it.each([
    ["full", 0],
    ["none", 1],
  ] as const)("network %s → %i × --unshare-net", (network, count) => {
    const { options } = build({ input: { network } });
    expect(flags(options, "--unshare-net")).toHaveLength(count);
  });

  it("uses the seccomp filter instead of --new-session when available", () => {
    const { options } = build();
    expect(flags(options, "--seccomp")).toHaveLength(1);
    expect(flags(options, "--new-session")).toHaveLength(0);
  });

  it("falls back to --new-session (and no --seccomp) when seccomp is off", () => {
    const policy = basePolicy({ host: { arch: "riscv64" } });
    expect(policy.seccomp).toBe(false);
    // Even if a filter is offered, a policy without seccomp does not load it.
    const { options } = parse(buildBwrapArgs(policy, FAKE_SECCOMP).args);
    expect(flags(options, "--new-session")).toHaveLength(1);
    expect(flags(options, "--seccomp")).toHaveLength(0);
  });

  it("falls back to --new-session when seccomp is on but no filter was built", () => {
    const policy = basePolicy();
    expect(policy.seccomp).toBe(true);
    const { options } = parse(buildBwrapArgs(policy, null).args);
    expect(flags(options, "--new-session")).toHaveLength(1);
    expect(flags(options, "--seccomp")).toHaveLength(0);
  });
});

describe("buildBwrapArgs mounts", () => {
  it("binds the project read-write and .git read-only after it", () => {
    const { options } = build();
    const project = indexOfMount(options, "--bind", PROJECT);
    expect(flags(options, "--bind").find((o) => o.values[0] === PROJECT)?.values[1]).toBe(PROJECT);
    const git = indexOfMount(options, "--ro-bind", GIT_DIR);
    expect(flags(options, "--ro-bind").find((o) => o.values[0] === GIT_DIR)?.values[1]).toBe(
      GIT_DIR,
    );
    expect(git).toBeGreaterThan(project);
  });

  it("mounts a fresh home with only the private home's caches, before the toolchain and the project", () => {
    const { options } = build();
    const home = flags(options, "--tmpfs").find((o) => o.values[0] === HOME);
    const at = home?.at ?? Number.POSITIVE_INFINITY;
    expect(at).toBeLessThan(indexOfMount(options, "--ro-bind", NVM_PREFIX));
    expect(at).toBeLessThan(indexOfMount(options, "--bind", PROJECT));
    const fromPrivate = flags(options, "--bind").filter((o) =>
      o.values[0]?.startsWith(`${PRIVATE_HOME}/`),
    );
    expect(fromPrivate.map((o) => o.values)).toEqual([
      ...CACHE_DIRS.map((rel) => [`${PRIVATE_HOME}/${rel}`, `${HOME}/${rel}`]),
      // Yarn 4's global folder also at its host path, where .pnp.cjs outside finds it too.
      [`${PRIVATE_HOME}/.yarn/berry`, `${PRIVATE_HOME}/.yarn/berry`],
    ]);
    for (const bind of fromPrivate) expect(bind.at).toBeGreaterThan(at);
    expect(flags(options, "--bind").some((o) => o.values[0] === PRIVATE_HOME)).toBe(false);
    // The sanitized ~/.npmrc lands in the fresh home, so it must come after it too.
    const npmrc = flags(options, "--ro-bind-data").find((o) => o.values[1] === `${HOME}/.npmrc`);
    expect(npmrc?.at).toBeGreaterThan(at);
  });

  it.each<[string, BaseOptions]>([
    ["default", {}],
    [
      "shell on a terminal",
      {
        host: { stdinIsTty: true, foregroundTty: true },
        input: { kind: "shell", command: ["/bin/bash"] },
      },
    ],
    ["from a script", { host: { env: scriptEnv() } }],
    ["non-merged /bin", { host: { rootDirs: { "/bin": null, "/lib": null } } }],
  ])("exposes nothing of the real home but the project and the toolchain (%s)", (_n, options) => {
    const { options: opts } = build(options);
    const allowed = [PROJECT, NVM_PREFIX, PRIVATE_HOME];
    const binds = opts.filter((o) => o.flag === "--bind" || o.flag === "--ro-bind");
    expect(binds.length).toBeGreaterThan(3);
    for (const b of binds) {
      const src = b.values[0] as string;
      expect(src).not.toBe("/");
      expect(src).not.toBe("/home");
      expect(src).not.toBe(HOME);
      if (src.startsWith(`${HOME}/`)) {
        expect(
          allowed.some((a) => src === a || src.startsWith(`${a}/`)),
          `${b.flag} ${src}`,
        ).toBe(true);
      }
    }
    // Symlinks may point into the real home only where a bind shows it (the toolchain's names).
    for (const s of flags(opts, "--symlink")) {
      const target = s.values[0] as string;
      if (target.startsWith(HOME)) {
        expect(
          allowed.some((a) => target.startsWith(`${a}/`)),
          `--symlink ${target}`,
        ).toBe(true);
      }
    }
  });

  it("mounts fresh /proc, /dev and a private /tmp", () => {
    const { options } = build();
    expect(flags(options, "--proc").map((o) => o.values[0])).toEqual(["/proc"]);
    expect(flags(options, "--dev").map((o) => o.values[0])).toEqual(["/dev"]);
    expect(flags(options, "--tmpfs").map((o) => o.values[0])).toEqual(["/tmp", HOME]);
    expect(flags(options, "--bind").some((o) => o.values[0] === "/tmp")).toBe(false);
    expect(flags(options, "--ro-bind").some((o) => o.values[0] === "/tmp")).toBe(false);
  });

  it("never binds /run wholesale (docker.sock, D-Bus, the SSH agent)", () => {
    const { options } = build({ host: { resolvConf: "/run/systemd/resolve/stub-resolv.conf" } });
    const sources = options
      .filter((o) => o.flag === "--bind" || o.flag === "--ro-bind")
      .map((o) => o.values[0]);
    expect(sources).toContain("/run/systemd/resolve/stub-resolv.conf");
    expect(sources).not.toContain("/run");
    expect(sources.filter((s) => s?.startsWith("/run/"))).toEqual([
      "/run/systemd/resolve/stub-resolv.conf",
    ]);
  });

  it("passes the sanitized npmrc and the marker on fds 4, 5 and seccomp on 6", () => {
    const { invocation, options } = build();
    const data = flags(options, "--ro-bind-data");
    expect(data.map((o) => o.values[0])).toEqual(["4", "5"]);
    expect(data.map((o) => o.values[1])).toEqual([`${HOME}/.npmrc`, "/run/safe-npm/sandbox.json"]);
    expect(flags(options, "--seccomp").map((o) => o.values[0])).toEqual(["6"]);
    expect(invocation.inputs.map((i) => i.fd)).toEqual([4, 5, 6]);
    expect(invocation.inputs.map((i) => i.label)).toEqual([
      "~/.npmrc without credentials",
      "sandbox marker",
      "seccomp filter",
    ]);
    expect(invocation.inputs[2]?.data).toBe(FAKE_SECCOMP);
    const npmrc = new TextDecoder().decode(invocation.inputs[0]?.data);
    expect(npmrc).toContain("registry=https://registry.npmjs.org/");
    expect(npmrc).not.toContain(NPM_TOKEN);
    expect(invocation.args.join("\n")).not.toContain(NPM_TOKEN);
    // Every data descriptor comes after the ready descriptor.
    for (const i of invocation.inputs) expect(i.fd).toBeGreaterThan(READY_FD);
  });

  it("numbers the fds densely without a user npmrc (marker 4, seccomp 5)", () => {
    const { invocation, options } = build({ host: { userNpmrc: null } });
    expect(flags(options, "--ro-bind-data").map((o) => o.values)).toEqual([
      ["4", "/run/safe-npm/sandbox.json"],
    ]);
    expect(flags(options, "--seccomp").map((o) => o.values[0])).toEqual(["5"]);
    expect(invocation.inputs.map((i) => i.fd)).toEqual([4, 5]);
  });

  it("has no seccomp input when seccomp is off", () => {
    const { invocation } = build({ host: { arch: "riscv64" } }, null);
    expect(invocation.inputs.map((i) => i.label)).toEqual([
      "~/.npmrc without credentials",
      "sandbox marker",
    ]);
  });
});

describe("buildBwrapArgs command", () => {
  it("starts with the ready script on fd 3, then the package manager", () => {
    const { invocation, command, options } = build();
    expect(invocation.readyFd).toBe(3);
    expect(READY_SCRIPT).toContain(">&3");
    expect(command).toEqual([
      "/bin/sh",
      "-c",
      READY_SCRIPT,
      "sh",
      `${NVM_PREFIX}/bin/npm`,
      "install",
    ]);
    expect(flags(options, "--chdir").map((o) => o.values[0])).toEqual([CWD]);
    // --chdir is the last option before --.
    expect(options.at(-1)?.flag).toBe("--chdir");
  });

  it("runs an exec command verbatim", () => {
    const { command } = build({
      input: { kind: "exec", command: ["node", "-e", "process.exit(3)", "--", "a b"] },
    });
    expect(command.slice(4)).toEqual(["node", "-e", "process.exit(3)", "--", "a b"]);
  });

  it.each<[string, BaseOptions]>([
    ["a package manager", { input: { kind: "pm", command: ["npm", "test"] } }],
    ["a shell", { input: { kind: "shell", command: ["/bin/bash"] } }],
    ["an exec command", { input: { kind: "exec", command: ["bash", "-i"] } }],
  ])("gives %s the terminal's foreground through perl", (_n, options) => {
    const { command, policy } = build({
      ...options,
      host: { stdinIsTty: true, foregroundTty: true, perl: true },
    });
    expect(policy.foreground).toBe(true);
    // perl quiet about a locale the system lacks; the script drops PERL_BADLANG again ("1").
    expect(command.slice(0, 12)).toEqual([
      "/bin/sh",
      "-c",
      READY_SCRIPT,
      "sh",
      "/usr/bin/env",
      "PERL_BADLANG=0",
      "/usr/bin/perl",
      "-e",
      FOREGROUND_PERL,
      "--",
      "1",
      "1",
    ]);
  });

  it("gives the supervisor prctl's number and the command's filter, or nothing to install", () => {
    const policy = basePolicy({ host: { stdinIsTty: true, foregroundTty: true, perl: true } });
    const supervisor = { prctl: 157, commandFilter: Uint8Array.of(0x06, 0x00, 0xff) };
    const withFilter = parse(buildBwrapArgs(policy, FAKE_SECCOMP, supervisor).args).command;
    const at = withFilter.indexOf(FOREGROUND_PERL);
    expect(withFilter.slice(at + 1, at + 6)).toEqual(["--", "1", "1", "157", "0600ff"]);
    expect(withFilter.slice(at + 6)).toEqual(policy.command);
    const without = parse(buildBwrapArgs(policy, FAKE_SECCOMP).args).command;
    expect(without.slice(at + 1, at + 6)).toEqual(["--", "1", "1", "", ""]);
    expect(without.slice(at + 6)).toEqual(policy.command);
  });

  it("leaves a PERL_BADLANG the user passes in to perl and the command", () => {
    const { command, policy } = build({
      input: {
        kind: "shell",
        command: ["/bin/bash"],
        settings: { ...NO_SETTINGS, envPass: ["PERL_BADLANG"] },
      },
      host: {
        stdinIsTty: true,
        foregroundTty: true,
        perl: true,
        env: { PATH: "/usr/bin:/bin", HOME: "/home/alice", PERL_BADLANG: "1" },
      },
    });
    expect(policy.env.PERL_BADLANG).toBe("1");
    expect(command.slice(4, 10)).toEqual(["/usr/bin/perl", "-e", FOREGROUND_PERL, "--", "1", "0"]);
  });

  it.each<[string, BaseOptions]>([
    ["no terminal", { input: { kind: "shell", command: ["/bin/bash"] } }],
    ["a terminal safe-npm does not hold (started with &)", { host: { stdinIsTty: true } }],
    ["no perl", { host: { stdinIsTty: true, foregroundTty: true, perl: false } }],
    ["no seccomp filter", { host: { stdinIsTty: true, foregroundTty: true, arch: "ia32" } }],
  ])("runs in a session of its own with %s", (_n, options) => {
    const { command, policy } = build(options);
    expect(policy.foreground).toBe(false);
    expect(command).not.toContain("/usr/bin/perl");
    expect(command.slice(0, 4)).toEqual(["/bin/sh", "-c", READY_SCRIPT, "sh"]);
  });

  it("adds no supervisor when the policy does not hold the foreground", () => {
    const policy: Policy = { ...basePolicy(), foreground: false };
    const { command } = parse(buildBwrapArgs(policy, FAKE_SECCOMP).args);
    expect(command).not.toContain("/usr/bin/perl");
  });
});

describe("buildBwrapArgs environment", () => {
  const secretLike =
    /TOKEN|SECRET|AWS_|SSH_AUTH_SOCK|DBUS_|DISPLAY|XDG_RUNTIME_DIR|DOCKER_|KUBECONFIG/;

  it.each<[string, BaseOptions]>([
    ["default", {}],
    ["from a script", { host: { env: scriptEnv() } }],
    [
      "shell on a terminal",
      {
        host: { stdinIsTty: true, foregroundTty: true },
        input: { kind: "shell", command: ["/bin/bash"] },
      },
    ],
  ])("passes no secret (%s)", (_n, options) => {
    const { options: opts, policy } = build(options);
    const env = setenvs(opts);
    expect(env).toEqual(policy.env);
    for (const name of Object.keys(env)) {
      expect(name).not.toMatch(secretLike);
      expect(isSecretName(name), name).toBe(false);
    }
    const values = Object.values(env).join("\n");
    for (const secret of [
      "ghp_leak",
      "AKIALEAK",
      "aws-secret-leak",
      "aws-session-leak",
      NPM_TOKEN,
    ]) {
      expect(values).not.toContain(secret);
    }
    // Not on the allowlist at all.
    expect(env.EDITOR).toBeUndefined();
    expect(env.AWS_REGION).toBeUndefined();
    expect(env.XDG_CACHE_HOME).toBeUndefined();
  });

  it("passes the allowlisted user variables and fixes HOME, USER and TMPDIR", () => {
    const env = setenvs(build().options);
    expect(env.HOME).toBe(HOME);
    expect(env.USER).toBe("alice");
    expect(env.LOGNAME).toBe("alice");
    expect(env.TMPDIR).toBe("/tmp");
    expect(env.TERM).toBe(HOST_ENV.TERM);
    expect(env.COLORTERM).toBe("truecolor");
    expect(env.LANG).toBe("en_US.UTF-8");
    expect(env.LC_ALL).toBe("C.UTF-8");
    expect(env.LC_TIME).toBe("de_DE.UTF-8");
    expect(env.TZ).toBe("Europe/Berlin");
    expect(env.SHELL).toBe("/bin/bash");
  });

  it("passes script variables only when npm_lifecycle_event is set", () => {
    const plain = setenvs(build().options);
    for (const name of [
      "INIT_CWD",
      "npm_lifecycle_event",
      "npm_package_name",
      "npm_config_user_agent",
    ]) {
      expect(plain[name], name).toBeUndefined();
    }
    const script = setenvs(build({ host: { env: scriptEnv() } }).options);
    for (const name of [
      "INIT_CWD",
      "npm_lifecycle_event",
      "npm_lifecycle_script",
      "npm_package_json",
      "npm_package_name",
      "npm_package_version",
      "npm_command",
      "npm_execpath",
      "npm_node_execpath",
      "npm_config_user_agent",
      "npm_config_registry",
    ]) {
      expect(script[name], name).toBe(SCRIPT_ENV[name]);
    }
    // npm's other config variables stay out.
    expect(script.npm_config_cache).toBeUndefined();
    expect(script.npm_config_globalconfig).toBeUndefined();
  });

  it("builds PATH from the toolchain and the system when not run from a script", () => {
    const path = (setenvs(build().options).PATH ?? "").split(":");
    expect(path).toEqual([
      "/run/safe-npm/bin",
      `${NVM_PREFIX}/bin`,
      "/usr/local/bin",
      "/usr/bin",
      "/bin",
    ]);
    expect(path.some((d) => d.endsWith("node_modules/.bin"))).toBe(false);
  });

  it("keeps the project's node_modules/.bin chain first when run from a script", () => {
    const path = (setenvs(build({ host: { env: scriptEnv() } }).options).PATH ?? "").split(":");
    expect(path.slice(0, 3)).toEqual([
      `${CWD}/node_modules/.bin`,
      `${PROJECT}/node_modules/.bin`,
      `${NPM_PREFIX}/node_modules/@npmcli/run-script/lib/node-gyp-bin`,
    ]);
    expect(path).toContain(`${NVM_PREFIX}/bin`);
    expect(path.slice(-3)).toEqual(["/usr/local/bin", "/usr/bin", "/bin"]);
    expect(new Set(path).size).toBe(path.length);
  });

  it.each<[string, BaseOptions]>([
    ["default", {}],
    ["from a script", { host: { env: scriptEnv() } }],
  ])("drops host PATH dirs the sandbox cannot see (%s)", (_n, options) => {
    const path = (setenvs(build(options).options).PATH ?? "").split(":");
    expect(path).not.toContain(`${HOME}/.local/bin`);
    expect(path).not.toContain("/opt/x/bin");
    expect(path.every((d) => d.startsWith("/"))).toBe(true);
  });

  it("drops a node_modules/.bin outside the project even from a script", () => {
    const path = (
      setenvs(
        build({
          host: { env: scriptEnv(), pathDirs: ["/home/alice/other/node_modules/.bin", "/usr/bin"] },
        }).options,
      ).PATH ?? ""
    ).split(":");
    expect(path).not.toContain("/home/alice/other/node_modules/.bin");
  });
});

describe("shellQuote", () => {
  it.each([
    ["", "''"],
    ["install", "install"],
    ["--omit=dev", "--omit=dev"],
    ["/usr/bin/node", "/usr/bin/node"],
    ["@scope/pkg@1.2.3", "@scope/pkg@1.2.3"],
    ["a,b:c+d%e", "a,b:c+d%e"],
    ["a b", "'a b'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ["$HOME", "'$HOME'"],
    ["a\\b", "'a\\b'"],
    ["`id`", "'`id`'"],
    ["*.js", "'*.js'"],
    ["~", "'~'"],
    ["a;b", "'a;b'"],
    ['say "hi"', `'say "hi"'`],
    ["line\nbreak", "'line\nbreak'"],
    ["tab\there", "'tab\there'"],
  ])("%j → %s", (word, quoted) => {
    expect(shellQuote(word)).toBe(quoted);
  });

  /** Reads back one POSIX shell word made of unquoted safe chars, '…' and \' only. */
  function unquote(quoted: string): string {
    let out = "";
    let i = 0;
    while (i < quoted.length) {
      const c = quoted[i] as string;
      if (c === "'") {
        const end = quoted.indexOf("'", i + 1);
        if (end === -1) throw new Error(`unterminated quote in ${quoted}`);
        out += quoted.slice(i + 1, end);
        i = end + 1;
      } else if (c === "\\") {
        out += quoted[i + 1] ?? "";
        i += 2;
      } else if (/[\w@%+=:,./-]/.test(c)) {
        out += c;
        i += 1;
      } else {
        throw new Error(`unsafe unquoted ${JSON.stringify(c)} in ${quoted}`);
      }
    }
    return out;
  }

  it.each([
    "",
    "plain",
    "two words",
    "''",
    "a'b'c",
    "$(rm -rf ~)",
    "\\'\\",
    "ünïcödé ✓",
    "-e",
    "x=$'y'",
  ])("round-trips %j", (word) => {
    const quoted = shellQuote(word);
    expect(unquote(quoted)).toBe(word);
    expect(quoted.length).toBeGreaterThan(0);
  });
});
