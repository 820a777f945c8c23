/**
 * What stays read-only in the project, in every mode: the `protect` entries, and the files a
 * package manager run bare on the host later executes or obeys — which include the registry
 * config that decides the next install's allowlist. Where such a file is missing, an empty
 * read-only stand-in is mounted so that code inside cannot create it either.
 */
import { lstatSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SafeNpmError } from "../errors.js";
import {
  configLabel,
  npmConfigCandidates,
  npmEnv,
  npmEnvWritten,
  perFolderVariable,
  pnpmConfigCandidates,
  userConfigPath,
} from "../host/host.js";
import { isInside } from "../host/project.js";
import type { ConfigEntry } from "./gitconfig.js";
import { readRegular, readThroughLinks, rootGitPlaces, type Watch } from "./integrity.js";
import { nodeLoads, REQUIRE_TRIES } from "./nodeoptions.js";
import { opensslPlaces } from "./opensslconf.js";
import {
  entryKind,
  projectPathKind,
  readRegularFile,
  realOrNull,
  refuseHardLinked,
} from "./safepath.js";

/**
 * Files at the project root that a package manager reads as configuration that runs code or
 * widens the network:
 * - `.npmrc`: npm, pnpm, yarn 1 and bun — registries, `script-shell`, `node-options`, `git`, …
 * - `.yarnrc.yml`: yarn 2+ — `yarnPath`, `plugins`, `npmRegistryServer`, …
 * - `.yarnrc`: yarn 1 — `yarn-path`, `registry`
 * - `.pnpmfile.cjs`, `.pnpmfile.mjs`: pnpm's hooks, run by every install (pnpm 11+ looks for
 *   the `.mjs` one first)
 * - `pnpm-workspace.yaml`: pnpm 10+ reads its settings there too (`pnpmfile`,
 *   `configDependencies`, `onlyBuiltDependencies`, registries)
 * - `bunfig.toml`: bun — `preload` (run before every `bun run`/`bun test`), `[install]` registry
 * - `.env.yarn`: yarn 4 loads it into every script and binary it runs (`injectEnvironmentFiles`
 *   defaults to it): a `NODE_OPTIONS=--require …` there runs on the host
 * - `.corepack.env`: corepack's shims read variables from it (`COREPACK_HOME` pointing at a
 *   package manager planted in the project would run on the host)
 */
export const HOST_RUN_FILES = [
  ".npmrc",
  ".yarnrc.yml",
  ".yarnrc",
  ".pnpmfile.cjs",
  ".pnpmfile.mjs",
  ".env.yarn",
  "pnpm-workspace.yaml",
  "bunfig.toml",
  ".corepack.env",
  // yarn 2+'s constraints, which a bare `yarn install` runs with enableConstraintsChecks.
  "yarn.config.cjs",
] as const;

/**
 * Missing ones of these get no stand-in but are watched: an empty `pnpm-workspace.yaml` would
 * make the project look like a pnpm workspace (package-manager-detector takes it for pnpm's
 * lockfile) to a nested safe-npm during the run, and for good after a killed run. One created
 * inside is moved aside after the run instead (integrity.ts).
 */
const WATCH_WHEN_MISSING: ReadonlySet<string> = new Set(["pnpm-workspace.yaml", "yarn.config.cjs"]);

/** Directories yarn 2+ executes from (`yarnPath` into releases/, `plugins` paths). */
export const HOST_RUN_DIRS = [".yarn/releases", ".yarn/plugins"] as const;

export interface ProjectGuards {
  /** Existing paths bound read-only over themselves. */
  protect: string[];
  /** Missing files: an empty read-only file stands in. */
  seal: string[];
  /**
   * Directories an empty read-only directory stands in for: missing ones, and an existing
   * XDG_CONFIG_HOME or PNPM_CONFIG_HOME in the project, hidden (configHomeGuard).
   */
  sealDirs: string[];
  /** Missing files checked after the run instead: one created inside is moved aside. */
  watch: Watch[];
  /** An existing XDG_CONFIG_HOME or PNPM_CONFIG_HOME in the project, hidden inside (configHomeGuard). */
  hiddenConfigDirs: ConfigDir[];
  /** npm's user config, where NPM_CONFIG_USERCONFIG keeps it in the project (policy.ts). */
  userNpmrcInProject?: string | undefined;
  /**
   * npm's global config, where NPM_CONFIG_GLOBALCONFIG (or NPM_CONFIG_PREFIX) keeps it in the
   * project and it exists (policy.ts binds it without credentials).
   */
  npmGlobalInProject?: string | undefined;
  /**
   * The host-run file names watched in every sub-project after the run: HOST_RUN_FILES, and
   * yarn's rc file under the name YARN_RC_FILENAME gives it.
   */
  configNames?: readonly string[];
  /** A relative core.hooksPath the system or user config gives nested repositories too. */
  userHooksPath?: string;
  /** The `-c core.hooksPath=…` of the user's aliases, which nested repositories get too. */
  userAliasHooks?: readonly string[];
  /** The user's git config, whose programs nested repositories run too. */
  userConfig?: readonly ConfigEntry[];
}

/**
 * The read-only and sealed paths for one run. Nothing here follows a link: a `protect` entry or
 * a host-run file that is a link, or lies under one, is refused (bwrap would bind the link's
 * target — a planted `protect: ["key"]` with `key -> ~/.ssh` would show the key inside).
 */
export function projectGuards(
  root: string,
  protect: readonly string[],
  protectSource: string,
): ProjectGuards {
  const guards: ProjectGuards = {
    protect: [],
    seal: [],
    sealDirs: [],
    watch: [],
    hiddenConfigDirs: [],
  };
  for (const entry of protect) {
    const path = join(root, entry);
    const kind = projectPathKind(root, path, `protect entry "${entry}" (${protectSource}):`);
    if (kind !== "missing") guards.protect.push(path);
  }
  for (const name of HOST_RUN_FILES) {
    const path = join(root, name);
    const kind = projectPathKind(root, path, "package-manager config");
    if (kind === "missing" && WATCH_WHEN_MISSING.has(name))
      guards.watch.push({ kind: "pmconfig", path });
    else if (kind === "missing") guards.seal.push(path);
    else if (kind !== "file") throw notPlain(path, "a regular file");
    else guards.protect.push(path);
  }
  for (const name of HOST_RUN_DIRS) {
    const path = join(root, name);
    const kind = projectPathKind(root, path, "package-manager directory");
    if (kind === "missing") guards.sealDirs.push(path);
    else if (kind !== "directory") throw notPlain(path, "a directory");
    else guards.protect.push(path);
  }
  guards.protect = [...new Set(guards.protect)];
  return guards;
}

function notPlain(path: string, expected: string): SafeNpmError {
  return new SafeNpmError("UNSAFE_PATH", `${path} is not ${expected}`, {
    hint: `remove ${path}, or replace it with ${expected}; a package manager would fail or hang on it`,
  });
}

/**
 * Everything kept read-only, sealed or watched in the project for one run: the `protect` entries
 * and package-manager config (above), and where host git runs code from beyond .git
 * (integrity.ts). Refuses links planted in the project, so it runs before anything reads the
 * project's config.
 */
export function guardProject(
  root: string,
  host: {
    home: string;
    env: Readonly<Record<string, string | undefined>>;
    userNpmrc?: string | null;
  },
  protect: readonly string[],
  protectSource: string,
  nodePrefix: string | null = null,
): ProjectGuards {
  const guards = projectGuards(root, protect, protectSource);
  for (const variable of HOST_RUN_FILE_VARS)
    refuseRelative(variable, variable.raw(host.env), variable.written?.(host.env));
  // yarn 2+'s rc file under another name, looked up like `.yarnrc.yml`: one more host-run file.
  const yarnRc = host.env.YARN_RC_FILENAME;
  if (yarnRc && !(HOST_RUN_FILES as readonly string[]).includes(yarnRc)) {
    if (yarnRc.includes("/") || yarnRc === "." || yarnRc === "..") {
      throw new SafeNpmError(
        "RELATIVE_CONFIG_PATH",
        `YARN_RC_FILENAME=${yarnRc} is not a file name: yarn looks that path up in every directory above the one it runs in`,
        { hint: "set YARN_RC_FILENAME to a plain file name such as `.yarnrc-ci.yml`, or unset it" },
      );
    }
    guards.configNames = [...HOST_RUN_FILES, yarnRc];
    const path = join(root, yarnRc);
    const kind = projectPathKind(root, path, "yarn config (YARN_RC_FILENAME)");
    if (kind === "missing") guards.seal.push(path);
    else if (kind === "file") guards.protect.push(path);
    else throw notPlain(path, "a regular file");
  }
  // Config files that variables put in the project (`GIT_CONFIG_GLOBAL=$PWD/gitcfg`): read-only
  // when they exist, watched and moved aside after the run when created inside.
  for (const variable of HOST_RUN_FILE_VARS) {
    const named = variable.path(host.env, host.home);
    const path = configHomeInProject(root, named ?? undefined);
    if (path === null || guards.protect.includes(path) || guards.seal.includes(path)) continue;
    const kind = projectPathKind(root, path, `${variable.what} (${variable.name})`);
    if (kind === "missing") guards.watch.push({ kind: "pmconfig", path });
    else if (kind === "file") {
      // npm's global config is bound over without credentials (policy.ts): another name for
      // it would show them.
      if (variable.name.startsWith("NPM_CONFIG_")) {
        refuseHardLinked(path, `${variable.what} (${variable.name})`);
        guards.npmGlobalInProject = path;
      }
      guards.protect.push(path);
    } else throw notPlain(path, "a regular file");
  }
  // npm's global config where the user config (`prefix=`, `globalconfig=`), $PREFIX or
  // $DESTDIR put it in the project (npmConfigCandidates): kept read-only like the variables'
  // ones above (policy.ts hides it inside), or watched when missing — a bare npm obeys one
  // planted there (`script-shell`).
  // The project's own .npmrc ranks above the user's and can move both (`globalconfig=`,
  // `userconfig=`, `prefix=`); read as it is (a link there is refused with the other guards).
  const userNpmrc = host.userNpmrc ?? null;
  const projectNpmrc = projectNpmrcText(root);
  const candidates = [
    ...npmConfigCandidates(host.env, host.home, userNpmrc, nodePrefix, projectNpmrc),
    ...pnpmConfigCandidates(host.env, host.home),
  ];
  for (const candidate of candidates) {
    // NPM_CONFIG_USERCONFIG's file is guarded below; pnpm's config folder by configHomeGuard.
    if (candidate.source === "NPM_CONFIG_USERCONFIG" || candidate.inConfigHome === true) continue;
    const what = configLabel(candidate.what);
    if (candidate.path === null) {
      const folderVar = perFolderVariable(candidate.value);
      throw new SafeNpmError(
        "RELATIVE_CONFIG_PATH",
        `${candidate.source} (${JSON.stringify(candidate.value)}) makes ${what} ${folderVar === null ? "a relative path" : `a path built on \${${folderVar}}, the folder npm runs in`}: it would be a different file in every directory a tool runs in`,
        { hint: `give it an absolute path (or \`~/…\`), or remove it` },
      );
    }
    const path = configHomeInProject(root, candidate.path);
    if (path === null || guards.protect.includes(path) || guards.seal.includes(path)) continue;
    if (guards.watch.some((w) => w.path === path)) continue;
    const kind = projectPathKind(root, path, what);
    if (kind === "missing") guards.watch.push({ kind: "pmconfig", path });
    else if (kind === "file") {
      refuseHardLinked(path, what);
      guards.protect.push(path);
    } else throw notPlain(path, "a regular file");
  }
  // npm's user config, where NPM_CONFIG_USERCONFIG puts it in the project: an existing one is
  // bound over without credentials (policy.ts); one created inside would be the next run's user
  // config, so it is moved aside after the run.
  // Spelled from the project's root, however the variable spells it (configHomeInProject).
  const userConfig = configHomeInProject(root, userConfigPath(host.env, host.home));
  if (userConfig !== null && userConfig !== join(root, ".npmrc")) {
    const kind = projectPathKind(root, userConfig, "npm user config (NPM_CONFIG_USERCONFIG)");
    if (kind === "missing") guards.watch.push({ kind: "pmconfig", path: userConfig });
    else if (kind === "file") {
      // Bound over inside, which covers this name only: another one would show the token.
      refuseHardLinked(userConfig, "npm user config (NPM_CONFIG_USERCONFIG)");
      guards.userNpmrcInProject = userConfig;
    } else throw notPlain(userConfig, "a regular file");
  }
  // Files the root's config names elsewhere (`yarnPath: tools/yarn.cjs`): what a bare package
  // manager runs, kept read-only like the config itself and checked after the run too.
  const opensslConfigs: string[] = [];
  for (const path of namedRunFiles(root, host.env, opensslConfigs)) {
    if (guards.protect.includes(path)) continue;
    const kind = projectPathKind(root, path, "a file the project's package-manager config runs");
    if (kind === "file") guards.protect.push(path);
    else if (kind !== "missing") continue; // a directory: yarn fails on it, nothing runs
    guards.watch.push({ kind: "pmconfig", path, always: true });
  }
  // What OpenSSL's config loads into every node the host starts: read-only, or watched. The
  // config is OPENSSL_CONF's, or one `--openssl-config` names in node's options.
  const configs = [host.env.OPENSSL_CONF, ...opensslConfigs].filter(
    (c, i, all): c is string => c !== undefined && all.indexOf(c) === i,
  );
  const places = configs.flatMap((conf) =>
    opensslPlaces({ ...host.env, OPENSSL_CONF: conf }, readThroughLinks, foldersNames),
  );
  for (const place of places) {
    const path = configHomeInProject(root, place.path);
    if (path === null || guards.protect.includes(path)) continue;
    const what = `what the OpenSSL config (OPENSSL_CONF, --openssl-config) loads,`;
    if (path === root) {
      // A setting naming the project (a `dir` the config builds paths on) loads nothing there.
      if (place.named) continue;
      throw new SafeNpmError(
        "UNSAFE_CONFIG_DIR",
        `${what} ${place.path}, is the project ${root}: node would load what a run plants there`,
        { hint: `point ${place.path} outside the project` },
      );
    }
    const kind = projectPathKind(root, path, what);
    if (kind === "file" || kind === "directory") guards.protect.push(path);
    else if (kind === "missing") {
      if (!guards.watch.some((w) => w.path === path))
        guards.watch.push({ kind: "pmconfig", path, always: true });
    } else throw notPlain(path, place.folder ? "a directory" : "a regular file");
  }
  const hostGit = rootGitPlaces(root, host.home, host.env);
  const config = configHomeGuard(root, host.env, host.home);
  const dotfiles = homeConfigGuard(root, host.env, host.home);
  // Read-only is not enough on its own: a mount point removed in one mount namespace is gone
  // from all (Linux 3.18+), so another safe-npm run in the project removing its own stand-ins,
  // or an editor or git on the host replacing a file by renaming over it, leaves the path
  // writable inside for the rest of the run. So the root's host-run files and directories are
  // also checked after every run, protected or not: one created or changed is moved aside.
  const always = [...(guards.configNames ?? HOST_RUN_FILES), ...HOST_RUN_DIRS].map(
    (name): Watch => ({ kind: "pmconfig", path: join(root, name), always: true }),
  );
  const protectAll = [
    ...new Set([...guards.protect, ...hostGit.protect, ...config.protect, ...dotfiles.protect]),
  ];
  // The same holds for everything else kept read-only (`protect` entries, the user config or
  // an XDG config folder in the project, linked dotfiles), but for git's own directories, which
  // the after-run check fingerprints in its own way (and whose objects are too many to list).
  const watched = new Set(always.map((w) => w.path));
  for (const path of [
    ...protectAll,
    ...config.hidden.map((h) => h.path),
    ...(guards.userNpmrcInProject ? [guards.userNpmrcInProject] : []),
  ]) {
    if (watched.has(path) || path.split("/").includes(".git")) continue;
    always.push({ kind: "readonly", path, always: true });
  }
  return {
    ...guards,
    protect: protectAll,
    sealDirs: [...guards.sealDirs, ...config.sealDirs],
    hiddenConfigDirs: config.hidden,
    ...(hostGit.userHooksPath === undefined ? {} : { userHooksPath: hostGit.userHooksPath }),
    ...(hostGit.userAliasHooks === undefined ? {} : { userAliasHooks: hostGit.userAliasHooks }),
    ...(hostGit.userConfig === undefined ? {} : { userConfig: hostGit.userConfig }),
    // The hook files last: the folder itself keeps its `readonly` entry.
    watch: [...hostGit.watch, ...guards.watch, ...dotfiles.watch, ...always, ...hostGit.hookFiles],
  };
}

/**
 * Variables naming a config file that a host tool obeys later, where the config runs code (npm's
 * `script-shell`, git's `core.fsmonitor`, …): `raw` is the value as written, `path` the file
 * the tool reads (or null when unset). npm's user config has its own treatment in guardProject
 * (it is bound without credentials); it is here for the relative-path check.
 */
export const HOST_RUN_FILE_VARS: readonly {
  name: string;
  what: string;
  raw: (env: Env) => string | undefined;
  /** Before npm replaces `${NAME}` in it: `${PWD}/…` is a different file in each folder. */
  written?: (env: Env) => string | undefined;
  path: (env: Env, home: string) => string | null;
}[] = [
  {
    name: "NPM_CONFIG_USERCONFIG",
    what: "npm user config",
    raw: (env) => npmEnv(env, "userconfig"),
    written: (env) => npmEnvWritten(env, "userconfig"),
    path: () => null,
  },
  {
    name: "NPM_CONFIG_GLOBALCONFIG",
    what: "npm global config",
    raw: (env) => npmEnv(env, "globalconfig"),
    written: (env) => npmEnvWritten(env, "globalconfig"),
    path: (env, home) => npmPath(npmEnv(env, "globalconfig"), home),
  },
  {
    // npm's global config defaults to `<prefix>/etc/npmrc`.
    name: "NPM_CONFIG_PREFIX",
    what: "npm global config under the prefix",
    raw: (env) => npmEnv(env, "prefix"),
    written: (env) => npmEnvWritten(env, "prefix"),
    path: (env, home) => {
      if (npmEnv(env, "globalconfig") !== undefined) return null;
      const prefix = npmPath(npmEnv(env, "prefix"), home);
      return prefix === null ? null : join(prefix, "etc", "npmrc");
    },
  },
  {
    name: "GIT_CONFIG_GLOBAL",
    what: "git global config",
    raw: (env) => env.GIT_CONFIG_GLOBAL || undefined,
    path: (env) => env.GIT_CONFIG_GLOBAL || null,
  },
  {
    name: "GIT_CONFIG_SYSTEM",
    what: "git system config",
    raw: (env) => env.GIT_CONFIG_SYSTEM || undefined,
    path: (env) => env.GIT_CONFIG_SYSTEM || null,
  },
];

type Env = Readonly<Record<string, string | undefined>>;

/** npm expands a leading `~/` in path settings. */
function npmPath(value: string | undefined, home: string): string | null {
  if (value === undefined) return null;
  return value.startsWith("~/") ? join(home, value.slice(2)) : value;
}

/** The project root's .npmrc, or null when there is none; never through a link. */
export function projectNpmrcText(root: string): string | null {
  const path = join(root, ".npmrc");
  if (projectPathKind(root, path, "the project's .npmrc") !== "file") return null;
  return readRegularFile(path, true, 1 << 20);
}

/**
 * A relative value names a different file in every directory a tool runs in
 * (`NPM_CONFIG_USERCONFIG=.npmrc-ci` makes each folder's `.npmrc-ci` npm's user config): no
 * single file could be kept read-only, so it is refused.
 */
function refuseRelative(
  variable: { name: string; what: string },
  value: string | undefined,
  written: string | undefined,
): void {
  const folderVar = written === undefined ? null : perFolderVariable(written);
  if (folderVar !== null) {
    throw new SafeNpmError(
      "RELATIVE_CONFIG_PATH",
      `${variable.name}=${written} is built on \${${folderVar}}, which npm replaces with the folder it runs in: the ${variable.what} would be a different file in every directory a tool runs in`,
      {
        hint: `give ${variable.name} an absolute path (let the shell expand it: ${variable.name}="$PWD/…"), or unset it`,
      },
    );
  }
  if (value === undefined || isAbsolute(value) || value.startsWith("~/")) return;
  throw new SafeNpmError(
    "RELATIVE_CONFIG_PATH",
    `${variable.name}=${value} is a relative path: the ${variable.what} would be a different file in every directory a tool runs in`,
    {
      hint: `give ${variable.name} an absolute path (e.g. ${variable.name}=$PWD/${value}), or unset it`,
    },
  );
}

/** The user's own config in the home that host tools obey (`core.fsmonitor`, `yarnPath`, `preload`). */
export const HOME_CONFIG_FILES = [
  ".gitconfig",
  ".yarnrc.yml",
  ".yarnrc",
  ".bunfig.toml",
  // What the user's shells run (bash, zsh, sh), and ssh's `ProxyCommand` / `Match exec`.
  ".bashrc",
  ".bash_profile",
  ".bash_login",
  ".bash_logout",
  ".profile",
  ".zshrc",
  ".zshenv",
  ".zprofile",
  ".zlogin",
  ".zlogout",
  ".bash_aliases",
  ".ssh/config",
] as const;
/** The same in `$XDG_CONFIG_HOME` (safe-npm's own settings included). */
export const CONFIG_HOME_ENTRIES = [
  "git",
  "pnpm",
  "safe-npm",
  "yarn",
  "npm",
  "fish",
  // What the desktop and systemd start at your next login.
  "autostart",
  "systemd",
  "environment.d",
] as const;
/** zsh's own files, in `$ZDOTDIR` when it is set (else the home, as HOME_CONFIG_FILES). */
const ZSH_FILES = [".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout"] as const;

/**
 * A dotfiles repository is often a project too (it has a package.json), and its files are
 * linked into the home (`~/.gitconfig -> dotfiles/gitconfig`, GNU stow's `~/.config/git ->
 * ../dotfiles/git`): running there, code inside could append a `core.fsmonitor` that host git
 * runs. Where one of the user's config files or its link's target lies in the project, it is
 * kept read-only inside; a link whose target is missing there is watched, and a target created
 * inside is moved aside after the run. The files in those config folders are judged one by one
 * too (stow links file by file into a folder that exists), and `PNPM_CONFIG_HOME` counts as one.
 * (`~/.npmrc` is npm's user config, guarded above; `~/.config` itself by configHomeGuard.)
 */
export function homeConfigGuard(
  root: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): { protect: string[]; watch: Watch[] } {
  const configHome =
    env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : join(home, ".config");
  const protect: string[] = [];
  const watch: Watch[] = [];
  const realOf = rememberedReal();
  const dirs = [
    ...CONFIG_HOME_ENTRIES.map((name) => join(configHome, name)),
    // ssh's `Include config.d/*` and what else the folder holds, file by file.
    join(home, ".ssh"),
  ];
  const zdotdir = env.ZDOTDIR && isAbsolute(env.ZDOTDIR) ? env.ZDOTDIR : null;
  const pnpmHome = env.PNPM_CONFIG_HOME;
  // In the project (or led there), configHomeGuard hides it whole; outside, its files count.
  if (pnpmHome && isAbsolute(pnpmHome) && linkedIntoProject(root, pnpmHome, realOf) === null)
    dirs.push(pnpmHome);
  for (const path of [
    ...HOME_CONFIG_FILES.map((name) => join(home, name)),
    ...(zdotdir === null ? [] : ZSH_FILES.map((name) => join(zdotdir, name))),
    ...dirs,
    // GNU stow links file by file into a folder that exists (pnpm makes ~/.config/pnpm itself):
    // `~/.config/pnpm/config.yaml -> ../../dotfiles/pnpm/config.yaml`.
    ...dirs
      .filter((dir) => linkedIntoProject(root, dir, realOf) === null)
      .flatMap((dir) => entriesOf(dir).map((name) => join(dir, name))),
  ]) {
    const inProject = linkedIntoProject(root, path, realOf);
    // (`~/.ssh/config` is also one of `~/.ssh`'s files.)
    if (inProject === null || protect.includes(inProject)) continue;
    if (inProject === root) {
      throw new SafeNpmError(
        "UNSAFE_CONFIG_DIR",
        `your config ${path} is the project ${root}: what host tools read there would be writable inside the sandbox`,
        {
          hint: `run safe-npm in a project that ${path} does not lead to, or point ${path} elsewhere`,
        },
      );
    }
    const kind = projectPathKind(root, inProject, `your config ${path}, in the project as`);
    if (kind === "missing") watch.push({ kind: "pmconfig", path: inProject });
    else if (kind === "file" || kind === "directory") protect.push(inProject);
    else throw notPlain(inProject, "a regular file or a directory");
  }
  return { protect, watch };
}

/** The names in a directory, through links (as a host tool lists it), or null. */
function foldersNames(dir: string): string[] | null {
  try {
    return statSync(dir).isDirectory() ? readdirSync(dir) : null;
  } catch {
    return null;
  }
}

/** The names in a real directory (not through a link: that is judged whole), or none. */
function entriesOf(dir: string): string[] {
  try {
    if (!lstatSync(dir).isDirectory()) return [];
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * realOrNull remembered for one guard's many paths, which share their folders (the home, its
 * `.config`): asked before any run starts.
 */
function rememberedReal(): (path: string) => string | null {
  const known = new Map<string, string | null>();
  return (path) => {
    let real = known.get(path);
    if (real === undefined) {
      real = realOrNull(path);
      known.set(path, real);
    }
    return real;
  };
}

/**
 * Where `path` lies in the project, following links from outside it — a dangling one too, whose
 * target code inside could create — or null.
 */
function linkedIntoProject(
  root: string,
  path: string,
  realOf: (path: string) => string | null,
): string | null {
  let at = path;
  for (let hop = 0; hop < 16; hop++) {
    const found = configHomeInProject(root, at, realOf);
    if (found !== null) return found;
    let target: string;
    try {
      if (!lstatSync(at).isSymbolicLink()) return null;
      target = readlinkSync(at);
    } catch {
      return null;
    }
    at = resolve(dirname(at), target);
  }
  return null;
}

/**
 * `$XDG_CONFIG_HOME` inside the project (`$PWD/.config` in CI) holds what host tools obey: git's
 * config (`core.fsmonitor` runs on the next `git status`), pnpm's `pnpm/rc`, fish's config, and
 * safe-npm's own settings — and the user's tokens (pnpm's `pnpm/rc` and `pnpm/auth.ini`, git's
 * `git/credentials`, gh's `gh/hosts.yml`). `PNPM_CONFIG_HOME` (pnpm 12.23+) names pnpm's folder
 * of them on its own: its `config.yaml` sets the `scriptShell` a bare `pnpm run` starts, its
 * `auth.ini` a `tokenHelper` and tokens. An empty read-only directory stands in for each, also
 * when it exists (hidden, and checked after the run like a read-only path): no run can plant
 * there or read it. Nothing inside needs them — the sandbox's tools get the private home's
 * `~/.config` (neither variable is passed in). The default `~/.config` counts too when it is
 * a link into the project (a dotfiles repository with a package.json). pnpm resolves a relative
 * PNPM_CONFIG_HOME in each folder it runs in: refused.
 */
export function configHomeGuard(
  root: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): { protect: string[]; sealDirs: string[]; hidden: ConfigDir[] } {
  const out = { protect: [] as string[], sealDirs: [] as string[], hidden: [] as ConfigDir[] };
  const pnpmHome = env.PNPM_CONFIG_HOME;
  if (pnpmHome && !isAbsolute(pnpmHome)) {
    throw new SafeNpmError(
      "RELATIVE_CONFIG_PATH",
      `PNPM_CONFIG_HOME (${JSON.stringify(pnpmHome)}) is a relative path: pnpm reads its global config.yaml and auth.ini from a different folder in every directory it runs in`,
      { hint: "give PNPM_CONFIG_HOME an absolute path outside any project, or unset it" },
    );
  }
  const dirs: { variable: string; path: string }[] = [
    {
      variable: "XDG_CONFIG_HOME",
      path:
        env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME)
          ? env.XDG_CONFIG_HOME
          : join(home, ".config"),
    },
    ...(pnpmHome ? [{ variable: "PNPM_CONFIG_HOME", path: pnpmHome }] : []),
  ];
  for (const { variable, path: named } of dirs) {
    const path = configHomeInProject(root, named);
    if (path === null) continue;
    // One inside another's stand-in is hidden with it (and has no mount point there).
    if (out.sealDirs.some((d) => path === d || isInside(path, d))) continue;
    if (path === root) {
      throw new SafeNpmError(
        "UNSAFE_CONFIG_DIR",
        `${variable} is the project ${root}: the config that ${variable === "PNPM_CONFIG_HOME" ? "pnpm reads" : "git, pnpm and safe-npm read"} there would be writable inside the sandbox`,
        {
          hint:
            variable === "PNPM_CONFIG_HOME"
              ? "set PNPM_CONFIG_HOME to a directory outside any project (e.g. `$RUNNER_TEMP/pnpm-config` in CI), or unset it, and run again"
              : "set XDG_CONFIG_HOME to a directory outside any project (e.g. `export XDG_CONFIG_HOME=$HOME/.config`, or `$RUNNER_TEMP/config` in CI) and run again",
        },
      );
    }
    const kind = projectPathKind(root, path, variable);
    if (kind !== "missing" && kind !== "directory") throw notPlain(path, "a directory");
    // A stand-in inside one of these goes (XDG_CONFIG_HOME/pnpm after PNPM_CONFIG_HOME=…/.config).
    for (let i = out.sealDirs.length - 1; i >= 0; i--) {
      if (isInside(out.sealDirs[i] as string, path)) out.sealDirs.splice(i, 1);
    }
    out.hidden = out.hidden.filter((h) => !isInside(h.path, path));
    out.sealDirs.push(path);
    if (kind === "directory") out.hidden.push({ path, variable });
  }
  return out;
}

/** A config folder in the project that an empty one stands in for, and the variable naming it. */
export interface ConfigDir {
  path: string;
  variable: string;
}

/**
 * Where `configHome` lies in the project, spelled from `root` (the real root) without following
 * links below it — a link there is the project's to re-point, and projectPathKind refuses it —
 * or null when it lies elsewhere. Spelled from its topmost ancestor that resolves to the root or
 * into it (an XDG_CONFIG_HOME named through a link to the home, or from outside into the project).
 */
export function configHomeInProject(
  root: string,
  configHome: string | undefined,
  realOf: (path: string) => string | null = realOrNull,
): string | null {
  if (configHome === undefined || !isAbsolute(configHome)) return null;
  let found: string | null = null;
  const rest: string[] = [];
  for (let at = resolve(configHome); ; at = dirname(at)) {
    const real = realOf(at);
    if (real !== null && (real === root || isInside(real, root))) {
      found = join(real, ...[...rest].reverse());
    }
    if (dirname(at) === at) return found;
    rest.push(basename(at));
  }
}

/**
 * Settings naming a program or a file a manager runs or obeys, as `npm_config_<key>` /
 * `pnpm_config_<key>` spell them (`-` as `_`): namedRunFiles guards them in the project.
 */
const ENV_RUN_KEYS = [
  "script_shell",
  "git",
  "shell",
  "editor",
  "viewer",
  "browser",
  "node_gyp",
  "onload_script",
  "init_module",
  "pnpmfile",
  "global_pnpmfile",
];

/**
 * Whether `require` looks past `path` itself: a folder, or no regular file there and no extension
 * of node's (a missing `x.js` stops node before any code runs).
 */
function triesFurther(path: string): boolean {
  const kind = entryKind(path);
  return kind === "directory" || (kind !== "file" && !/\.(js|cjs|mjs|json|node)$/.test(path));
}

/**
 * The files the project root's package-manager config names for a bare manager to run, where
 * they lie in the project: yarn 2+'s `yarnPath` and plugin `path`s (.yarnrc.yml), yarn 1's
 * `yarn-path` (.yarnrc), pnpm's `pnpmfile` (.npmrc, pnpm-workspace.yaml) and bun's `preload`
 * (bunfig.toml); and the same settings the environment makes (ENV_RUN_KEYS). Read leniently,
 * line by line: a value missed here is only left unguarded (the README names the limit); one
 * read too many is only kept read-only.
 */
export function namedRunFiles(
  root: string,
  env: Readonly<Record<string, string | undefined>> = {},
  /** Filled with the absolute configs `--openssl-config` names, wherever they are. */
  opensslConfigs: string[] = [],
): string[] {
  // Each value with the file it came from (the one being read, `from`), for messages.
  let from = "";
  const text = (name: string): string => {
    from = name;
    // A lone CR ends a line too, for npm's ini (`/[\r\n]+/`) and for YAML.
    return (readRegular(join(root, name)) ?? "").replace(/\r\n?/g, "\n");
  };
  // perFolder: a value npm (yarn 1, node) resolves against the folder it runs in — a script's
  // package folder in a workspace — rather than against the file that names it.
  const values: { raw: string; file: string; perFolder: boolean }[] = [];
  const push = (raw: string, perFolder = false): void => {
    values.push({ raw, file: from, perFolder });
  };
  const unquote = (v: string): string => v.trim().replace(/^(["'])(.*)\1$/, "$2");
  const all = (source: string, pattern: RegExp): void => {
    for (const m of source.matchAll(pattern)) push(unquote(m[1] ?? ""));
  };
  const quoted = (list: string): void => {
    for (const q of list.matchAll(/"([^"\n]*)"|'([^'\n]*)'/g)) push(q[1] ?? q[2] ?? "");
  };
  // A key as YAML or ini may spell it: bare or quoted.
  const key = (names: string): string => `["']?(?:${names})["']?`;
  const yarnrcYml = text(".yarnrc.yml");
  all(yarnrcYml, new RegExp(`^\\s*(?:-\\s*)?${key("yarnPath|path")}:[ \\t]*([^#\\n]+)`, "gm"));
  // YAML lists under a key (block `- item` lines or a flow `[a, b]`): yarn's plugins (an item
  // may be the path itself), injectEnvironmentFiles; pnpm's pnpmfile.
  const list = (source: string, names: string): void => {
    for (const m of source.matchAll(
      new RegExp(`^${key(names)}:[ \\t]*(.*)\\n?((?:[ \\t]+-.*\\n?|[ \\t]+[^-\\s].*\\n?)*)`, "gm"),
    )) {
      const inline = (m[1] ?? "").replace(/#.*$/, "").trim();
      const items = inline.startsWith("[")
        ? inline.slice(1, inline.lastIndexOf("]")).split(",")
        : (m[2] ?? "")
            .split("\n")
            .filter((l) => /^\s*-\s*/.test(l) && !/^\s*-\s*[\w"']+\s*:/.test(l))
            .map((l) => l.replace(/^\s*-\s*/, ""));
      for (const item of items) push(unquote(item.replace(/#.*$/, "")).replace(/\?$/, ""));
    }
  };
  list(yarnrcYml, "plugins");
  list(yarnrcYml, "injectEnvironmentFiles");
  const yarnrc = text(".yarnrc");
  all(yarnrc, /^\s*"?yarn-path"?[ \t]+([^#\n]+)/gm);
  for (const m of yarnrc.matchAll(/^\s*"?script-shell"?[ \t]+([^#\n]+)/gm)) {
    const value = unquote(m[1] ?? "");
    if (value.includes("/")) push(value, true);
  }
  const npmrc = text(".npmrc");
  // (cafile: the CA a bare npm trusts.)
  all(
    npmrc,
    new RegExp(`^\\s*${key("pnpmfile|global-pnpmfile|cafile")}\\s*=\\s*([^#;\\n]+)`, "gm"),
  );
  for (const m of npmrc.matchAll(
    new RegExp(`^\\s*${key("init-module")}\\s*=\\s*([^#;\\n]+)`, "gm"),
  )) {
    push(unquote(m[1] ?? ""), true);
  }
  // Keys that run a program (as ~/.npmrc's copy inside drops them): a path, not a name on PATH.
  for (const m of npmrc.matchAll(
    new RegExp(
      `^\\s*${key("script-shell|git|shell|editor|viewer|browser|node-gyp|onload-script")}\\s*=\\s*([^#;\\n]+)`,
      "gm",
    ),
  )) {
    const value = unquote(m[1] ?? "");
    if (value.includes("/")) push(value, true);
  }
  // node-options: what --require / -r / --import / --loader load (node resolves a path against
  // its working folder; a bare name is a package, looked up in node_modules).
  const requires = (written: string): void => {
    const found = nodeLoads(written);
    for (const { option, value: written } of found) {
      let value = written;
      if (value.startsWith("file://")) {
        try {
          value = fileURLToPath(value);
        } catch {
          continue;
        }
      }
      const relative = /^\.\.?\//.test(value);
      push(value, relative);
      // A bare name (`--require preload`) node also looks up in each NODE_PATH folder and in
      // ~/.node_modules, ~/.node_libraries: a folder of those in the project counts.
      if (!relative && !isAbsolute(value) && (option === "--require" || option === "-r")) {
        const dirs = [
          ...(env.NODE_PATH ?? "").split(":"),
          ...(env.HOME ? [join(env.HOME, ".node_modules"), join(env.HOME, ".node_libraries")] : []),
        ].filter((dir) => isAbsolute(dir));
        for (const dir of dirs) {
          const path = join(dir, value);
          push(path);
          if (triesFurther(path)) for (const tail of REQUIRE_TRIES) push(`${path}${tail}`);
        }
      }
      // `--require /p/hooks` loads /p/hooks.js, or the folder's main or index.
      // (Not for a missing name with node's own extension: node then stops before any code runs.)
      if ((option === "--require" || option === "-r") && isAbsolute(value) && triesFurther(value)) {
        for (const tail of REQUIRE_TRIES) push(`${value}${tail}`);
        const pkg = isAbsolute(value) ? readRegular(join(value, "package.json")) : null;
        let main: unknown;
        try {
          main = pkg === null ? undefined : (JSON.parse(pkg) as { main?: unknown }).main;
        } catch {}
        if (typeof main === "string" && main !== "") {
          const target = resolve(value, main);
          push(target);
          if (entryKind(target) !== "file")
            for (const tail of REQUIRE_TRIES) push(`${target}${tail}`);
        }
      }
      // An OpenSSL config loads what it includes and names, as OPENSSL_CONF's does.
      const expanded = value.replace(/\$\{([^}]+)\}/g, (whole, name: string) => env[name] ?? whole);
      if (option === "--openssl-config" && isAbsolute(expanded)) opensslConfigs.push(expanded);
    }
  };
  for (const m of npmrc.matchAll(
    new RegExp(`^\\s*${key("node-options")}\\s*=\\s*([^\\n]+)`, "gm"),
  )) {
    requires(unquote(m[1] ?? ""));
  }
  const workspace = text("pnpm-workspace.yaml");
  all(workspace, new RegExp(`^${key("pnpmfile|globalPnpmfile")}:[ \\t]*([^#\\n\\[]+)`, "gm"));
  // pnpm 11+ takes .npmrc's program settings from here: scriptShell, nodeOptions.
  for (const m of workspace.matchAll(
    new RegExp(`^${key("scriptShell|script-shell")}:[ \\t]*([^#\\n]+)`, "gm"),
  )) {
    const value = unquote(m[1] ?? "");
    if (value.includes("/")) push(value, true);
  }
  // On its line, or a block scalar's lines below it (`nodeOptions: >-`).
  for (const m of workspace.matchAll(
    new RegExp(
      `^${key("nodeOptions|node-options")}:[ \\t]*([^\\n]*)((?:\\n[ \\t]+[^\\n]*)*)`,
      "gm",
    ),
  )) {
    requires(unquote(`${(m[1] ?? "").replace(/\s+#.*$/, "")} ${m[2] ?? ""}`));
  }
  list(workspace, "pnpmfile|globalPnpmfile");
  // bun's preload, plugins and security scanner under any table, dotted key or inline table
  // (`preload`, `test.preload`, `security = { scanner = … }`), a string or an array, on one
  // line or several.
  for (const m of text("bunfig.toml").matchAll(
    /(?:^|[{,])\s*(?:[\w"'-]+\.)*["']?(?:preload|plugins|scanner)["']?\s*=\s*(\[[\s\S]*?\]|"[^"\n]*"|'[^'\n]*')/gm,
  )) {
    quoted(m[1] ?? "");
  }
  // The same settings in the environment (a CI job's `npm_config_script_shell=$PWD/tools/sh`;
  // pnpm 12's `pnpm_config_npmrc_auth_file`, whose `tokenHelper` pnpm runs): npm and pnpm read
  // `npm_config_<key>` / `pnpm_config_<key>` in any case, with `-` or `_`.
  for (const [name, setting] of Object.entries(env)) {
    const m = /^p?npm_config_(.+)$/i.exec(name);
    if (m === null || !setting) continue;
    from = `environment's ${name}`;
    const envKey = (m[1] ?? "").toLowerCase().replace(/-/g, "_");
    if (envKey === "node_options") requires(setting);
    else if (ENV_RUN_KEYS.includes(envKey) && setting.includes("/"))
      push(setting.trim(), envKey !== "pnpmfile");
  }
  // Variables that load code into every node or bun the host starts (safe-npm's own first:
  // NODE_OPTIONS, BUN_OPTIONS, OPENSSL_CONF), and
  // yarn 2+'s release and environment files; yarn resolves a relative YARN_YARN_PATH per folder.
  for (const [name, setting] of Object.entries(env)) {
    if (!setting) continue;
    from = `environment's ${name}`;
    if (name === "NODE_OPTIONS" || name === "BUN_OPTIONS") requires(setting);
    else if (name === "YARN_YARN_PATH") push(setting.trim(), true);
    // OpenSSL's config: node reads it at every start, and a `providers` section there loads a
    // shared object into the process. A relative one is opened from the current folder.
    else if (name === "OPENSSL_CONF") push(setting.trim(), true);
    else if (name === "YARN_INJECT_ENVIRONMENT_FILES")
      for (const file of setting.split(/[,;]/))
        if (file.trim()) push(file.trim().replace(/\?$/, ""));
  }

  const out = new Set<string>();
  for (const { raw, file, perFolder } of values) {
    // Built on the folder the manager runs in: a bare one started in `src/` runs `src/tools/sh`,
    // which no guard of one file covers.
    const folderVar = perFolderVariable(raw);
    if (folderVar !== null) {
      throw new SafeNpmError(
        "RELATIVE_CONFIG_PATH",
        `${file.startsWith("environment") ? "your" : "the project's"} ${file} names ${JSON.stringify(raw)} for a package manager to run: built on \${${folderVar}}, it is a different file in every directory a bare one runs in, and safe-npm cannot keep them all from being planted`,
        {
          hint: perFolder
            ? "give it as an absolute path, or as a command name found on PATH"
            : `name it from the project's root instead (\`${raw.replace(/^.*?\$\{[^}]+\}\/?/, "")}\`), or as an absolute path`,
        },
      );
    }
    // `${VAR}` as the managers expand it, from the host's environment (`${HOME}/tools/sh`).
    const value = raw.replace(/\$\{([^}]+)\}/g, (whole, name: string) => env[name] ?? whole);
    if (value === "" || value.startsWith("~") || value.includes("${")) continue;
    if (perFolder && !isAbsolute(value)) {
      throw new SafeNpmError(
        "RELATIVE_CONFIG_PATH",
        `${file.startsWith("environment") ? "your" : "the project's"} ${file} names ${JSON.stringify(raw)} for a package manager to run, a path it resolves in the folder it runs in (each workspace package's own), and safe-npm cannot keep them all from being planted`,
        { hint: "give it as an absolute path, or as a command name found on PATH" },
      );
    }
    const path = configHomeInProject(root, isAbsolute(value) ? value : resolve(root, value));
    if (path === null || path === root) continue;
    // Under .yarn/releases or .yarn/plugins it is kept read-only with its directory already.
    if (HOST_RUN_DIRS.some((dir) => isInside(path, join(root, dir)))) continue;
    out.add(path);
  }
  return [...out];
}
