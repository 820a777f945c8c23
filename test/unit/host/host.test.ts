import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  gatherHost,
  isForegroundGroup,
  isJob,
  namedNpmConfigs,
  nodeBehindScript,
  npmConfigCandidates,
  npmGlobalConfigProblem,
  perFolderVariable,
  pnpmConfigHome,
  userConfigPath,
  usersNpmGlobalConfig,
  yarn1RootConfigs,
} from "../../../src/host/host.js";
import { type ProcStat, parseProcStat } from "../../../src/host/procstat.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-host-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function executable(path: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, "#!/bin/sh\n");
  chmodSync(path, 0o755);
}

describe("gatherHost: pnpm's auth.ini counts as the user's only where no run could write it", () => {
  const authAt = (home: string): string => join(home, ".config", "pnpm", "auth.ini");
  const text = "@acme:registry=https://acme.example/\n";
  it("reads the user's own, in the home", () => {
    const home = join(dir, "home");
    mkdirSync(join(home, ".config", "pnpm"), { recursive: true });
    writeFileSync(authAt(home), text);
    expect(gatherHost({ HOME: home }, dir).userPnpmAuth).toEqual({ path: authAt(home), text });
    // PNPM_CONFIG_HOME names the folder (pnpm 12.23+).
    mkdirSync(join(dir, "ci-pnpm"));
    writeFileSync(join(dir, "ci-pnpm", "auth.ini"), text);
    expect(
      gatherHost({ HOME: home, PNPM_CONFIG_HOME: join(dir, "ci-pnpm") }, dir).userPnpmAuth?.path,
    ).toBe(join(dir, "ci-pnpm", "auth.ini"));
  });
  it("not one that leads into a project, by a link or a hard link", () => {
    const home = join(dir, "home");
    const dotfiles = join(dir, "dotfiles");
    mkdirSync(join(dotfiles, "pnpm"), { recursive: true });
    writeFileSync(join(dotfiles, "package.json"), "{}");
    writeFileSync(join(dotfiles, "pnpm", "auth.ini"), text);
    mkdirSync(join(home, ".config", "pnpm"), { recursive: true });
    symlinkSync(join(dotfiles, "pnpm", "auth.ini"), authAt(home));
    expect(gatherHost({ HOME: home }, dir).userPnpmAuth).toBeNull();
    rmSync(authAt(home));
    linkSync(join(dotfiles, "pnpm", "auth.ini"), authAt(home));
    expect(gatherHost({ HOME: home }, dir).userPnpmAuth).toBeNull();
    // (control) a copy of its own is the user's.
    rmSync(authAt(home));
    writeFileSync(authAt(home), text);
    expect(gatherHost({ HOME: home }, dir).userPnpmAuth?.text).toBe(text);
  });
});

describe("gatherHost", () => {
  it("never takes bwrap from a node_modules/.bin on PATH (a bare `npm run` puts it first)", () => {
    const planted = join(dir, "app", "node_modules", ".bin", "bwrap");
    const real = join(dir, "usr", "bin", "bwrap");
    executable(planted);
    executable(real);
    const PATH = `${join(dir, "app", "node_modules", ".bin")}:${join(dir, "usr", "bin")}`;
    expect(gatherHost({ PATH, HOME: dir }, dir).bwrap).toBe(real);
    // (control) the same lookup without the rule would find the planted one first.
    expect(
      gatherHost({ PATH: `${join(dir, "app", "node_modules", ".bin")}`, HOME: dir }, dir).bwrap,
    ).toBeNull();
  });
});

describe("/proc/self/stat", () => {
  // pid (comm) state ppid pgrp session tty_nr tpgid … (22 fields in all, starttime last)
  const stat = (pgrp: number, session: number, tpgid: number): ProcStat | null =>
    parseProcStat(
      `123 (node (x) y) S 1 ${pgrp} ${session} 34816 ${tpgid} 4194304 0 0 0 0 0 0 0 0 20 0 1 0 9000`,
    );

  it("tells whether this process's group holds the terminal", () => {
    expect(isForegroundGroup(stat(50, 40, 50))).toBe(true);
    expect(isForegroundGroup(stat(50, 40, 60))).toBe(false);
    expect(isForegroundGroup(stat(50, 40, -1))).toBe(false);
    expect(isForegroundGroup(null)).toBe(false);
  });

  it("tells a job of a job-control shell from a group that is the session leader's", () => {
    expect(isJob(stat(50, 40, 50))).toBe(true);
    expect(isJob(stat(40, 40, 40))).toBe(false);
    expect(isJob(null)).toBe(false);
  });
});

describe("userConfigPath: npm's user config", () => {
  it.each([
    [{}, "/home/a/.npmrc"],
    [{ NPM_CONFIG_USERCONFIG: "/runner/temp/.npmrc" }, "/runner/temp/.npmrc"],
    [{ npm_config_userconfig: "~/alt/npmrc" }, "/home/a/alt/npmrc"],
    [{ npm_config_userconfig: "" }, "/home/a/.npmrc"],
    // npm replaces ${NAME} before it uses the path (@npmcli/config parseField).
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${NAME}` is npm's syntax
    [{ NPM_CONFIG_USERCONFIG: "/etc/${SUB}/npmrc", SUB: "ci" }, "/etc/ci/npmrc"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${NAME}` is npm's syntax
    [{ NPM_CONFIG_USERCONFIG: "/etc/${UNSET}/npmrc" }, "/etc/${UNSET}/npmrc"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${NAME}` is npm's syntax
    [{ NPM_CONFIG_USERCONFIG: "/etc/\\${SUB}/npmrc", SUB: "ci" }, "/etc/${SUB}/npmrc"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${NAME}` is npm's syntax
    [{ NPM_CONFIG_USERCONFIG: "${D}/npmrc", D: "~/ci" }, "/home/a/ci/npmrc"],
  ])("%j → %s", (env, path) => {
    expect(userConfigPath(env, "/home/a")).toBe(path);
  });
});

describe("pnpmConfigHome: pnpm's global config folder", () => {
  it.each<[string, Record<string, string>, boolean, string]>([
    [
      "PNPM_CONFIG_HOME first (pnpm 12.23+)",
      { PNPM_CONFIG_HOME: "/ci/pnpm", XDG_CONFIG_HOME: "/x" },
      false,
      "/ci/pnpm",
    ],
    ["not for pnpm 10", { PNPM_CONFIG_HOME: "/ci/pnpm", XDG_CONFIG_HOME: "/x" }, true, "/x/pnpm"],
    ["an empty one is unset", { PNPM_CONFIG_HOME: "", XDG_CONFIG_HOME: "/x" }, false, "/x/pnpm"],
    ["then XDG_CONFIG_HOME", { XDG_CONFIG_HOME: "/x" }, false, "/x/pnpm"],
    ["then ~/.config", { XDG_CONFIG_HOME: "rel" }, false, "/home/a/.config/pnpm"],
  ])("%s", (_n, env, legacy, expected) => {
    expect(pnpmConfigHome(env, "/home/a", legacy)).toBe(expected);
  });
});

describe("yarn1RootConfigs: yarn 1's user config as root", () => {
  it("reads .npmrc and hides .yarnrc whole, only for uid 0", () => {
    writeFileSync(join(dir, ".npmrc"), "//r.test/:_authToken=t\nregistry=http://r.test/\n");
    writeFileSync(join(dir, ".yarnrc"), '"//r.test/:_authToken" t\n');
    expect(yarn1RootConfigs(0, dir)).toEqual([
      {
        what: "yarn1-root",
        paths: [join(dir, ".npmrc")],
        text: "//r.test/:_authToken=t\nregistry=http://r.test/\n",
      },
      { what: "yarn1-root", paths: [join(dir, ".yarnrc")], text: null },
    ]);
    expect(yarn1RootConfigs(1000, dir)).toEqual([]);
  });
  it("covers the name a link leads to; nothing for a missing file or a folder", () => {
    const real = join(dir, "elsewhere-npmrc");
    writeFileSync(real, "fund=false\n");
    symlinkSync(real, join(dir, ".npmrc"));
    mkdirSync(join(dir, ".yarnrc"));
    expect(yarn1RootConfigs(0, dir)).toEqual([
      { what: "yarn1-root", paths: [join(dir, ".npmrc"), real], text: "fund=false\n" },
    ]);
    expect(yarn1RootConfigs(0, join(dir, "missing"))).toEqual([]);
  });
});

describe("namedNpmConfigs: the npm config files the environment names", () => {
  it("reads the user and global config any spelling names, under their written and real names", () => {
    const real = join(dir, "real-npmrc");
    writeFileSync(real, "//r.test/:_authToken=t\n");
    symlinkSync(real, join(dir, "link-npmrc"));
    writeFileSync(join(dir, "global"), "fund=false\n");
    const configs = namedNpmConfigs(
      {
        npm_config_userconfig: join(dir, "link-npmrc"),
        NPM_CONFIG_GLOBALCONFIG: join(dir, "global"),
      },
      "/home/a",
    );
    expect(configs).toEqual([
      { what: "user", paths: [join(dir, "link-npmrc"), real], text: "//r.test/:_authToken=t\n" },
      { what: "global", paths: [join(dir, "global")], text: "fund=false\n" },
    ]);
  });
  it.each<[string, Record<string, string>, string, string]>([
    [
      "NPM_CONFIG_GLOBALCONFIG first",
      { NPM_CONFIG_GLOBALCONFIG: "/g/env", NPM_CONFIG_PREFIX: "/p" },
      "globalconfig=/g/user\n",
      "/g/env",
    ],
    [
      "then globalconfig= in the user config",
      { NPM_CONFIG_PREFIX: "/p/env" },
      "globalconfig=/g/user\nprefix=/p/user\n",
      "/g/user",
    ],
    [
      "then NPM_CONFIG_PREFIX",
      { NPM_CONFIG_PREFIX: "/p/env", PREFIX: "/p/dollar" },
      "prefix=/p/user\n",
      "/p/env/etc/npmrc",
    ],
    [
      "then prefix= in the user config",
      { PREFIX: "/p/dollar" },
      "prefix=~/pfx\n",
      "/home/a/pfx/etc/npmrc",
    ],
    ["then $PREFIX", { PREFIX: "/p/dollar", DESTDIR: "/stage" }, "", "/p/dollar/etc/npmrc"],
    ["then $DESTDIR with node's prefix", { DESTDIR: "/stage" }, "", "/stage/usr/etc/npmrc"],
  ])("finds npm's global config as npm does: %s", (_n, env, user, path) => {
    expect(npmConfigCandidates(env, "/home/a", user, "/usr").map((c) => c.path)).toEqual([path]);
  });
  // biome-ignore format: a table
  it.each<[string, Record<string, string>, string, string | null]>([
    ["a value trimmed", { NPM_CONFIG_PREFIX: "/p/env " }, "", "/p/env/etc/npmrc"],
    ["a quoted value in the user config trimmed", {}, 'prefix=" /p/user"\n', "/p/user/etc/npmrc"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: npm's syntax
    ["${NAME} in $PREFIX", { PREFIX: "${P}", P: "/p/var" }, "", "/p/var/etc/npmrc"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: npm's syntax
    ["${NAME} in a key of the user config", { K: "prefix" }, "${K}=/p/key\n", "/p/key/etc/npmrc"],
    ["an empty prefix= (npm's working folder)", {}, "prefix=\n", null],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: npm's syntax
    ["an optional variable that is unset", {}, "prefix=${UNSET?}\n", null],
    ["a relative prefix=", {}, "prefix=.npm-global\n", null],
    ["a relative $PREFIX", { PREFIX: ".npm-global" }, "", null],
    ["a relative $DESTDIR", { DESTDIR: "build" }, "", null],
  ])("reads values as npm's parseField does: %s", (_n, env, user, path) => {
    expect(npmConfigCandidates(env, "/home/a", user, "/usr").map((c) => c.path)).toEqual([path]);
  });
  it("ranks the project's .npmrc between the environment and the user config, as npm does", () => {
    const project = "globalconfig=/g/project\nuserconfig=/u/project\n";
    const user = "globalconfig=/g/user\n";
    const found = (env: Record<string, string>) =>
      npmConfigCandidates(env, "/home/a", user, "/usr", project).map((c) => [c.what, c.path]);
    expect(found({})).toEqual([
      ["user", "/u/project"],
      ["global", "/g/project"],
    ]);
    expect(found({ NPM_CONFIG_GLOBALCONFIG: "/g/env", NPM_CONFIG_USERCONFIG: "/u/env" })).toEqual([
      ["user", "/u/env"],
      ["global", "/g/env"],
    ]);
    expect(
      npmConfigCandidates({}, "/home/a", user, "/usr", "prefix=/p/project\n").map((c) => c.path),
    ).toEqual(["/g/user"]);
    expect(
      npmConfigCandidates({}, "/home/a", "prefix=/p/user\n", "/usr", "prefix=/p/project\n").map(
        (c) => c.path,
      ),
    ).toEqual(["/p/project/etc/npmrc"]);
  });
  it("takes the global config from the user config the project's .npmrc names, not ~/.npmrc", () => {
    const work = join(dir, "npmrc-work");
    writeFileSync(work, "globalconfig=/etc/work-npmrc\n");
    const candidates = npmConfigCandidates(
      {},
      "/home/a",
      "globalconfig=/etc/home-npmrc\n",
      "/usr",
      `userconfig=${work}\n`,
    );
    expect(candidates.map((c) => [c.what, c.path])).toEqual([
      ["user", work],
      ["global", "/etc/work-npmrc"],
    ]);
    // NPM_CONFIG_USERCONFIG ranks above the project's: the user config given is that one.
    const env = { NPM_CONFIG_USERCONFIG: "/home/a/.npmrc" };
    const fromEnv = npmConfigCandidates(
      env,
      "/home/a",
      "globalconfig=/etc/home-npmrc\n",
      "/usr",
      `userconfig=${work}\n`,
    );
    expect(fromEnv.find((c) => c.what === "global")?.path).toBe("/etc/home-npmrc");
  });
  it.each([
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    ["${PWD}/g.npmrc", "PWD"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    ["/x/${INIT_CWD?}/g", "INIT_CWD"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    ["${OLDPWD}", "OLDPWD"],
  ])("a path built on the folder npm runs in (%s) has no single file: path null", (value, name) => {
    expect(perFolderVariable(value)).toBe(name);
    const env = { PWD: "/p", OLDPWD: "/p", INIT_CWD: "/p" };
    const [candidate] = npmConfigCandidates(env, "/home/a", `globalconfig=${value}\n`, "/usr");
    expect(candidate?.path).toBeNull();
  });
  it("perFolderVariable: other variables and escaped ones are not", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    expect(perFolderVariable("${HOME}/x ${PWDX} $PWD")).toBeNull();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    expect(perFolderVariable("\\${PWD}/x")).toBeNull();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    expect(perFolderVariable("\\\\${PWD}/x")).toBe("PWD");
  });
  it("names none when nothing moves npm's global config from node's prefix", () => {
    expect(npmConfigCandidates({}, "/home/a", "registry=https://r.test/\n", "/usr")).toEqual([]);
  });
  it("never reads one in the project, nor follows its links: hidden whole (text null)", () => {
    const project = join(dir, "project");
    mkdirSync(join(project, "p", "etc"), { recursive: true });
    writeFileSync(join(dir, "secret"), "//r.test/:_authToken=outside\n");
    symlinkSync(join(dir, "secret"), join(project, "p", "etc", "npmrc"));
    const env = { NPM_CONFIG_PREFIX: join(project, "p") };
    // A link there is not a file of its own: nothing to hide, nothing read through it.
    expect(namedNpmConfigs(env, "/home/a", null, project)).toEqual([]);
    rmSync(join(project, "p", "etc", "npmrc"));
    writeFileSync(join(project, "p", "etc", "npmrc"), "//r.test/:_authToken=in-project\n");
    expect(namedNpmConfigs(env, "/home/a", null, project)).toEqual([
      { what: "global", paths: [join(project, "p", "etc", "npmrc")], text: null },
    ]);
  });
  it("leaves out a folder named as a config (npm reads nothing from it)", () => {
    mkdirSync(join(dir, "ssl"));
    expect(namedNpmConfigs({ NPM_CONFIG_USERCONFIG: join(dir, "ssl") }, "/home/a")).toEqual([]);
  });
  it("names nothing for the defaults or a missing file; what it cannot read, without text", () => {
    expect(namedNpmConfigs({}, "/home/a")).toEqual([]);
    expect(namedNpmConfigs({ NPM_CONFIG_USERCONFIG: join(dir, "missing") }, "/home/a")).toEqual([]);
    // A FIFO is never opened for reading (it would hang); it is hidden whole (policy.ts).
    execFileSync("mkfifo", [join(dir, "fifo")]);
    writeFileSync(join(dir, "huge"), Buffer.alloc((1 << 20) + 1, 0x61));
    expect(
      namedNpmConfigs(
        { NPM_CONFIG_USERCONFIG: join(dir, "huge"), NPM_CONFIG_GLOBALCONFIG: join(dir, "fifo") },
        "/home/a",
      ),
    ).toEqual([
      { what: "user", paths: [join(dir, "huge")], text: null },
      { what: "global", paths: [join(dir, "fifo")], text: null },
    ]);
  });
});

describe("nodeBehindScript: the binary behind a `node` wrapper script on PATH", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "safe-npm-node-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const tool = (file: string) => ({ bin: file, real: file, prefix: dir });

  it("brings the running node in when node on PATH is a script (yarn's /tmp/yarn--…/node)", () => {
    const wrapper = join(dir, "node");
    writeFileSync(wrapper, '#!/bin/sh\nexec "/opt/node/bin/node" "$@"\n');
    chmodSync(wrapper, 0o755);
    mkdirSync(join(dir, "opt", "bin"), { recursive: true });
    const binary = join(dir, "opt", "bin", "node");
    writeFileSync(binary, "\x7fELF");
    expect(nodeBehindScript(tool(wrapper), binary)).toEqual({
      bin: binary,
      real: binary,
      prefix: join(dir, "opt"),
    });
  });

  it("adds nothing when node on PATH is the binary itself, or unreadable", () => {
    const binary = join(dir, "node");
    writeFileSync(binary, "\x7fELF");
    expect(nodeBehindScript(tool(binary), "/usr/bin/node")).toBeNull();
    expect(nodeBehindScript(tool(join(dir, "missing")), "/usr/bin/node")).toBeNull();
  });

  it("adds nothing when the script is the running node's own path", () => {
    const script = join(dir, "node");
    writeFileSync(script, "#!/bin/sh\n");
    expect(nodeBehindScript(tool(script), script)).toBeNull();
  });
});

describe("usersNpmGlobalConfig: npm's global config counts as the user's only where safe", () => {
  const me = process.getuid?.() ?? 0;
  const host = { home: "/nonexistent-home", env: {} };
  /** `<base>/prefix/etc/npmrc`, every folder 0755. */
  const config = (base: string): { path: string; text: string } => {
    const etc = join(base, "prefix", "etc");
    mkdirSync(etc, { recursive: true, mode: 0o755 });
    const path = join(etc, "npmrc");
    writeFileSync(path, "registry=https://r.example/\n", { mode: 0o644 });
    return { path, text: "registry=https://r.example/\n" };
  };
  const project = (): string => {
    const p = join(dir, "project");
    mkdirSync(p, { recursive: true });
    return p;
  };

  it("takes a config in folders of the user's own, below a sticky /tmp", () => {
    chmodSync(dir, 0o755);
    const c = config(dir);
    expect(usersNpmGlobalConfig(c, project(), host, me)).toBe(c);
    expect(usersNpmGlobalConfig(null, project(), host, me)).toBeNull();
  });

  it("refuses one in a folder anyone may write (a yarn wrapper's /tmp/etc/npmrc)", () => {
    chmodSync(dir, 0o755);
    const c = config(dir);
    chmodSync(join(dir, "prefix", "etc"), 0o777);
    expect(usersNpmGlobalConfig(c, project(), host, me)).toBeNull();
    // Sticky, as /tmp is: others cannot replace what is ours in it.
    chmodSync(join(dir, "prefix", "etc"), 0o1777);
    expect(usersNpmGlobalConfig(c, project(), host, me)).toBe(c);
    // Group-writable (umask 002 homes, dev containers' nvm group): the user's own still.
    chmodSync(join(dir, "prefix", "etc"), 0o775);
    expect(usersNpmGlobalConfig(c, project(), host, me)).toBe(c);
  });

  it("refuses one another user owns", () => {
    chmodSync(dir, 0o755);
    const c = config(dir);
    if (me === 0) {
      chownSync(c.path, 65534, 65534);
      expect(usersNpmGlobalConfig(c, project(), host, 0)).toBeNull();
    } else {
      // The same files, judged for another user: ours are then someone else's.
      expect(usersNpmGlobalConfig(c, project(), host, me + 1)).toBeNull();
    }
  });

  it("refuses one in the project, by its real path, and one below any package.json", () => {
    chmodSync(dir, 0o755);
    const root = project();
    const inside = config(root);
    expect(usersNpmGlobalConfig(inside, root, host, me)).toBeNull();
    // A link from outside into the project.
    const outside = join(dir, "other", "etc");
    mkdirSync(outside, { recursive: true });
    symlinkSync(inside.path, join(outside, "npmrc"));
    expect(
      usersNpmGlobalConfig({ ...inside, path: join(outside, "npmrc") }, root, host, me),
    ).toBeNull();
    // Another project's; and a link or a hard link to a file in one.
    const elsewhere = join(dir, "app");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "package.json"), "{}");
    const theirs = config(elsewhere);
    expect(npmGlobalConfigProblem(theirs, root, host, me)).toMatch(/lies in a project/);
    const prefix = join(dir, "nvm", "etc");
    mkdirSync(prefix, { recursive: true });
    symlinkSync(theirs.path, join(prefix, "npmrc"));
    expect(
      npmGlobalConfigProblem({ ...theirs, path: join(prefix, "npmrc") }, root, host, me),
    ).toMatch(/lies in a project/);
    const hard = join(dir, "tarball", "etc");
    mkdirSync(hard, { recursive: true });
    linkSync(theirs.path, join(hard, "npmrc"));
    expect(npmGlobalConfigProblem({ ...theirs, path: join(hard, "npmrc") }, root, host, me)).toBe(
      "it has other names (hard links)",
    );
  });
});
