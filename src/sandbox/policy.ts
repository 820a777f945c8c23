/**
 * PURE: turns host facts, the project and the request into a Policy — plain data saying what the
 * sandbox contains. Nothing here reads the host; unit tests build inputs by hand.
 */
import { basename, dirname, isAbsolute, join, relative, sep } from "node:path";
import type {
  HostInfo,
  NamedNpmConfig,
  NpmGlobalConfig,
  ResolvedTool,
  SandboxMarker,
} from "../host/host.js";
import { configLabel, MARKER_PATH } from "../host/host.js";
import type { Project } from "../host/project.js";
import { isInside } from "../host/project.js";
import { BRIDGE_PERL, BRIDGE_PERL_INSIDE, perlBridgeArgv } from "../network/bridgeperl.js";
import {
  bridgeArgv,
  bridgeBinds,
  CA_INSIDE,
  CA_NODE_INSIDE,
  SOCKET_INSIDE,
} from "../network/inside.js";
import { type LinkedStore, storeInProject } from "./linkedstore.js";
import { sanitizeNpmrc, stripUrlCredentials, withoutCredentials } from "./npmrc.js";
import { CACHE_DIRS } from "./privatehome.js";
import { projectYarnrcWithoutCredentials, yarnrcCopy } from "./yarnrc.js";

export type { NetworkMode } from "../settings/merge.js";

import type { NetworkMode } from "../settings/merge.js";

/** What the user's and the repository's settings add, with host paths already checked by settings/host-paths.ts. */
export interface SettingsInput {
  /** Absolute host paths under the home that exist, bound read-only at the same place. */
  dotfiles: readonly string[];
  /** `~/.npmrc` is among the dotfiles: the real file replaces the sanitized copy. */
  fullNpmrc: boolean;
  binds: { ro: readonly string[]; rw: readonly string[] };
  /** The user's package-manager caches, bound read-write (`cache: "shared"`). */
  caches: readonly string[];
  /** Variables the user named: passed even when their names look secret. */
  envPass: readonly string[];
  envSet: Readonly<Record<string, string>>;
  /** "project": $HOME is the project root (dotfiles are mounted there). */
  home: "private" | "project";
}

/** Host facts about the toolchain beyond its prefixes, gathered by host/toolchain.ts. */
export interface ToolchainInput {
  /** A prefix holding include/node/node.h: node-gyp builds against it (npm_config_nodedir). */
  nodeHeaders: string | null;
  /** The package manager is yarn 1 (its cache location needs setting). */
  yarnClassic: boolean;
  /**
   * npm's bundled node-gyp, offered as `node-gyp` to every package manager: bun and yarn fetch
   * one from the registry otherwise.
   */
  nodeGyp: string | null;
  /**
   * A corepack shim is used: its home (bound read-only when it exists) and downloads disabled,
   * whether or not the home exists yet.
   */
  corepack: { home: string; exists: boolean } | null;
  /** npm's global npmrc (see host.ts), when it exists: it enters without credentials too. */
  npmGlobalConfig: NpmGlobalConfig | null;
}

export const NO_TOOLCHAIN: ToolchainInput = {
  nodeHeaders: null,
  yarnClassic: false,
  nodeGyp: null,
  corepack: null,
  npmGlobalConfig: null,
};

export const NO_SETTINGS: SettingsInput = {
  dotfiles: [],
  fullNpmrc: false,
  binds: { ro: [], rw: [] },
  caches: [],
  envPass: [],
  envSet: {},
  home: "private",
};

export type Mount =
  | { kind: "ro-bind" | "bind"; src: string; dest: string }
  | { kind: "symlink"; target: string; dest: string }
  | { kind: "tmpfs" | "proc" | "dev"; dest: string }
  /** An empty read-only directory (a tmpfs remounted read-only). */
  | { kind: "empty-dir"; dest: string }
  /** A generated read-only file (bwrap --ro-bind-data). */
  | { kind: "data"; dest: string; data: string; label: string }
  /**
   * A directory of the project bound read-write onto itself (pinAncestors): a mount point
   * cannot be renamed or removed (EBUSY), while writes inside it still work. A missing one is
   * created on the host before the run (placeholders.ts makePinDirs) and removed after if empty.
   */
  | { kind: "pin"; dest: string };

export interface Policy {
  /** The command run inside, argv[0] resolved through the inside PATH. */
  command: string[];
  cwd: string;
  env: Record<string, string>;
  /** In order: later mounts cover earlier ones (bwrap applies them left to right). */
  mounts: Mount[];
  network: NetworkMode;
  /** Unshare the user namespace (and forbid nested ones) where the host allows it. */
  userNamespace: boolean;
  /**
   * Load the seccomp filter (sandbox/seccomp.ts); without it, fall back to --new-session, which
   * still stops TIOCSTI (the other rules have no fallback).
   */
  seccomp: boolean;
  /**
   * Stdin is the terminal and safe-npm runs in its foreground group: the command gets a process
   * group of its own that becomes the terminal's foreground group for the run (FOREGROUND_PERL in
   * bwrap.ts), so Ctrl-C and job control work while nothing inside can signal the caller's group.
   * Otherwise the sandbox runs in a session of its own and safe-npm forwards signals (spawn.ts).
   */
  foreground: boolean;
  /**
   * Started in the background with a terminal on stdio (host.backgroundTty): the sandbox gets
   * none of the terminal's descriptors (spawn.ts awayFromTerminal).
   */
  awayFromTerminal: boolean;
  /** With `foreground`: the caller does job control, so Ctrl-Z stops the caller's job. */
  jobControl: boolean;
  /** The node binary inside (used by the `node` signal reset). */
  node: string;
  hostname: string;
}

export type RequestKind = "pm" | "exec" | "shell";

/** The token npm sees inside for a registry whose credential the proxy adds (never a secret). */
export const CREDENTIAL_PLACEHOLDER = "safe-npm-adds-the-credential-on-the-host";

/** What the sandbox needs of the host proxy (registry mode). */
export interface ProxyInput {
  socketPath: string;
  bridgePath: string;
  /**
   * Where the bridge listens on the sandbox's loopback (0 or absent: the kernel picks). Chosen
   * outside when ports are forwarded, so the bridge's own listener is never forwarded.
   */
  port?: number | undefined;
  /**
   * The registry gateway terminates TLS: this bundle (safe-npm's local CA, then the user's own
   * CAs) is bound read-only inside and named by `NODE_EXTRA_CA_CERTS`.
   */
  caBundlePath?: string | null | undefined;
  /**
   * The same less node's shipped roots, for `NODE_EXTRA_CA_CERTS` (bound at CA_NODE_INSIDE when
   * it is another file than `caBundlePath`).
   */
  caNodeBundlePath?: string | null | undefined;
  /**
   * The user's or project's npm config names a `cafile`, which replaces node's CA list for npm
   * and pnpm: `npm_config_cafile` then names the bundle too (it holds that file's certificates).
   */
  cafileConfigured?: boolean | undefined;
}

export interface PolicyInput {
  host: HostInfo;
  project: Project;
  /** Node and the package manager (or other tools) resolved on the host. */
  node: ResolvedTool;
  tools: readonly ResolvedTool[];
  kind: RequestKind;
  /** argv inside; for kind "pm" argv[0] is the tool's name. */
  command: readonly string[];
  network: NetworkMode;
  /** Per-project private home on the host, mounted at the user's $HOME. */
  privateHome: string;
  /**
   * Stores moved into the project's node_modules for this run (linkedstore.ts): a link at their
   * usual path in the home leads there instead of a bind from the private home.
   */
  linkedStores?: readonly LinkedStore[];
  /** Existing absolute paths inside the project kept read-only (`.git`). */
  protect: readonly string[];
  /**
   * Missing paths inside the project that code inside must not create (registry config and the
   * other files a package manager on the host obeys): an empty read-only file is mounted there;
   * sandbox/guarded.ts removes the placeholder after.
   */
  seal: readonly string[];
  /** The same for directories (`.yarn/releases`): an empty read-only directory. */
  sealDirs?: readonly string[];
  /**
   * npm's user config where NPM_CONFIG_USERCONFIG keeps it in the project, spelled from the
   * project's root (hostfiles.ts): bound over without credentials, read-only.
   */
  userNpmrcInProject?: string | undefined;
  /** npm's global config kept in the project (hostfiles.ts), and its text read on the host. */
  npmGlobalInProject?: { path: string; text: string } | null | undefined;
  /**
   * npm config files NPM_CONFIG_USERCONFIG / NPM_CONFIG_GLOBALCONFIG name (host.ts
   * namedNpmConfigs): where one of their names is visible inside (`/etc/npmrc-ci`, a file in a
   * tool's prefix), it is bound over without credentials. yarn 1's user config as root
   * (host.ts yarn1RootConfigs) the same way.
   */
  namedNpmConfigs?: readonly NamedNpmConfig[];
  /** Files in the project hidden under an empty read-only one: the user's client keys. */
  hide?: readonly string[];
  settings: SettingsInput;
  toolchain: ToolchainInput;
  /** Registry mode: the host proxy's socket and the bridge script, bound read-only inside. */
  /**
   * `port`: where the bridge listens on the sandbox's loopback (0 or absent: the kernel picks).
   * Chosen outside when ports are forwarded, so the bridge's own listener is never forwarded.
   */
  /**
   * `safe-npm publish`: npm-style registry keys (`//host/path/`) whose credential the proxy adds
   * on the host. npm refuses to publish without a credential of its own (ENEEDAUTH), so the
   * copy of ~/.npmrc inside names a placeholder token there, which the proxy replaces.
   */
  credentialPlaceholders?: readonly string[] | undefined;
  /**
   * `safe-npm publish` with yarn berry: `npmRegistries` keys whose credential the proxy adds.
   * `yarn npm publish` refuses to send without a token configured for the registry, so a
   * `~/.yarnrc.yml` inside names a placeholder there (only with a home of its own: with the
   * project as $HOME that file is the project's).
   */
  yarnCredentialPlaceholders?: readonly string[] | undefined;
  /**
   * The user's `~/.yarnrc.yml` parsed (sandbox/yarnrcparse.ts), or null when there is none or it
   * does not parse: with a home of its own, a copy of its registry keys enters (sandbox/yarnrc.ts).
   */
  userYarnrc?: Readonly<Record<string, unknown>> | null | undefined;
  /** Text of the project's `.npmrc` (read without following a link), or null. */
  projectNpmrc?: string | null | undefined;
  /**
   * The project's `.yarnrc.yml` parsed (yarnrcparse.ts; read without following a link), when it
   * may hold credentials; null otherwise or when it does not parse.
   */
  projectYarnrc?: Readonly<Record<string, unknown>> | null | undefined;
  proxy: ProxyInput | null;
  version: string;
}

/** Where the toolchain appears under its host PATH names (symlinks), first on PATH. */
export const TOOL_BIN = "/run/safe-npm/bin";

/** Directories that are part of the read-only system view. */
const SYSTEM_DIRS = ["/usr", "/etc"];

/** Variables passed through unchanged when set (design.md §4). */
const PASS_ENV = [
  "TERM",
  "COLORTERM",
  "LANG",
  "TZ",
  "NO_COLOR",
  "FORCE_COLOR",
  "CI",
  "SHELL",
] as const;

/** Variables a package.json script sets, passed when safe-npm runs as a script prefix. */
const SCRIPT_ENV = [
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
  // yarn's Plug'n'Play: --require <project>/.pnp.cjs, visible inside.
  "NODE_OPTIONS",
] as const;

/** Never passed unless the user names them (settings), whatever an allowlist says. */
// PAT as a word of its own: a personal access token (GH_PAT, GEM_PAT), not PATH or PATTERN.
const SECRET_NAME =
  /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|AUTH|KEY|CREDENTIAL|SESSION|(?:^|_)PAT(?:_|$)/i;
const NEVER_PASS =
  /^(SSH_AUTH_SOCK|DBUS_.*|DISPLAY|WAYLAND_.*|XDG_RUNTIME_DIR|DOCKER_.*|KUBECONFIG)$/;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || NEVER_PASS.test(name);
}

/** The private per-project home: `$XDG_CACHE_HOME/safe-npm/homes/<name>-<hash>`. */
export function privateHomeDir(cacheHome: string, projectRoot: string, hash: string): string {
  const name = projectRoot.split(sep).filter(Boolean).pop() ?? "root";
  return join(cacheHome, "safe-npm", "homes", `${name.replace(/[^\w.-]/g, "_")}-${hash}`);
}

/**
 * Yarn 4's global folder (its cache) in the private home, mounted inside at this same host path:
 * what an install writes into .pnp.cjs then resolves outside as well (design.md §9).
 */
export function yarnGlobalFolder(privateHome: string): string {
  return join(privateHome, ".yarn", "berry");
}

/**
 * Where bwrap makes the mount point of a path bound at its own host path, relative to the
 * private home, when that path falls in one of the cache directories bound below `$HOME` (the
 * default `$XDG_CACHE_HOME` is `~/.cache`, bound from the private home's `.cache`); null when
 * the mount point lands in a tmpfs. sandbox/privatehome.ts makes it a real directory first.
 */
export function mountPointInPrivateHome(home: string, dest: string): string | null {
  if (!isInside(dest, home)) return null;
  const rel = relative(home, dest);
  return CACHE_DIRS.some((c) => rel === c || rel.startsWith(`${c}/`)) ? rel : null;
}

export function resolvePolicy(input: PolicyInput): Policy {
  const { host, project } = input;
  const toolPrefixes = unique(
    [input.node, ...input.tools]
      .map((t) => toolMount(t, host.home, project.root))
      .filter((p) => !isSystemPath(p)),
  );
  const visible = (path: string): boolean =>
    isSystemPath(path) ||
    toolPrefixes.some((p) => path === p || isInside(path, p)) ||
    isInside(path, project.root);

  const mounts: Mount[] = [
    { kind: "ro-bind", src: "/usr", dest: "/usr" },
    ...Object.entries(host.rootDirs).map(
      ([dir, link]): Mount =>
        link === null
          ? { kind: "ro-bind", src: dir, dest: dir }
          : { kind: "symlink", target: link, dest: dir },
    ),
    { kind: "ro-bind", src: "/etc", dest: "/etc" },
  ];
  if (host.resolvConf !== null) {
    mounts.push({ kind: "ro-bind", src: host.resolvConf, dest: host.resolvConf });
  }
  const { settings } = input;
  const homeInside = settings.home === "project" ? project.root : host.home;
  const inHome = (hostPath: string): string => join(homeInside, relative(host.home, hostPath));
  mounts.push(
    { kind: "proc", dest: "/proc" },
    // Kernel settings check only the writer's host uid, not capabilities: as root (uid 0 maps to
    // host uid 0) code inside could set kernel.core_pattern to a program the host kernel then
    // runs as root. bwrap covers /proc/sys only when it can write the directory itself, which a
    // 0555 directory defeats (bwrap.c, cover_proc_dirs).
    { kind: "ro-bind", src: "/proc/sys", dest: "/proc/sys" },
    // The sandbox's pid 1 (bwrap's init) is the command's user, and dumpable: through its
    // /proc/<pid>/mem code inside could write its memory and run code there (the seccomp filter
    // stops ptrace, not that file). On a terminal pid 1 is in the caller's process group, so it
    // could then signal safe-npm. It is the one process there when these mounts are made.
    { kind: "ro-bind", src: "/dev/null", dest: "/proc/1/mem" },
    { kind: "ro-bind", src: "/dev/null", dest: "/proc/1/task/1/mem" },
    { kind: "dev", dest: "/dev" },
    { kind: "tmpfs", dest: "/tmp" },
  );
  if (settings.home === "project") {
    // The project first, so that mount points for dotfiles land in it (sandbox/guarded.ts removes them).
    mounts.push({ kind: "bind", src: project.root, dest: project.root });
  } else {
    // A fresh home on every run, with only the caches carried over from the private home: what
    // code inside writes as configuration (~/.npmrc, ~/.config/…) is gone by the next run. Every
    // mount point below $HOME is created in the tmpfs, never in the user's real home.
    mounts.push({ kind: "tmpfs", dest: host.home });
    for (const rel of CACHE_DIRS) {
      const linked = input.linkedStores?.find((s) => s.home === rel);
      mounts.push(
        linked === undefined
          ? { kind: "bind", src: join(input.privateHome, rel), dest: join(host.home, rel) }
          : // In the tmpfs home; the store on the project's mount, where hard links work.
            {
              kind: "symlink",
              target: storeInProject(project.root, linked),
              dest: join(host.home, rel),
            },
      );
    }
  }
  // With the registry gateway, a cafile names its bundle (bun reads the file npmrc names).
  const npmrcOptions = {
    home: host.home,
    ...(input.network === "registry" && input.proxy?.caBundlePath ? { cafile: CA_INSIDE } : {}),
  };
  const placeholders = (input.credentialPlaceholders ?? []).map(
    (key) => `${key}:_authToken=${CREDENTIAL_PLACEHOLDER}\n`,
  );
  if ((host.userNpmrc !== null || placeholders.length > 0) && !settings.fullNpmrc) {
    mounts.push({
      kind: "data",
      dest: join(homeInside, ".npmrc"),
      data:
        (host.userNpmrc === null ? "" : sanitizeNpmrc(host.userNpmrc, npmrcOptions).text) +
        placeholders.join(""),
      label:
        placeholders.length > 0
          ? "~/.npmrc without credentials, placeholder tokens for the proxy to replace"
          : "~/.npmrc without credentials",
    });
  }
  // ~/.yarnrc.yml's registries (only those keys): without them yarn berry inside would ask
  // registry.yarnpkg.com for what the user's yarn asks their own registry (dependency confusion).
  // With the project as $HOME, that file is the project's.
  const yarnKeys = input.yarnCredentialPlaceholders ?? [];
  const userYarnrc = input.userYarnrc ?? null;
  const yarnrc =
    settings.home === "project"
      ? null
      : yarnrcCopy(userYarnrc, {
          env: host.env,
          cafile: input.network === "registry" ? npmrcOptions.cafile : undefined,
          placeholders: yarnKeys,
          placeholder: CREDENTIAL_PLACEHOLDER,
          isSecret: isSecretName,
        });
  if (yarnrc !== null) {
    const parts = [
      ...(userYarnrc === null ? [] : ["registries only"]),
      ...(yarnKeys.length > 0 ? ["placeholder tokens for the proxy to replace"] : []),
    ];
    mounts.push({
      kind: "data",
      dest: join(host.home, ".yarnrc.yml"),
      data: yarnrc,
      label: `~/.yarnrc.yml: ${parts.join(", ")}`,
    });
  }
  // pnpm 11+'s auth.ini (host.ts userPnpmAuth), where `pnpm config set` puts the registry and
  // `pnpm login` its token: its registries and scopes, without tokens or a tokenHelper, where
  // pnpm inside looks (neither PNPM_CONFIG_HOME nor XDG_CONFIG_HOME is passed in). Without it a
  // private package name would be asked of the public registry (dependency confusion).
  const pnpmAuth = host.userPnpmAuth;
  if (pnpmAuth != null && settings.home !== "project") {
    mounts.push({
      kind: "data",
      dest: join(host.home, ".config", "pnpm", "auth.ini"),
      data: sanitizeNpmrc(pnpmAuth.text, npmrcOptions).text,
      label: `${pnpmAuth.path} without credentials`,
    });
  }
  for (const file of settings.dotfiles)
    mounts.push({ kind: "ro-bind", src: file, dest: inHome(file) });
  for (const cache of settings.caches)
    mounts.push({ kind: "bind", src: cache, dest: inHome(cache) });
  if (settings.home !== "project") {
    // Yarn 4's global folder also at its host path (YARN_GLOBAL_FOLDER): .pnp.cjs names the
    // cache's zips by a path relative to the project, which must lead to them outside too.
    const berry = yarnGlobalFolder(input.privateHome);
    mounts.push({ kind: "bind", src: berry, dest: berry });
  }
  for (const prefix of toolPrefixes) mounts.push({ kind: "ro-bind", src: prefix, dest: prefix });
  const { corepack, npmGlobalConfig } = input.toolchain;
  if (corepack?.exists === true) {
    mounts.push({ kind: "ro-bind", src: corepack.home, dest: corepack.home });
  } else if (
    corepack !== null &&
    settings.home !== "project" &&
    isInside(corepack.home, host.home)
  ) {
    // Its home would be in the private cache, where code inside could leave a package manager
    // for the next run's corepack to start: an empty one instead.
    mounts.push({ kind: "tmpfs", dest: corepack.home });
  }
  if (
    npmGlobalConfig !== null &&
    visible(npmGlobalConfig.path) &&
    !isInside(npmGlobalConfig.path, project.root)
  ) {
    mounts.push(
      ...withoutSecrets(
        npmGlobalConfig.path,
        npmGlobalConfig.text,
        `${npmGlobalConfig.path} without credentials or programs`,
        npmrcOptions,
      ),
    );
  }
  // Each tool under the name it has on the host PATH: inside, its directory may be hidden and its
  // real file named otherwise (pnpm.cjs, bun.exe), yet scripts call it by name.
  const named = new Set<string>();
  for (const tool of [input.node, ...input.tools]) {
    const name = basename(tool.bin);
    if (named.has(name)) continue;
    named.add(name);
    const target = visible(tool.bin) ? tool.bin : tool.real;
    mounts.push({ kind: "symlink", target, dest: `${TOOL_BIN}/${name}` });
  }
  if (input.toolchain.nodeGyp !== null && !named.has("node-gyp")) {
    mounts.push({ kind: "symlink", target: input.toolchain.nodeGyp, dest: `${TOOL_BIN}/node-gyp` });
  }
  for (const path of settings.binds.ro) mounts.push({ kind: "ro-bind", src: path, dest: path });
  for (const path of settings.binds.rw) mounts.push({ kind: "bind", src: path, dest: path });
  if (settings.home !== "project") {
    mounts.push({ kind: "bind", src: project.root, dest: project.root });
  }
  for (const path of input.protect) mounts.push({ kind: "ro-bind", src: path, dest: path });
  // The project's .npmrc with its credentials removed, over the read-only original: the proxy
  // adds them on the host, and a token written there (or in a git-ignored copy) stays out. Not
  // with the host's network (no proxy) or when the user passes ~/.npmrc in full. With the
  // registry gateway, its cafile names the bundle (which holds that file's certificates).
  if (input.projectNpmrc != null && !settings.fullNpmrc && input.network !== "full") {
    const gatewayCa = input.network === "registry" && Boolean(input.proxy?.caBundlePath);
    const stripped = withoutCredentials(input.projectNpmrc, gatewayCa ? CA_INSIDE : undefined);
    if (stripped.removed.length > 0 || stripped.cafileReplaced) {
      mounts.push({
        kind: "data",
        dest: join(project.root, ".npmrc"),
        data: stripped.text,
        label:
          stripped.removed.length > 0
            ? "the project's .npmrc without credentials"
            : "the project's .npmrc, its cafile the gateway's bundle",
      });
    }
  }
  // The same for yarn 2+'s `.yarnrc.yml`: its npmAuthToken / npmAuthIdent values a placeholder
  // the gateway replaces.
  if (input.projectYarnrc != null && input.network !== "full") {
    const stripped = projectYarnrcWithoutCredentials(input.projectYarnrc, CREDENTIAL_PLACEHOLDER);
    if (stripped.removed > 0)
      mounts.push({
        kind: "data",
        dest: join(project.root, ".yarnrc.yml"),
        data: stripped.text,
        label: "the project's .yarnrc.yml without credentials",
      });
  }
  // npm's global config where NPM_CONFIG_GLOBALCONFIG (or the prefix) puts it in the project:
  // kept read-only (hostfiles.ts), and over that, like the one outside, without credentials.
  const globalInProject = input.npmGlobalInProject;
  if (globalInProject != null) {
    mounts.push(
      ...withoutSecrets(
        globalInProject.path,
        globalInProject.text,
        `${globalInProject.path} (npm's global config) without credentials or programs, read-only`,
        npmrcOptions,
      ),
    );
  }
  // npm's user config where NPM_CONFIG_USERCONFIG puts it in the project (a CI job's
  // `$PWD/.npmrc-ci`): inside, it would show the user's token, and what a run wrote there would
  // be the next run's user config — whose registries count as the user's own. Read-only and
  // without credentials, like ~/.npmrc; one created inside is moved aside after the run
  // (hostfiles.ts guardProject).
  const userConfig = input.userNpmrcInProject;
  if (userConfig !== undefined && host.userNpmrc !== null && !settings.fullNpmrc) {
    mounts.push({
      kind: "data",
      dest: userConfig,
      data: sanitizeNpmrc(host.userNpmrc, npmrcOptions).text,
      label: "your npm user config (NPM_CONFIG_USERCONFIG) without credentials, read-only",
    });
  }
  // The same files where the environment or the user config puts them elsewhere, at each name
  // under which a folder bound inside shows them (/etc, /usr, a tool's prefix, the project):
  // code inside must not read their credentials. In the home (a tmpfs inside) nothing more is
  // needed; with fullNpmrc the user config comes in whole anyway (yarn 1's as root does not:
  // fullNpmrc names ~/.npmrc).
  for (const config of input.namedNpmConfigs ?? []) {
    if (config.what === "user" && settings.fullNpmrc) continue;
    // One in the project that is bound over already (hostfiles.ts) keeps that copy.
    const covered = (path: string): boolean =>
      mounts.some((m) => m.kind === "data" && m.dest === path);
    const shown = config.paths.filter((path) => !covered(path) && showsHostPath(mounts, path));
    const what = configLabel(config.what);
    for (const path of unique(shown)) {
      mounts.push(
        ...(config.text === null
          ? [{ kind: "data" as const, dest: path, data: "", label: `hidden: ${path} (${what})` }]
          : withoutSecrets(
              path,
              config.text,
              `${path} (${what}) without credentials or programs`,
              npmrcOptions,
            )),
      );
    }
  }
  for (const path of input.hide ?? []) {
    mounts.push({
      kind: "data",
      dest: path,
      data: "",
      label: "hidden: your client certificate key",
    });
  }
  // A path already mounted read-only (the user's .npmrc with home "project") needs no stand-in.
  const mounted = new Set(mounts.map((m) => m.dest));
  for (const path of input.seal) {
    if (mounted.has(path)) continue;
    mounts.push({
      kind: "data",
      dest: path,
      data: "",
      label: `empty, read-only: ${basename(path)} cannot be created`,
    });
  }
  for (const path of input.sealDirs ?? []) {
    if (!mounted.has(path)) mounts.push({ kind: "empty-dir", dest: path });
  }
  pinAncestors(mounts, project.root);
  const marker: SandboxMarker = {
    version: input.version,
    projectRoot: project.root,
    network: input.network,
  };
  mounts.push({
    kind: "data",
    dest: MARKER_PATH,
    data: `${JSON.stringify(marker)}\n`,
    label: "sandbox marker",
  });

  const nodeInside = visible(input.node.bin) ? input.node.bin : input.node.real;
  const bridge = bridgeKind(input);
  if (input.network === "registry" && input.proxy !== null) {
    const { socketPath, bridgePath, caBundlePath, caNodeBundlePath } = input.proxy;
    const perl = bridge?.kind === "perl";
    const bridgeScript = perl ? null : bridgePath;
    const caPaths = [caBundlePath ?? null, caNodeBundlePath ?? null] as const;
    for (const bind of bridgeBinds(socketPath, bridgeScript, ...caPaths)) {
      mounts.push({ kind: "ro-bind", ...bind });
    }
    if (perl) {
      mounts.push({
        kind: "data",
        dest: BRIDGE_PERL_INSIDE,
        data: BRIDGE_PERL,
        label: "network bridge",
      });
    }
  }

  const fromScript = host.env.npm_lifecycle_event !== undefined;
  const env = buildEnv(input, fromScript, (dir) => visible(dir));

  const command = [...input.command];
  if (input.kind === "pm") {
    const tool = input.tools[0];
    if (tool !== undefined) command[0] = visible(tool.bin) ? tool.bin : tool.real;
  }
  // Registry mode: the bridge listens on the sandbox's loopback, relays to the host proxy and
  // starts the command with the proxy variables set, and the signals it ignores restored.
  const port = input.proxy?.port;
  if (bridge?.kind === "perl" && bridge.nodeMajor === 22) {
    // Node 22 announces its EnvHttpProxyAgent (NODE_USE_ENV_PROXY) as experimental at every
    // start: once per node process (npm, each lifecycle script) on the user's terminal.
    env.NODE_OPTIONS = [env.NODE_OPTIONS, "--disable-warning=UNDICI-EHPA"]
      .filter(Boolean)
      .join(" ");
  }
  const seccomp = host.arch === "x64" || host.arch === "arm64";
  return {
    command:
      bridge === null
        ? command
        : bridge.kind === "perl"
          ? perlBridgeArgv(SOCKET_INSIDE, command, port, env)
          : bridgeArgv(nodeInside, command, { port, extraCa: env.NODE_EXTRA_CA_CERTS }),
    cwd: host.cwd,
    env,
    mounts,
    network: input.network,
    userNamespace: true,
    seccomp,
    // Needs perl for setpgid/tcsetpgrp, and the seccomp filter (else --new-session guards the
    // terminal, and there is no terminal to hand over).
    foreground: host.foregroundTty && host.perl && seccomp,
    awayFromTerminal: host.backgroundTty === true,
    jobControl: host.jobControl,
    node: nodeInside,
    hostname: "safe-npm",
  };
}

/**
 * Which bridge stands in front of a registry-mode command (null: none). The perl one
 * (network/bridgeperl.ts) starts ~40 ms sooner than node; it needs /usr/bin/perl, Linux's usual
 * socket constants (x86_64, arm64), and the node inside to be the one safe-npm runs on, whose
 * version is known here (node 22 needs a flag the node bridge adds by itself).
 */
function bridgeKind(
  input: PolicyInput,
): { kind: "perl"; nodeMajor: number } | { kind: "node" } | null {
  if (input.network !== "registry" || input.proxy === null) return null;
  const { host } = input;
  const fits = host.perl && (host.arch === "x64" || host.arch === "arm64");
  return fits && input.node.real === host.selfNode.real
    ? { kind: "perl", nodeMajor: host.selfNode.major }
    : { kind: "node" };
}

/**
 * A mount below the project root moves with its parent: code inside could rename `.yarn` away
 * (the read-only `.yarn/releases` with it), recreate the path with its own content, and host
 * yarn would run that. So every directory between the root (exclusive) and each mount inside
 * the project is pinned, parents first, right after the project's bind and before the mounts
 * it carries: rename(2) and rmdir(2) of a mount point fail with EBUSY (rename(2), "EBUSY").
 * Directories inside a read-only mount need no pin (EROFS already), nor those that are mount
 * points of their own. Mutates `mounts`.
 */
export function pinAncestors(mounts: Mount[], root: string): void {
  const at = mounts.findLastIndex((m) => m.kind === "bind" && m.src === root && m.dest === root);
  if (at < 0) return;
  const later = mounts.slice(at + 1).filter((m) => m.kind !== "symlink" && isInside(m.dest, root));
  const dests = new Set(later.map((m) => m.dest));
  const readOnly = later.flatMap((m) =>
    m.kind === "ro-bind" || m.kind === "empty-dir" ? [m.dest] : [],
  );
  const pins: string[] = [];
  for (const mount of later) {
    const chain: string[] = [];
    for (let dir = dirname(mount.dest); dir !== root && isInside(dir, root); dir = dirname(dir)) {
      chain.unshift(dir);
    }
    for (const dir of chain) {
      if (readOnly.some((r) => r === dir || isInside(dir, r))) break;
      if (!dests.has(dir) && !pins.includes(dir)) pins.push(dir);
    }
  }
  pins.sort((a, b) => a.split(sep).length - b.split(sep).length);
  mounts.splice(at + 1, 0, ...pins.map((dest): Mount => ({ kind: "pin", dest })));
}

/**
 * What to bind for a tool: its install prefix, unless that would show more than the tool — a
 * prefix that is `/`, a top-level directory, or contains the home or the project (node in
 * `~/bin` has prefix `~`) — then its bin directory, else the file alone.
 */
export function toolMount(tool: ResolvedTool, home: string, projectRoot: string): string {
  const tooWide = (dir: string): boolean =>
    dir.split("/").filter(Boolean).length < 2 ||
    dir === home ||
    isInside(home, dir) ||
    dir === projectRoot ||
    isInside(projectRoot, dir);
  for (const candidate of [tool.prefix, dirname(tool.real)]) {
    if (!tooWide(candidate)) return candidate;
  }
  return tool.real;
}

function buildEnv(
  input: PolicyInput,
  fromScript: boolean,
  visible: (dir: string) => boolean,
): Record<string, string> {
  const { host } = input;
  const env: Record<string, string> = {};
  const pass = (name: string): void => {
    const value = host.env[name];
    if (value !== undefined && !isSecretName(name)) env[name] = stripUrlCredentials(value);
  };
  env.HOME = input.settings.home === "project" ? input.project.root : host.home;
  env.USER = host.user;
  env.LOGNAME = host.user;
  for (const name of PASS_ENV) pass(name);
  for (const name of Object.keys(host.env).sort()) if (name.startsWith("LC_")) pass(name);
  if (fromScript) for (const name of SCRIPT_ENV) pass(name);
  // A corporate CA bundle that the sandbox can see (under /etc or /usr) keeps TLS working inside.
  const extraCa = host.env.NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined && isSystemPath(extraCa)) env.NODE_EXTRA_CA_CERTS = extraCa;
  // The registry gateway: its CA (with the user's own CAs node does not ship) added to every
  // node's trusted list; where npm config names a cafile, which replaces that list, the whole
  // bundle replaces the cafile.
  if (input.network === "registry" && input.proxy?.caBundlePath) {
    const nodeBundle = input.proxy.caNodeBundlePath;
    env.NODE_EXTRA_CA_CERTS =
      nodeBundle && nodeBundle !== input.proxy.caBundlePath ? CA_NODE_INSIDE : CA_INSIDE;
    if (input.proxy.cafileConfigured === true) env.npm_config_cafile = CA_INSIDE;
  }
  env.TMPDIR = "/tmp";
  const { nodeHeaders, corepack, yarnClassic } = input.toolchain;
  if (nodeHeaders !== null) env.npm_config_nodedir = nodeHeaders;
  // Caches that would otherwise land outside the home: yarn 1 as root uses /usr/local/share
  // (read-only inside); pnpm cannot hard-link across the home and project mounts and then puts
  // its store in the project (`<project>/.pnpm-store` for pnpm 10 and 11,
  // `node_modules/.pnpm-store` for 12), where git or `rm -rf node_modules` sees it. Named
  // explicitly it stays in the home, at the same path as the host's default, so
  // node_modules/.modules.yaml names a store that bare pnpm on the host accepts. pnpm 10 reads
  // npm_config_*, pnpm 11 and later only pnpm_config_*
  // (https://github.com/pnpm/pnpm/blob/main/pnpm/crates/config/src/env_overlay.rs). The latter
  // are set on every run, since pnpm also arrives through `exec`, scripts and `npx pnpm`; the
  // former only when pnpm is the tool, as npm warns about npm_config_* keys it does not know.
  if (yarnClassic) env.YARN_CACHE_FOLDER = join(env.HOME, ".cache", "yarn");
  else if (input.settings.home !== "project") {
    env.YARN_GLOBAL_FOLDER = yarnGlobalFolder(input.privateHome);
  }
  const pnpmIsTool = input.tools.some((t) => PNPM_NAMES.includes(basename(t.bin)));
  for (const [key, value] of Object.entries(pnpmSettings(env.HOME))) {
    env[`pnpm_config_${key}`] = value;
    if (pnpmIsTool) env[`npm_config_${key}`] = value;
  }
  if (corepack !== null) {
    env.COREPACK_HOME = corepack.home;
    // Fail with corepack's own message instead of trying to download inside the sandbox.
    env.COREPACK_ENABLE_NETWORK = "0";
  }
  // Named by the user in settings: passed as they are, whatever the name looks like.
  for (const name of input.settings.envPass) {
    const value = host.env[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, input.settings.envSet);

  // PATH: when run from a package.json script, the node_modules/.bin chain the package manager
  // put in front (only directories the sandbox can see); then the toolchain; then the system.
  // From the raw PATH: host.pathDirs leaves out node_modules/.bin (a tool planted there must not
  // become the host's), but inside the sandbox the chain is what the script expects.
  const scriptDirs = fromScript
    ? (host.env.PATH ?? "")
        .split(":")
        .filter((d) => isAbsolute(d) && visible(d) && !isSystemPath(d))
    : [];
  const toolDirs = [input.node, ...input.tools]
    .map((t) => dirname(t.bin))
    .filter((d) => visible(d));
  env.PATH = unique([
    ...scriptDirs,
    TOOL_BIN,
    ...toolDirs,
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
  ]).join(":");
  return env;
}

/** pnpm under its command names (pn and pnx are pnpm 11+'s short aliases). */
const PNPM_NAMES = ["pnpm", "pnpx"];

/**
 * What safe-npm sets for pnpm, by setting name (snake case, as the variables spell it): each is
 * passed as both `npm_config_<key>` (pnpm 10) and `pnpm_config_<key>` (pnpm 11+).
 */
export function pnpmSettings(home: string): Record<string, string> {
  return { store_dir: join(home, ".local", "share", "pnpm", "store") };
}

function isSystemPath(path: string): boolean {
  return SYSTEM_DIRS.some((d) => path === d || path.startsWith(`${d}/`));
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

/**
 * Whether `path` shows, inside, the host's file of that name: the last mount over it (a later
 * mount covers an earlier one) binds the same host path there. A tmpfs, a private home's cache
 * (bound from elsewhere) or no mount at all: not shown.
 */
export function showsHostPath(mounts: readonly Mount[], path: string): boolean {
  let shows = false;
  for (const mount of mounts) {
    if (mount.dest !== path && !isInside(path, mount.dest)) continue;
    switch (mount.kind) {
      case "bind":
      case "ro-bind":
        shows = join(mount.src, relative(mount.dest, path)) === path;
        break;
      case "pin":
        shows = true;
        break;
      default:
        shows = false;
    }
  }
  return shows;
}

/** An npmrc bound over without its credentials and programs; nothing when it has none. */
function withoutSecrets(
  dest: string,
  text: string,
  label: string,
  options: Parameters<typeof sanitizeNpmrc>[1],
): Mount[] {
  const sanitized = sanitizeNpmrc(text, options);
  return sanitized.removed.length > 0 ? [{ kind: "data", dest, data: sanitized.text, label }] : [];
}
