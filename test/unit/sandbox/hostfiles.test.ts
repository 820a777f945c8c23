import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SafeNpmError } from "../../../src/errors.js";
import {
  configHomeGuard,
  configHomeInProject,
  guardProject,
  homeConfigGuard,
  namedRunFiles,
} from "../../../src/sandbox/hostfiles.js";
import { nodeOptionWords } from "../../../src/sandbox/nodeoptions.js";

let dir: string;
let root: string;
let home: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "safe-npm-hostfiles-")));
  root = join(dir, "project");
  home = join(dir, "home");
  mkdirSync(root, { recursive: true });
  mkdirSync(home, { recursive: true });
  writeFileSync(join(root, "package.json"), "{}");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(fn: () => unknown): SafeNpmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SafeNpmError);
    return error as SafeNpmError;
  }
  throw new Error("did not throw");
}

describe("XDG_CONFIG_HOME in the project stays read-only inside", () => {
  it("finds it in the project as written, through a link to the project, or not at all", () => {
    expect(configHomeInProject(root, join(root, ".config"))).toBe(join(root, ".config"));
    expect(configHomeInProject(root, join(root, "a", "b", ".config"))).toBe(
      join(root, "a", "b", ".config"),
    );
    // The project named through a link from outside it.
    symlinkSync(root, join(dir, "via"));
    expect(configHomeInProject(root, join(dir, "via", ".config"))).toBe(join(root, ".config"));
    // A link in the project stays in the spelling: it is the project's to re-point.
    mkdirSync(join(dir, "elsewhere"));
    symlinkSync(join(dir, "elsewhere"), join(root, "cfg-link"));
    expect(configHomeInProject(root, join(root, "cfg-link", "x"))).toBe(
      join(root, "cfg-link", "x"),
    );
    expect(configHomeInProject(root, join(home, ".config"))).toBeNull();
    expect(configHomeInProject(root, join(dir, "elsewhere"))).toBeNull();
    expect(configHomeInProject(root, undefined)).toBeNull();
    expect(configHomeInProject(root, "relative/.config")).toBeNull();
  });

  it("protects it when it exists, seals it when missing, and refuses a link or the root", () => {
    const config = join(root, ".config");
    expect(configHomeGuard(root, { XDG_CONFIG_HOME: config }, home)).toEqual({
      protect: [],
      sealDirs: [config],
      hidden: [],
    });
    // Existing, it is hidden too: it holds tokens (pnpm's auth.ini, gh's hosts.yml).
    mkdirSync(join(config, "git"), { recursive: true });
    expect(configHomeGuard(root, { XDG_CONFIG_HOME: config }, home)).toEqual({
      protect: [],
      sealDirs: [config],
      hidden: [{ path: config, variable: "XDG_CONFIG_HOME" }],
    });
    expect(configHomeGuard(root, { XDG_CONFIG_HOME: join(home, ".config") }, home)).toEqual({
      protect: [],
      sealDirs: [],
      hidden: [],
    });
    expect(configHomeGuard(root, {}, home)).toEqual({ protect: [], sealDirs: [], hidden: [] });
    // A link planted in the project would have the mount follow it.
    mkdirSync(join(dir, "elsewhere"));
    symlinkSync(join(dir, "elsewhere"), join(root, "cfg-link"));
    const link = errorOf(() =>
      configHomeGuard(root, { XDG_CONFIG_HOME: join(root, "cfg-link") }, home),
    );
    expect(link.code).toBe("UNSAFE_PATH");
    expect(link.message).toContain("XDG_CONFIG_HOME");
    writeFileSync(join(root, "file"), "");
    expect(
      errorOf(() => configHomeGuard(root, { XDG_CONFIG_HOME: join(root, "file") }, home)).message,
    ).toContain("is not a directory");
    const whole = errorOf(() => configHomeGuard(root, { XDG_CONFIG_HOME: root }, home));
    expect(whole.code).toBe("UNSAFE_CONFIG_DIR");
    expect(whole.hint).toContain("XDG_CONFIG_HOME");
  });

  it("counts the default ~/.config when it is a link into the project (a dotfiles repository)", () => {
    mkdirSync(join(root, "config", "git"), { recursive: true });
    expect(configHomeGuard(root, {}, home)).toEqual({ protect: [], sealDirs: [], hidden: [] });
    symlinkSync(join(root, "config"), join(home, ".config"));
    expect(configHomeGuard(root, {}, home)).toEqual({
      protect: [],
      sealDirs: [join(root, "config")],
      hidden: [{ path: join(root, "config"), variable: "XDG_CONFIG_HOME" }],
    });
  });

  it("does the same for PNPM_CONFIG_HOME (pnpm's config.yaml and auth.ini), and refuses a relative one", () => {
    const pnpmHome = join(root, "ci", "pnpm-config");
    expect(configHomeGuard(root, { PNPM_CONFIG_HOME: pnpmHome }, home)).toEqual({
      protect: [],
      sealDirs: [pnpmHome],
      hidden: [],
    });
    mkdirSync(pnpmHome, { recursive: true });
    expect(configHomeGuard(root, { PNPM_CONFIG_HOME: pnpmHome }, home)).toEqual({
      protect: [],
      sealDirs: [pnpmHome],
      hidden: [{ path: pnpmHome, variable: "PNPM_CONFIG_HOME" }],
    });
    // Outside the project, nothing to guard; empty means unset (pnpm ignores it).
    expect(configHomeGuard(root, { PNPM_CONFIG_HOME: join(home, "pnpm-config") }, home)).toEqual({
      protect: [],
      sealDirs: [],
      hidden: [],
    });
    expect(configHomeGuard(root, { PNPM_CONFIG_HOME: "" }, home)).toEqual({
      protect: [],
      sealDirs: [],
      hidden: [],
    });
    const relative = errorOf(() => configHomeGuard(root, { PNPM_CONFIG_HOME: "cfg" }, home));
    expect(relative.code).toBe("RELATIVE_CONFIG_PATH");
    expect(relative.message).toContain("PNPM_CONFIG_HOME");
    const whole = errorOf(() => configHomeGuard(root, { PNPM_CONFIG_HOME: root }, home));
    expect(whole.code).toBe("UNSAFE_CONFIG_DIR");
    expect(whole.hint).toContain("PNPM_CONFIG_HOME");
  });

  it("keeps one stand-in where one config folder lies in the other", () => {
    const xdg = join(root, ".config");
    mkdirSync(join(xdg, "pnpm"), { recursive: true });
    const inner = { XDG_CONFIG_HOME: xdg, PNPM_CONFIG_HOME: join(xdg, "pnpm") };
    expect(configHomeGuard(root, inner, home)).toEqual({
      protect: [],
      sealDirs: [xdg],
      hidden: [{ path: xdg, variable: "XDG_CONFIG_HOME" }],
    });
    const outer = {
      XDG_CONFIG_HOME: join(root, "ci", "config"),
      PNPM_CONFIG_HOME: join(root, "ci"),
    };
    expect(configHomeGuard(root, outer, home)).toEqual({
      protect: [],
      sealDirs: [join(root, "ci")],
      hidden: [],
    });
  });

  it("is part of every run's guards, beside .git and the package-manager config", () => {
    mkdirSync(join(root, ".config"));
    const guards = guardProject(
      root,
      { home, env: { XDG_CONFIG_HOME: join(root, ".config") } },
      [],
      "",
    );
    // Hidden under an empty read-only directory, and checked after the run.
    expect(guards.protect).not.toContain(join(root, ".config"));
    expect(guards.sealDirs).toContain(join(root, ".config"));
    expect(guards.watch).toContainEqual({
      kind: "readonly",
      path: join(root, ".config"),
      always: true,
    });
    const sealed = guardProject(
      root,
      { home, env: { XDG_CONFIG_HOME: join(root, ".cfg") } },
      [],
      "",
    );
    expect(sealed.sealDirs).toContain(join(root, ".cfg"));
    expect(sealed.sealDirs).toContain(join(root, ".yarn", "releases"));
  });
});

describe("npm's user config in the project (NPM_CONFIG_USERCONFIG)", () => {
  const guards = () =>
    guardProject(root, { home, env: { NPM_CONFIG_USERCONFIG: join(root, ".npmrc-ci") } }, [], "");

  it("is bound over when it exists, watched when missing", () => {
    expect(guards().watch).toContainEqual({ kind: "pmconfig", path: join(root, ".npmrc-ci") });
    writeFileSync(join(root, ".npmrc-ci"), "//r.example/:_authToken=t\n");
    expect(guards().userNpmrcInProject).toBe(join(root, ".npmrc-ci"));
  });

  it("is found where npm finds it when the value names a variable", () => {
    writeFileSync(join(root, ".npmrc-ci"), "//r.example/:_authToken=t\n");
    const env = { NPM_CONFIG_USERCONFIG: `${root}/\${N}`, N: ".npmrc-ci" };
    expect(guardProject(root, { home, env }, [], "").userNpmrcInProject).toBe(
      join(root, ".npmrc-ci"),
    );
    const global = { NPM_CONFIG_GLOBALCONFIG: `${root}/\${N}`, N: ".npmrc-ci" };
    expect(guardProject(root, { home, env: global }, [], "").npmGlobalInProject).toBe(
      join(root, ".npmrc-ci"),
    );
    // Relative once replaced: a different file in every folder.
    const relative = { NPM_CONFIG_USERCONFIG: `\${N}`, N: ".npmrc-ci" };
    expect(errorOf(() => guardProject(root, { home, env: relative }, [], "")).code).toBe(
      "RELATIVE_CONFIG_PATH",
    );
  });

  it.each(["NPM_CONFIG_USERCONFIG", "npm_config_globalconfig", "NPM_CONFIG_PREFIX"])(
    "refuses %s written on $PWD in braces: npm replaces it with the folder it runs in",
    (name) => {
      const env = { [name]: `\${PWD}/.npmrc-ci`, PWD: root };
      const error = errorOf(() => guardProject(root, { home, env }, [], ""));
      expect(error.code).toBe("RELATIVE_CONFIG_PATH");
      expect(error.message).toContain(`\${PWD}`);
    },
  );

  it("refuses globalconfig= on $PWD in braces in the project's .npmrc or the user config", () => {
    writeFileSync(join(root, ".npmrc"), `globalconfig=\${PWD}/g.npmrc\n`);
    const project = errorOf(() => guardProject(root, { home, env: { PWD: root } }, [], ""));
    expect(project.code).toBe("RELATIVE_CONFIG_PATH");
    expect(project.message).toContain("the folder npm runs in");
    rmSync(join(root, ".npmrc"));
    const userNpmrc = `prefix=\${INIT_CWD}/pfx\n`;
    const user = errorOf(() => guardProject(root, { home, env: {}, userNpmrc }, [], ""));
    expect(user.code).toBe("RELATIVE_CONFIG_PATH");
  });

  it.each([
    ["prefix= in the user config", (p: string) => ({ userNpmrc: `prefix=${p}\n`, env: {} })],
    [
      "globalconfig= in the user config",
      (p: string) => ({ userNpmrc: `globalconfig=${p}/etc/npmrc\n`, env: {} }),
    ],
    ["$PREFIX", (p: string) => ({ userNpmrc: null, env: { PREFIX: p } })],
  ])("guards npm's global config that %s puts in the project", (_how, setup) => {
    const prefix = join(root, ".npm-global");
    const config = join(prefix, "etc", "npmrc");
    const { userNpmrc, env } = setup(prefix);
    const missing = guardProject(root, { home, env, userNpmrc }, [], "");
    expect(missing.watch).toContainEqual({ kind: "pmconfig", path: config });
    mkdirSync(join(prefix, "etc"), { recursive: true });
    writeFileSync(config, "script-shell=/bin/false\n");
    expect(guardProject(root, { home, env, userNpmrc }, [], "").protect).toContain(config);
  });

  it.each<[string, string | null, Record<string, string>]>([
    ["prefix= in the user config", "prefix=.npm-global\n", {}],
    ["globalconfig= in the user config", "globalconfig=\n", {}],
    ["PREFIX", null, { PREFIX: "tools" }],
    ["DESTDIR", null, { DESTDIR: "build" }],
  ])(
    "refuses a relative global config from %s: npm reads one per folder",
    (source, userNpmrc, env) => {
      const error = errorOf(() => guardProject(root, { home, env, userNpmrc }, [], "", "/usr"));
      expect(error.code).toBe("RELATIVE_CONFIG_PATH");
      expect(error.message).toContain(source);
    },
  );

  it("guards the configs the project's own .npmrc moves into the project, and refuses a relative one", () => {
    const g = join(root, ".cfg", "global-npmrc");
    const u = join(root, "u-npmrc");
    writeFileSync(join(root, ".npmrc"), `globalconfig=${g}\nuserconfig=${u}\n`);
    const guards = guardProject(root, { home, env: {} }, [], "");
    expect(guards.watch).toContainEqual({ kind: "pmconfig", path: g });
    expect(guards.watch).toContainEqual({ kind: "pmconfig", path: u });
    writeFileSync(join(root, ".npmrc"), "prefix=./pfx\n");
    const error = errorOf(() => guardProject(root, { home, env: {} }, [], ""));
    expect(error.code).toBe("RELATIVE_CONFIG_PATH");
    expect(error.message).toContain("prefix= in the project's .npmrc");
  });

  it("guards the global config $DESTDIR puts in the project, joined with node's prefix", () => {
    const config = join(root, "stage", "usr", "etc", "npmrc");
    const guards = guardProject(
      root,
      { home, env: { DESTDIR: join(root, "stage") } },
      [],
      "",
      "/usr",
    );
    expect(guards.watch).toContainEqual({ kind: "pmconfig", path: config });
  });

  it("is refused with another name (a hard link): that name would show the token", () => {
    writeFileSync(join(root, ".npmrc-ci"), "//r.example/:_authToken=t\n");
    linkSync(join(root, ".npmrc-ci"), join(root, "copy"));
    const error = errorOf(guards);
    expect(error.code).toBe("HARD_LINKED_SECRET");
    expect(error.message).toContain(
      `npm user config (NPM_CONFIG_USERCONFIG) ${join(root, ".npmrc-ci")} has 2 names`,
    );
    expect(error.hint).toContain("-samefile");
  });
});

describe("config files that variables put in the project", () => {
  const guard = (env: Record<string, string>): ReturnType<typeof guardProject> =>
    guardProject(root, { home, env }, [], "");

  it("keeps an existing one read-only and watches a missing one", () => {
    mkdirSync(join(root, "ci"));
    writeFileSync(join(root, ".npmrc-global"), "");
    writeFileSync(join(root, "gitcfg"), "");
    const guards = guard({
      NPM_CONFIG_GLOBALCONFIG: join(root, ".npmrc-global"),
      GIT_CONFIG_GLOBAL: join(root, "gitcfg"),
      GIT_CONFIG_SYSTEM: join(root, "ci", "sys"),
    });
    expect(guards.protect).toContain(join(root, ".npmrc-global"));
    expect(guards.protect).toContain(join(root, "gitcfg"));
    expect(guards.watch).toContainEqual({ kind: "pmconfig", path: join(root, "ci", "sys") });
  });

  it("finds npm's global config under NPM_CONFIG_PREFIX unless globalconfig names one", () => {
    const etc = join(root, "prefix", "etc", "npmrc");
    expect(guard({ NPM_CONFIG_PREFIX: join(root, "prefix") }).watch).toContainEqual({
      kind: "pmconfig",
      path: etc,
    });
    const named = guard({
      NPM_CONFIG_PREFIX: join(root, "prefix"),
      npm_config_globalconfig: join(dir, "elsewhere"),
    });
    expect(named.watch.map((w) => w.path)).not.toContain(etc);
  });

  it("guards YARN_RC_FILENAME at the root like .yarnrc.yml, and refuses a path", () => {
    expect(guard({ YARN_RC_FILENAME: ".yarnrc-ci.yml" }).seal).toContain(
      join(root, ".yarnrc-ci.yml"),
    );
    // Watched in every sub-project too, like the usual names.
    expect(guard({ YARN_RC_FILENAME: ".yarnrc-ci.yml" }).configNames).toEqual(
      expect.arrayContaining([".yarnrc-ci.yml", ".yarnrc.yml", ".npmrc"]),
    );
    expect(guard({}).configNames).toBeUndefined();
    writeFileSync(join(root, ".yarnrc-ci.yml"), "");
    expect(guard({ YARN_RC_FILENAME: ".yarnrc-ci.yml" }).protect).toContain(
      join(root, ".yarnrc-ci.yml"),
    );
    const e = errorOf(() => guard({ YARN_RC_FILENAME: "ci/.yarnrc.yml" }));
    expect(e.code).toBe("RELATIVE_CONFIG_PATH");
    expect(e.message).toContain("YARN_RC_FILENAME=ci/.yarnrc.yml");
  });

  it.each([
    ["NPM_CONFIG_USERCONFIG", ".npmrc-ci"],
    ["npm_config_globalconfig", "ci/npmrc"],
    ["GIT_CONFIG_GLOBAL", "gitcfg"],
  ])("refuses a relative %s with a hint", (name, value) => {
    const e = errorOf(() => guard({ [name]: value }));
    expect(e.code).toBe("RELATIVE_CONFIG_PATH");
    expect(e.message).toContain(value);
    expect(e.hint).toContain("absolute path");
  });

  it("takes npm's spelling that npm takes: the last one set", () => {
    writeFileSync(join(root, "b"), "");
    const guards = guard({
      npm_config_userconfig: join(dir, "elsewhere"),
      NPM_CONFIG_USERCONFIG: join(root, "b"),
    });
    expect(guards.userNpmrcInProject).toBe(join(root, "b"));
  });
});

describe("the user's config linked into the project (a dotfiles repository)", () => {
  it("keeps a linked file or directory read-only and watches a dangling link's target", () => {
    writeFileSync(join(root, "gitconfig"), "");
    symlinkSync(join(root, "gitconfig"), join(home, ".gitconfig"));
    mkdirSync(join(root, "git"));
    mkdirSync(join(home, ".config"));
    // GNU stow: a relative link.
    symlinkSync(join("..", "..", "project", "git"), join(home, ".config", "git"));
    symlinkSync(join(root, "yarnrc.yml"), join(home, ".yarnrc.yml"));
    const guards = homeConfigGuard(root, {}, home);
    expect(guards.protect.sort()).toEqual([join(root, "git"), join(root, "gitconfig")]);
    expect(guards.watch).toEqual([{ kind: "pmconfig", path: join(root, "yarnrc.yml") }]);
    expect(guardProject(root, { home, env: {} }, [], "").protect).toContain(
      join(root, "gitconfig"),
    );
  });

  it("counts yarn 1's ~/.yarnrc, the shells' rc files, ssh's config and files linked one by one", () => {
    for (const name of ["yarnrc", "bashrc", "zshenv", "profile", "ssh-config", "config.yaml"])
      writeFileSync(join(root, name), "");
    symlinkSync(join(root, "yarnrc"), join(home, ".yarnrc"));
    symlinkSync(join(root, "bashrc"), join(home, ".bashrc"));
    symlinkSync(join(root, "zshenv"), join(home, ".zshenv"));
    symlinkSync(join(root, "profile"), join(home, ".profile"));
    mkdirSync(join(home, ".ssh"));
    symlinkSync(join(root, "ssh-config"), join(home, ".ssh", "config"));
    // stow into a folder that exists: the folder is the user's, the file the project's.
    mkdirSync(join(home, ".config", "pnpm"), { recursive: true });
    symlinkSync(join(root, "config.yaml"), join(home, ".config", "pnpm", "config.yaml"));
    writeFileSync(join(home, ".config", "pnpm", "auth.ini"), "");
    expect(homeConfigGuard(root, {}, home).protect.sort()).toEqual(
      ["yarnrc", "bashrc", "zshenv", "profile", "ssh-config", "config.yaml"]
        .map((n) => join(root, n))
        .sort(),
    );
  });

  it("refuses config that is the project itself", () => {
    mkdirSync(join(home, ".config"));
    symlinkSync(root, join(home, ".config", "yarn"));
    const e = errorOf(() => homeConfigGuard(root, {}, home));
    expect(e.code).toBe("UNSAFE_CONFIG_DIR");
    expect(e.message).toContain(join(home, ".config", "yarn"));
  });

  it("leaves config outside the project alone", () => {
    writeFileSync(join(home, ".gitconfig"), "");
    mkdirSync(join(dir, "dotfiles"));
    symlinkSync(join(dir, "dotfiles", "bunfig.toml"), join(home, ".bunfig.toml"));
    expect(homeConfigGuard(root, {}, home)).toEqual({ protect: [], watch: [] });
  });
});

describe("files the root's config names for a bare package manager to run", () => {
  it("finds yarnPath, plugin paths, yarn-path, pnpmfile and bun's preload, in the project only", () => {
    writeFileSync(
      join(root, ".yarnrc.yml"),
      'yarnPath: "tools/yarn.cjs"\nplugins:\n  - path: tools/plugin.cjs\n    spec: x\n  - path: .yarn/plugins/p.cjs\n',
    );
    writeFileSync(join(root, ".yarnrc"), 'yarn-path "./bin/yarn1.js"\n');
    writeFileSync(join(root, ".npmrc"), "pnpmfile=hooks/pnpmfile.cjs\n");
    writeFileSync(join(root, "pnpm-workspace.yaml"), "pnpmfile: 'hooks/ws.mjs'\n");
    writeFileSync(join(root, "bunfig.toml"), 'preload = ["./setup.ts", "/etc/elsewhere.ts"]\n');
    expect(namedRunFiles(root).sort()).toEqual(
      [
        join(root, "tools", "yarn.cjs"),
        join(root, "tools", "plugin.cjs"),
        join(root, "bin", "yarn1.js"),
        join(root, "hooks", "pnpmfile.cjs"),
        join(root, "hooks", "ws.mjs"),
        join(root, "setup.ts"),
      ].sort(),
    );
  });

  it("finds the spellings and keys a manager also obeys", () => {
    writeFileSync(
      join(root, ".yarnrc.yml"),
      '"yarnPath": tools/y.cjs\r\ninjectEnvironmentFiles:\n  - .env.ci?\n  - "conf/.env"\n',
    );
    writeFileSync(
      join(root, ".npmrc"),
      `global-pnpmfile=hooks/g.cjs\n"pnpmfile"=hooks/q.cjs\nnode-options=--require ${root}/tools/setup.cjs --import=${root}/tools/esm.mjs --require dotenv/config\ninit-module=${root}/tools/init.js\nscript-shell=/bin/bash\n`,
    );
    writeFileSync(join(root, "pnpm-workspace.yaml"), "globalPnpmfile: hooks/w.cjs\n");
    writeFileSync(
      join(root, "bunfig.toml"),
      '[test]\npreload = [\n  "./test/setup.ts",\n]\n"preload" = "./q.ts"\ntest.preload = [\'./d.ts\']\n',
    );
    expect(namedRunFiles(root).sort()).toEqual(
      [
        "tools/y.cjs",
        ".env.ci",
        "conf/.env",
        "hooks/g.cjs",
        "hooks/q.cjs",
        "tools/setup.cjs",
        "tools/esm.mjs",
        "tools/init.js",
        "dotenv/config",
        "hooks/w.cjs",
        "test/setup.ts",
        "q.ts",
        "d.ts",
      ]
        .map((p) => join(root, p))
        .sort(),
    );
  });

  it("reads plugin strings, list-valued pnpmfile, quoted node-options and program keys", () => {
    writeFileSync(
      join(root, ".yarnrc.yml"),
      "plugins:\n  - ./tools/plugin.cjs\n  - path: tools/p2.cjs\n    spec: x\n",
    );
    writeFileSync(
      join(root, "pnpm-workspace.yaml"),
      "pnpmfile:\n  - tools/hooks.cjs\n  - 'tools/h2.cjs'\n",
    );
    writeFileSync(
      join(root, ".npmrc"),
      `node-options="--require ${root}/tools/setup.cjs"\ngit=${root}/tools/git\nshell=bash\nnode-gyp=${root}/tools/gyp.js\n`,
    );
    writeFileSync(join(root, ".yarnrc"), `script-shell "${root}/tools/ysh"\n`);
    writeFileSync(
      join(root, "bunfig.toml"),
      '[serve.static]\nplugins = ["./tools/bunplugin.ts"]\n',
    );
    expect(namedRunFiles(root).sort()).toEqual(
      [
        "tools/plugin.cjs",
        "tools/p2.cjs",
        "tools/hooks.cjs",
        "tools/h2.cjs",
        "tools/setup.cjs",
        "tools/git",
        "tools/gyp.js",
        "tools/ysh",
        "tools/bunplugin.ts",
      ]
        .map((p) => join(root, p))
        .sort(),
    );
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
  it("expands ${VAR} from the host's environment", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    writeFileSync(join(root, ".npmrc"), "script-shell=${TOOLS}/sh\n");
    expect(namedRunFiles(root, { TOOLS: join(root, "tools") })).toEqual([
      join(root, "tools", "sh"),
    ]);
    expect(namedRunFiles(root, {})).toEqual([]);
  });

  it("takes the same settings from the environment, in any spelling npm and pnpm read", () => {
    const env = {
      npm_config_script_shell: join(root, "tools", "sh"),
      "NPM_CONFIG_NODE-OPTIONS": `--require ${join(root, "setup.cjs")}`,
      pnpm_config_global_pnpmfile: join(root, "hooks.cjs"),
      npm_config_git: "git",
      npm_config_registry: join(root, "not-a-program"),
    };
    expect(namedRunFiles(root, env).sort()).toEqual(
      [join(root, "tools", "sh"), join(root, "setup.cjs"), join(root, "hooks.cjs")].sort(),
    );
    const folder = errorOf(() =>
      namedRunFiles(root, { npm_config_script_shell: `\${PWD}/sh`, PWD: root }),
    );
    expect(folder.message).toContain("your environment's npm_config_script_shell");
  });

  it.each([
    ["pnpm_config_npmrc_auth_file", "pnpm's auth file"],
    ["PNPM_CONFIG_USERCONFIG", "npm's user config"],
  ])(
    "guards the file %s keeps in the project: read-only, or watched; relative, refused",
    (name, what) => {
      const file = join(root, ".auth.ini");
      const env = { [name]: file };
      const missing = guardProject(root, { home, env }, [], "");
      expect(missing.watch).toContainEqual({ kind: "pmconfig", path: file });
      writeFileSync(file, "//r.test/:_authToken=t\n");
      expect(guardProject(root, { home, env }, [], "").protect).toContain(file);
      const relative = errorOf(() =>
        guardProject(root, { home, env: { [name]: ".auth.ini" } }, [], ""),
      );
      expect(relative.code).toBe("RELATIVE_CONFIG_PATH");
      expect(relative.message).toContain(what);
    },
  );

  it.each([
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    [".npmrc", "script-shell=${PWD}/tools/sh\n"],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    [".npmrc", 'node-options="--require ${INIT_CWD}/setup.cjs"\n'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is yarnrc syntax
    [".yarnrc.yml", "yarnPath: ${OLDPWD?}/yarn.cjs\n"],
  ])("refuses a path built on the folder a manager runs in (%s %s)", (file, text) => {
    writeFileSync(join(root, file), text);
    const error = errorOf(() => namedRunFiles(root, { PWD: root, OLDPWD: root, INIT_CWD: root }));
    expect(error.code).toBe("RELATIVE_CONFIG_PATH");
    expect(error.message).toContain(`the project's ${file}`);
    // An escaped one is no variable.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
    writeFileSync(join(root, file), "pnpmfile=\\${PWD}/hooks.cjs\n");
    expect(() => namedRunFiles(root, { PWD: root })).not.toThrow();
  });

  it("reads what NODE_OPTIONS, BUN_OPTIONS and YARN_YARN_PATH load, bun's scanner and npm's cafile", () => {
    writeFileSync(join(root, "bunfig.toml"), '[install.security]\nscanner = "./sec/scanner.ts"\n');
    writeFileSync(join(root, ".npmrc"), "cafile=certs/ca.pem\n");
    const env = {
      NODE_OPTIONS: `--require ${root}/setup.cjs --experimental-loader file://${root}/loader.mjs`,
      BUN_OPTIONS: `--preload=${root}/pre.ts`,
      YARN_YARN_PATH: `${root}/tools/yarn.cjs`,
    };
    expect(namedRunFiles(root, env).sort()).toEqual(
      ["sec/scanner.ts", "certs/ca.pem", "setup.cjs", "loader.mjs", "pre.ts", "tools/yarn.cjs"]
        .map((p) => join(root, p))
        .sort(),
    );
    for (const relative of [
      { NODE_OPTIONS: "--require ./setup.cjs" },
      { YARN_YARN_PATH: "tools/yarn.cjs" },
    ])
      expect(errorOf(() => namedRunFiles(root, relative)).code).toBe("RELATIVE_CONFIG_PATH");
  });

  it("reads option names with `_`, a block-scalar nodeOptions and bun's inline tables", () => {
    writeFileSync(
      join(root, "pnpm-workspace.yaml"),
      `nodeOptions: >-\n  --require ${root}/tools/hook.cjs\nverifyDepsBeforeRun: false\n`,
    );
    writeFileSync(join(root, "bunfig.toml"), '[install]\nsecurity = { scanner = "./sec.ts" }\n');
    const env = { NODE_OPTIONS: `--experimental_loader ${root}/loader.mjs` };
    expect(namedRunFiles(root, env).sort()).toEqual(
      ["tools/hook.cjs", "sec.ts", "loader.mjs"].map((p) => join(root, p)).sort(),
    );
  });

  it("reads pnpm-workspace.yaml's scriptShell and nodeOptions, and lines a lone CR ends", () => {
    writeFileSync(
      join(root, "pnpm-workspace.yaml"),
      `scriptShell: ${root}/tools/sh\nnodeOptions: "--require ${root}/tools/hook.js --openssl-config=${root}/ssl.cnf"\n`,
    );
    writeFileSync(join(root, ".npmrc"), `registry=https://r.example/\rgit=${root}/tools/git\n`);
    expect(namedRunFiles(root).sort()).toEqual(
      ["tools/sh", "tools/hook.js", "ssl.cnf", "tools/git"].map((p) => join(root, p)).sort(),
    );
    writeFileSync(join(root, "pnpm-workspace.yaml"), "scriptShell: tools/sh\n");
    expect(errorOf(() => namedRunFiles(root)).code).toBe("RELATIVE_CONFIG_PATH");
  });

  it.each([
    [".npmrc", "script-shell=./tools/sh\n"],
    [".npmrc", "git=tools/git\n"],
    [".npmrc", 'node-options="--require ./setup.cjs"\n'],
    [".npmrc", "init-module=tools/init.js\n"],
    [".yarnrc", 'script-shell "tools/sh"\n'],
  ])(
    "refuses a relative program path (%s %s): npm resolves it in each package's folder",
    (file, text) => {
      writeFileSync(join(root, file), text);
      const error = errorOf(() => namedRunFiles(root));
      expect(error.code).toBe("RELATIVE_CONFIG_PATH");
      expect(error.message).toContain(`the project's ${file}`);
      expect(error.message).toContain("each workspace package's own");
    },
  );

  it("keeps an existing one read-only and watches a missing one, also after the run", () => {
    mkdirSync(join(root, "tools"));
    writeFileSync(join(root, "tools", "yarn.cjs"), "");
    writeFileSync(
      join(root, ".yarnrc.yml"),
      "yarnPath: tools/yarn.cjs\nplugins:\n  - path: tools/p.cjs\n",
    );
    const guards = guardProject(root, { home, env: {} }, [], "");
    expect(guards.protect).toContain(join(root, "tools", "yarn.cjs"));
    expect(guards.watch).toContainEqual({
      kind: "pmconfig",
      path: join(root, "tools", "yarn.cjs"),
      always: true,
    });
    expect(guards.watch).toContainEqual({
      kind: "pmconfig",
      path: join(root, "tools", "p.cjs"),
      always: true,
    });
  });
});

describe("NODE_OPTIONS as node splits it", () => {
  it("a quote anywhere toggles quoting, a backslash escapes only inside quotes, and only a space separates", () => {
    expect(nodeOptionWords('"--openssl-config=/x/a b.cnf" -r /y')).toEqual([
      "--openssl-config=/x/a b.cnf",
      "-r",
      "/y",
    ]);
    expect(nodeOptionWords("--require=/p/\"x\".js --import './z'")).toEqual([
      "--require=/p/x.js",
      "--import",
      "'./z'",
    ]);
    expect(nodeOptionWords('"a\\"b" c\\d')).toEqual(['a"b', "c\\d"]);
  });

  it("a quoted --openssl-config or --require in NODE_OPTIONS names the same file to guard", () => {
    const root = mkdtempSync(join(tmpdir(), "safe-npm-nodeopts-"));
    try {
      const configs: string[] = [];
      const files = namedRunFiles(
        root,
        { NODE_OPTIONS: `"--openssl-config=/etc/x.cnf" --require=${root}/"hook".js` },
        configs,
      );
      expect(configs).toContain("/etc/x.cnf");
      expect(files).toContain(join(root, "hook.js"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("--require of a folder or of a name without its extension: what node would load there", () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), "safe-npm-nodeopts-")));
    try {
      mkdirSync(join(root, "hooks"));
      writeFileSync(join(root, "hooks", "package.json"), '{"main": "lib/start.js"}');
      writeFileSync(join(root, "x.js"), "");
      const files = namedRunFiles(root, {
        NODE_OPTIONS: `--require ${root}/hooks --require ${root}/tools/trace -r ${root}/x.js --require ${root}/tools/preload.dev`,
      });
      for (const f of [
        "hooks.js",
        "hooks/index.js",
        "hooks/package.json",
        "hooks/lib/start.js",
        "hooks/lib/start.js.js",
        "tools/trace.js",
        "tools/trace.node",
        "tools/trace/index.js",
        "tools/preload.dev.js",
        "x.js",
      ])
        expect(files).toContain(join(root, f));
      // A file node loads as it is: nothing below it.
      expect(files).not.toContain(join(root, "x.js/index.js"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("a bare --require name found through NODE_PATH in the project", () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), "safe-npm-nodeopts-")));
    try {
      mkdirSync(join(root, "tools"));
      writeFileSync(join(root, "tools", "preload.js"), "");
      const files = namedRunFiles(root, {
        NODE_PATH: `/nowhere:${join(root, "tools")}`,
        NODE_OPTIONS: "--require preload",
      });
      expect(files).toContain(join(root, "tools", "preload.js"));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
