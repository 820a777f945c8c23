/**
 * Host facts, gathered once per run and passed down. Nothing after this module looks at
 * `process.env`, the uid or the filesystem layout of the host on its own.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import { homedir, userInfo } from "node:os";
import { basename, delimiter, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { isatty } from "node:tty";
import { SafeNpmError } from "../errors.js";
import { parseNpmrc } from "../sandbox/npmrc.js";
import { readRegularFile } from "../sandbox/safepath.js";
import { startupExtraCa } from "./nodeca.js";
import { type ProcStat, procStat } from "./procstat.js";
import { type OwnCache, ownCache, pathPlace, toolPlace } from "./projectplace.js";
import { isShim, shimDir } from "./shims.js";

/** Where the sandbox carries its marker; see `readSandboxMarker`. */
export const MARKER_PATH = "/run/safe-npm/sandbox.json";

export interface SandboxMarker {
  version: string;
  projectRoot: string;
  network: string;
}

export interface HostInfo {
  platform: NodeJS.Platform;
  arch: string;
  env: Readonly<Record<string, string | undefined>>;
  uid: number;
  gid: number;
  /**
   * The `NODE_EXTRA_CA_CERTS` this node process loaded when it started (which `env` need not
   * name; null when the `safe-npm` command moved it aside, nodeca.ts): node's default trust
   * holds those certificates already.
   */
  nodeExtraCa: string | null;
  /** Real path of the user's home directory. */
  home: string;
  user: string;
  /** Real path of the working directory. */
  cwd: string;
  /** `$XDG_CACHE_HOME` (default `~/.cache`): the user's caches (shared caches, corepack). */
  cacheHome: string;
  /** Where safe-npm's own cache lives: cacheHome unless that lies in a project (projectplace.ts). */
  ownCache: OwnCache;
  /**
   * PATH's absolute directories without safe-npm's shim directory: tools are looked up here, so
   * a shim is never taken for the tool it stands for, nor any directory a sandbox may have
   * written (`skippedPathDirs`). The raw PATH is `env.PATH`.
   */
  pathDirs: readonly string[];
  /**
   * PATH directories left out because they lie in a `node_modules` or a project
   * (host/projectplace.ts): a bin planted there by a sandboxed run would otherwise become the
   * real tool that host commands run. Each with the reason, for doctor and --verbose.
   */
  skippedPathDirs: readonly { dir: string; why: string }[];
  /** Where `safe-npm setup` puts its shims (host/shims.ts), whether or not it ran. */
  shimDir: string;
  /** `bwrap` found on PATH, or null. */
  bwrap: string | null;
  /**
   * Top-level directories that merged-/usr hosts make symlinks (`/bin -> usr/bin`): the link
   * target, or null when the host has a real directory there. Absent names do not exist.
   */
  rootDirs: Readonly<Record<string, string | null>>;
  /** The real file behind `/etc/resolv.conf` when it lives outside /etc and /usr (systemd-resolved). */
  resolvConf: string | null;
  /**
   * The user's npm config (`~/.npmrc`, or the file `npm_config_userconfig` /
   * `NPM_CONFIG_USERCONFIG` names, as npm reads it), or null when there is none.
   */
  userNpmrc: string | null;
  /** yarn berry's `~/.yarnrc.yml` (its registry credentials stay on the host), or null. */
  userYarnrcYml?: string | null | undefined;
  /**
   * pnpm 11+'s `auth.ini` in its config folder (pnpmConfigHome), where `pnpm login` and
   * `pnpm config set` write registries and tokens; null when there is none or it lies in a
   * project (whose runs could have written it).
   */
  userPnpmAuth?: { path: string; text: string } | null | undefined;
  stdinIsTty: boolean;
  /**
   * Stdin is a terminal and this process's group is its foreground group (not started with `&`):
   * only then may the sandbox's command take the terminal's foreground.
   */
  foregroundTty: boolean;
  /**
   * Stdin, stdout or stderr is a terminal whose foreground group this process's group is not
   * (started with `&`): the sandbox must get none of its descriptors, even if the job is brought
   * to the foreground later (spawn.ts awayFromTerminal).
   */
  backgroundTty?: boolean | undefined;
  /**
   * This process's group is not its session leader's: a job-control shell made it a job, so a
   * stop (Ctrl-Z) of the command may stop it for that shell to report.
   */
  jobControl: boolean;
  /** Present when this process already runs inside a safe-npm sandbox. */
  sandbox: SandboxMarker | null;
  /** /usr/bin/perl exists (it gives the command the terminal's foreground inside). */
  perl: boolean;
  /** The node safe-npm runs on: its real path and major version (the bridge it picks). */
  selfNode: { real: string; major: number };
  /**
   * util-linux's nsenter from a system directory (never PATH, which the project can lead with
   * `node_modules/.bin`): it runs the port forwarder in the sandbox's network namespace.
   */
  nsenter: string | null;
}

/** The top-level directories a sandbox offers besides /usr and /etc. */
export const ROOT_DIRS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] as const;

export function gatherHost(
  live: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): HostInfo {
  // A plain copy, read once: each lookup in process.env, and each walk of it (the settings that
  // npm reads as `npm_config_*` in any case), asks the C++ side again (~0.1 ms a walk).
  const env: Readonly<Record<string, string | undefined>> = { ...live };
  if (process.platform !== "linux") {
    throw new SafeNpmError(
      "NOT_LINUX",
      `safe-npm runs only on Linux (this is ${process.platform})`,
      {
        hint: "bubblewrap needs Linux namespaces; on macOS or Windows run safe-npm in a Linux VM or container",
      },
    );
  }
  const info = userInfo();
  const home = realpathOr(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir());
  const cacheHome =
    env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)
      ? env.XDG_CACHE_HOME
      : join(home, ".cache");
  const shims = shimDir(env, home);
  const shimsReal = existsSync(shims) ? realpathOr(shims) : null;
  // The shim directory, however spelled (`…/shims/`, a link to it), is never searched for tools.
  const skippedPathDirs: { dir: string; why: string }[] = [];
  const pathDirs = (env.PATH ?? "")
    .split(delimiter)
    .filter(
      (d) =>
        isAbsolute(d) &&
        resolve(d) !== resolve(shims) &&
        (shimsReal === null || realpathOr(d) !== shimsReal),
    )
    .filter((dir) => {
      const why = pathPlace(dir, home, env);
      if (why !== null) skippedPathDirs.push({ dir, why });
      return why === null;
    });
  const rootDirs: Record<string, string | null> = {};
  for (const dir of ROOT_DIRS) {
    try {
      const st = lstatSync(dir);
      rootDirs[dir] = st.isSymbolicLink() ? readlinkSync(dir) : null;
    } catch {
      // absent on this host
    }
  }
  const stdinTty = isatty(0);
  const foreground = isForegroundGroup();
  return {
    platform: process.platform,
    arch: process.arch,
    env,
    uid: info.uid,
    gid: info.gid,
    nodeExtraCa: startupExtraCa(),
    home,
    user: env.USER ?? info.username,
    cwd: realpathOr(cwd),
    cacheHome,
    ownCache: ownCache(cacheHome, home),
    pathDirs,
    skippedPathDirs,
    shimDir: shims,
    // Never from a node_modules/.bin on PATH (a bare `npm run` puts the project's first): bwrap
    // runs on the host, outside the sandbox. pathDirs has none left, even spelled through a link.
    bwrap: which("bwrap", pathDirs),
    rootDirs,
    resolvConf: resolvConfTarget(),
    userNpmrc: readOrNull(userConfigPath(env, home)),
    userYarnrcYml: readOrNull(join(home, ".yarnrc.yml")),
    userPnpmAuth: usersPnpmAuth(env, home),
    // isatty(0), not process.stdin.isTTY: that getter builds a stream for fd 0, which for a
    // file or pipe loads node's fs streams, fs/promises and readline (~5 ms) for one answer.
    stdinIsTty: stdinTty,
    foregroundTty: stdinTty && foreground,
    backgroundTty: !foreground && [0, 1, 2].some((fd) => isatty(fd)),
    jobControl: isJob(),
    sandbox: readSandboxMarker(),
    perl: isExecutable("/usr/bin/perl"),
    selfNode: {
      real: realpathOr(process.execPath),
      major: Number.parseInt(process.versions.node, 10),
    },
    nsenter: which("nsenter", ["/usr/bin", "/bin"]),
  };
}

/**
 * npm's user config: `npm_config_userconfig` (npm reads `npm_config_*` in any case; setup-node
 * sets `NPM_CONFIG_USERCONFIG`), a `~/` path resolved against the home, else `~/.npmrc`. The
 * user's own file: a link there (a dotfiles manager's) is followed.
 */
export function userConfigPath(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string {
  const named = npmEnv(env, "userconfig");
  if (named === undefined) return join(home, ".npmrc");
  return named.startsWith("~/") ? join(home, named.slice(2)) : resolve(named);
}

/**
 * An npm setting from the environment as npm reads it: any spelling of `npm_config_<key>`, the
 * last non-empty one in the environment's order winning (@npmcli/config loadEnv), with `${NAME}`
 * replaced from the environment as npm's parseField does before it uses the value
 * (`NPM_CONFIG_USERCONFIG='/etc/${SUB}/npmrc'` is `/etc/ci/npmrc` to npm).
 */
export function npmEnv(
  env: Readonly<Record<string, string | undefined>>,
  key: string,
): string | undefined {
  const value = npmEnvWritten(env, key);
  // parseField trims a value before it replaces variables in it.
  return value === undefined ? undefined : npmEnvReplace(value.trim(), env);
}

/** The same setting as the environment spells it, before npm replaces `${NAME}` in it. */
export function npmEnvWritten(
  env: Readonly<Record<string, string | undefined>>,
  key: string,
): string | undefined {
  const name = `npm_config_${key}`;
  let value: string | undefined;
  for (const [k, v] of Object.entries(env)) if (v && k.toLowerCase() === name) value = v;
  return value;
}

/**
 * A path setting's value as npm's parseField makes it: trimmed, `${NAME}` replaced, `~/` the
 * home, else resolved against npm's working folder — null then (empty, relative, a bare `~`,
 * or built on `${PWD}`: perFolderVariable), since it names a different file in every folder a
 * tool runs in.
 */
export function npmPathValue(
  raw: string,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): string | null {
  if (perFolderVariable(raw) !== null) return null;
  const value = npmEnvReplace(raw.trim(), env);
  if (value.startsWith("~/")) return join(home, value.slice(2));
  return isAbsolute(value) ? resolve(value) : null;
}

/**
 * Variables that hold the folder a tool runs in (the shell's PWD and OLDPWD, npm's INIT_CWD):
 * a config path built on one names a different file in every folder, as a relative one does.
 */
const PER_FOLDER_VARIABLES = ["PWD", "OLDPWD", "INIT_CWD"];

/**
 * The first per-folder variable a value names as `${NAME}` or `${NAME?}` (not escaped), or null.
 * npm, pnpm and yarn replace them from their own environment, in whatever folder they run.
 */
export function perFolderVariable(text: string): string | null {
  for (const m of text.matchAll(/(?<!\\)(\\*)\$\{([^${}?]+)\??\}/g)) {
    if ((m[1] ?? "").length % 2 === 1) continue;
    const name = m[2] ?? "";
    if (PER_FOLDER_VARIABLES.includes(name)) return name;
  }
  return null;
}

/**
 * @npmcli/config's env-replace: `${NAME}` → the variable, left as it is when unset; `${NAME?}`
 * → empty when unset; an odd number of backslashes before `$` escapes it.
 */
export function npmEnvReplace(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  return text.replace(
    /(?<!\\)(\\*)\$\{([^${}?]+)(\?)?\}/g,
    (orig: string, esc: string, name: string, optional: string | undefined) => {
      if (esc.length % 2 === 1) return orig.slice((esc.length + 1) / 2);
      const value = env[name] ?? (optional === "?" ? "" : `\${${name}}`);
      return esc.slice(esc.length / 2) + value;
    },
  );
}

/** First executable `name` on the given PATH directories, as found (not resolved). */
export function which(name: string, pathDirs: readonly string[]): string | null {
  if (name.includes("/")) return isExecutable(name) ? name : null;
  for (const dir of pathDirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return !lstatSync(realpathSync(path)).isDirectory();
  } catch {
    return false;
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * The user's pnpm `auth.ini` (HostInfo.userPnpmAuth): a regular file outside any project, by
 * its name and by the file a link leads to, with no second name (a hard link from a project):
 * what a run could have written must not count as the user's registries and tokens.
 */
function usersPnpmAuth(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): { path: string; text: string } | null {
  const path = join(pnpmConfigHome(env, home), "auth.ini");
  const text = readConfigText(path);
  if (text === null) return null;
  try {
    if (statSync(path).nlink !== 1) return null;
    const real = realpathSync(path);
    for (const dir of new Set([dirname(path), dirname(real)]))
      if (pathPlace(dir, home, env) !== null) return null;
  } catch {
    return null;
  }
  return { path, text };
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function resolvConfTarget(): string | null {
  try {
    if (!lstatSync("/etc/resolv.conf").isSymbolicLink()) return null;
    const target = realpathSync("/etc/resolv.conf");
    return target.startsWith(`/etc${sep}`) || target.startsWith(`/usr${sep}`) ? null : target;
  } catch {
    return null;
  }
}

/**
 * The marker is a read-only file that bwrap mounts at MARKER_PATH. Code outside a sandbox cannot
 * fake it without root: the file must exist *and* be a mount point of its own in
 * /proc/self/mountinfo, and /run belongs to root on every distribution.
 */
export function readSandboxMarker(): SandboxMarker | null {
  if (!existsSync(MARKER_PATH)) return null;
  try {
    const mounts = readFileSync("/proc/self/mountinfo", "utf8");
    const isMountPoint = mounts.split("\n").some((line) => line.split(" ")[4] === MARKER_PATH);
    if (!isMountPoint) return null;
    const parsed = JSON.parse(readFileSync(MARKER_PATH, "utf8")) as Partial<SandboxMarker>;
    if (typeof parsed.projectRoot !== "string") return null;
    return {
      version: String(parsed.version ?? ""),
      projectRoot: parsed.projectRoot,
      network: String(parsed.network ?? ""),
    };
  } catch {
    return null;
  }
}

export interface ResolvedTool {
  /** How the tool was named on PATH (may be a symlink, e.g. /usr/bin/npm). */
  bin: string;
  /** Its real path (e.g. /usr/lib/node_modules/npm/bin/npm-cli.js). */
  real: string;
  /** The install prefix that must be visible for the tool to run (bound read-only). */
  prefix: string;
}

/**
 * Finds a tool on the host PATH and the directory it needs: for node, the prefix above `bin/`
 * (so nvm's `~/.nvm/versions/node/vX` comes along with its `lib/` and `include/`); for a
 * JavaScript package manager, its package directory.
 */
export function resolveTool(name: string, host: HostInfo): ResolvedTool | null {
  if (name.includes("/")) {
    const bin = which(name, []);
    return bin === null
      ? null
      : { bin, real: realpathOr(bin), prefix: toolPrefix(realpathOr(bin)) };
  }
  for (const dir of host.pathDirs) {
    const bin = join(dir, name);
    // A safe-npm shim found anywhere else on PATH (another XDG_DATA_HOME, a copy) is skipped too:
    // bound inside as the tool it would call safe-npm again.
    if (!isExecutable(bin) || isShim(bin)) continue;
    const real = realpathOr(bin);
    return { bin, real, prefix: toolPrefix(real) };
  }
  return null;
}

/**
 * Refuses a tool safe-npm is about to run on the host (a package manager for a host command,
 * the node its `#!/usr/bin/env node` finds, bwrap) when its real file lies where a sandboxed run
 * may write (projectplace.ts toolPlace): a clean PATH entry can hold a link into a project.
 */
export function requireHostTool(
  name: string,
  bin: string,
  host: Pick<HostInfo, "home" | "env">,
): void {
  const problem = hostToolProblem(name, bin, host);
  if (problem === null) return;
  throw new SafeNpmError("UNSAFE_TOOL", problem, {
    hint: `put the directory of a ${name} installed outside any project first on PATH${bin === realpathOr(bin) ? "" : `, or remove the link ${bin}`}; a project's own ${name} (\`npm link\`) is for running inside the sandbox only`,
  });
}

/** Why `bin` must not run on the host (requireHostTool), or null. */
export function hostToolProblem(
  name: string,
  bin: string,
  host: Pick<HostInfo, "home" | "env">,
): string | null {
  const real = realpathOr(bin);
  const why = toolPlace(real, host.home, host.env);
  return why === null
    ? null
    : `${name} on PATH is ${bin === real ? bin : `${bin} → ${real}`}, and ${why}: a sandboxed run may have rewritten it, so safe-npm does not run it on the host`;
}

/**
 * The node binary behind `node` on PATH when that is a script: yarn's `run` puts a
 * `/tmp/yarn--…/node` wrapper (`exec "<node>" "$@"`) first on PATH, and such a script execs a
 * node the sandbox would not otherwise see (nvm's, or one outside the system dirs). The node
 * running safe-npm is the one the script chose (the `safe-npm` command's own `exec node` went
 * through it), so it comes in too, read-only, with the script still first under its name.
 */
export function nodeBehindScript(found: ResolvedTool, execPath: string): ResolvedTool | null {
  if (!startsWithShebang(found.real)) return null;
  const real = realpathOr(execPath);
  return real === found.real ? null : { bin: execPath, real, prefix: toolPrefix(real) };
}

function startsWithShebang(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString("latin1") === "#!";
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `…/node_modules/name` or `…/node_modules/@scope/name`. */
function isPackageDir(dir: string): boolean {
  const parent = dirname(dir);
  const inScope = basename(parent).startsWith("@");
  return basename(inScope ? dirname(parent) : parent) === "node_modules";
}

function toolPrefix(real: string): string {
  // A package's bin script: walk up to the directory holding its package.json.
  for (let dir = dirname(real); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && isPackageDir(dir)) return dir;
    if (dir.endsWith(`${sep}node_modules`)) break;
  }
  const binDir = dirname(real);
  return binDir.endsWith(`${sep}bin`) ? dirname(binDir) : binDir;
}

/** /proc/self/stat fields 5 (pgrp) and 6 (session): the group is not the session leader's. */
export function isJob(stat: ProcStat | null = procStat("self")): boolean {
  if (stat === null) return false;
  return stat.pgrp > 0 && stat.session > 0 && stat.pgrp !== stat.session;
}

/**
 * This process's group is the foreground group of its controlling terminal: /proc/self/stat
 * fields 5 (pgrp) and 8 (tpgid).
 */
export function isForegroundGroup(stat: ProcStat | null = procStat("self")): boolean {
  if (stat === null) return false;
  return stat.pgrp > 0 && stat.pgrp === stat.tpgid;
}

/**
 * Why npm's global config may not count as the user's own on the host (its registries allowed as
 * the user's, its cafile trusted, its credentials held), or null when it may. Not when it lies in
 * a project — this one, or any other by pathPlace's rules, by its written and its real path: a
 * sandboxed run there may have rewritten it — nor when it has another name too (a hard link
 * from a project's file), nor when anyone but root and this user owns it or a folder on its real
 * path, or anyone at all may write one: a yarn `run` wrapper (`/tmp/yarn--…/node`) seen as node
 * would make `/tmp/etc/npmrc`, which anyone may create, npm's global config by its prefix. A
 * sticky folder (`/tmp`) is fine above folders of the user's own; group-writable folders are
 * too (umask 002 homes, dev containers' nvm group).
 */
export function npmGlobalConfigProblem(
  config: NpmGlobalConfig,
  projectRoot: string,
  host: Pick<HostInfo, "home" | "env">,
  uid: number = process.getuid?.() ?? -1,
): string | null {
  let real: string;
  try {
    real = realpathSync(config.path);
  } catch {
    return "it cannot be resolved";
  }
  if (real === projectRoot || real.startsWith(`${projectRoot}${sep}`)) {
    return "it lies in this project";
  }
  for (const dir of new Set([dirname(config.path), dirname(real)])) {
    const place = pathPlace(dir, host.home, host.env);
    if (place !== null) return `it lies in a project (${place})`;
  }
  for (let at = real; ; at = dirname(at)) {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(at);
    } catch {
      return `${at} cannot be read`;
    }
    if (at === real && st.nlink > 1) return "it has other names (hard links)";
    if (st.uid !== 0 && st.uid !== uid) return `${at} belongs to another user`;
    if ((st.mode & 0o002) !== 0 && !(st.isDirectory() && (st.mode & 0o1000) !== 0)) {
      return `anyone may write ${at}`;
    }
    if (dirname(at) === at) return null;
  }
}

/** npm's global config when it may count as the user's own (npmGlobalConfigProblem), else null. */
export function usersNpmGlobalConfig(
  config: NpmGlobalConfig | null,
  projectRoot: string,
  host: Pick<HostInfo, "home" | "env">,
  uid?: number,
): NpmGlobalConfig | null {
  if (config === null) return null;
  return npmGlobalConfigProblem(config, projectRoot, host, uid) === null ? config : null;
}

/**
 * pnpm's global config folder (`config.yaml`, `auth.ini`; pnpm 10's `rc`): `PNPM_CONFIG_HOME`
 * when set and absolute (pnpm 12.23+; hostfiles.ts refuses a relative one), else
 * `$XDG_CONFIG_HOME/pnpm`, else `~/.config/pnpm`. `legacy`: pnpm 10, which knows only the latter.
 */
export function pnpmConfigHome(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  legacy = false,
): string {
  const own = env.PNPM_CONFIG_HOME;
  if (!legacy && own && isAbsolute(own)) return own;
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, ".config"), "pnpm");
}

/** An npm config file the environment names, under each name it has, with its text. */
export interface NamedNpmConfig {
  /** "yarn1-root": yarn 1's user config when it runs as root (yarn1RootConfigs). */
  what: ConfigWhat | "yarn1-root";
  /** As the variable spells it, and resolved (links followed). */
  paths: string[];
  /** null: it exists but was not read (not a regular file, or past 1 MiB): hidden whole. */
  text: string | null;
}

/**
 * The npm config files the host's npm reads besides `~/.npmrc` and node's own global npmrc
 * (npmConfigCandidates), with their text: a CI job's `/etc/npmrc-ci` or
 * `NPM_CONFIG_PREFIX=/usr/local`'s `/usr/local/etc/npmrc` holds a token, and the folder may be
 * visible inside (policy.ts binds over such a name without credentials). Folders are left out:
 * npm reads no config from one.
 */
export function namedNpmConfigs(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  userNpmrc: string | null = null,
  projectRoot: string | null = null,
  nodePrefix: string | null = null,
  projectNpmrc: string | null = null,
): NamedNpmConfig[] {
  const out: NamedNpmConfig[] = [];
  const seen = new Set<string>();
  const candidates = [
    ...npmConfigCandidates(env, home, userNpmrc, nodePrefix, projectNpmrc),
    ...pnpmConfigCandidates(env, home),
  ];
  for (const candidate of candidates) {
    const { what, path } = candidate;
    if (path === null) continue; // refused before (hostfiles.ts)
    if (seen.has(path)) continue;
    seen.add(path);
    // In the project (hostile after any run): never read, nor its links resolved — hidden
    // whole where hostfiles.ts does not already bind it over (or hides its whole folder).
    if (projectRoot !== null && (path === projectRoot || path.startsWith(`${projectRoot}${sep}`))) {
      if (candidate.inConfigHome === true) continue;
      if (lstatSync(path, { throwIfNoEntry: false })?.isFile() === true)
        out.push({ what, paths: [path], text: null });
      continue;
    }
    const config = readNamedConfig(what, path);
    // pnpm's config.yaml is YAML, which the npmrc copy would not clean: hidden whole.
    if (config !== null) out.push(what === "pnpm-yaml" ? { ...config, text: null } : config);
  }
  return out;
}

/**
 * A config file outside the project under each name it has, with its text (null: it exists
 * but was not read — hidden whole); null for a folder or nothing there.
 */
function readNamedConfig(what: NamedNpmConfig["what"], path: string): NamedNpmConfig | null {
  try {
    if (statSync(path).isDirectory()) return null;
  } catch {
    return null;
  }
  let text: string | null;
  try {
    // Only a regular file, by its descriptor: a FIFO or device there must not hang the read.
    text = readRegularFile(path, false, 1 << 20);
  } catch {
    // What cannot be read is not copied, but hidden all the same where it shows.
    if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return null;
    text = null;
  }
  return { what, paths: [...new Set([path, realpathOr(path)])], text };
}

/**
 * Where yarn 1 keeps the user's config when it runs as root: `/usr/local/share`, not `$HOME`
 * (yarn's src/util/user-home-dir.js). Inside, a root run is uid 0 too, and /usr is shown.
 */
export const YARN1_ROOT_HOME = "/usr/local/share";

/**
 * yarn 1's user config as root: `.npmrc` (its npm registry's user config, where
 * `yarn config set` as root does not write but a user may put a token) and `.yarnrc` (where
 * `yarn config set //host/:_authToken …` as root writes it). Both show inside under /usr:
 * policy.ts binds `.npmrc` over without credentials and `.yarnrc` empty — a non-root user's
 * `~/.yarnrc` does not enter either. Only for uid 0: any other user's yarn reads its `$HOME`.
 */
export function yarn1RootConfigs(uid: number, home: string = YARN1_ROOT_HOME): NamedNpmConfig[] {
  if (uid !== 0) return [];
  const out: NamedNpmConfig[] = [];
  const npmrc = readNamedConfig("yarn1-root", join(home, ".npmrc"));
  if (npmrc !== null) out.push(npmrc);
  const yarnrc = readNamedConfig("yarn1-root", join(home, ".yarnrc"));
  if (yarnrc !== null) out.push({ ...yarnrc, text: null });
  return out;
}

/** A config file's text (a regular file, up to 1 MiB), or null: none there, or unreadable. */
function readConfigText(path: string | null): string | null {
  if (path === null) return null;
  try {
    return readRegularFile(path, false, 1 << 20);
  } catch {
    return null;
  }
}

/** Where npm takes a config file from: `path` null when npm resolves the value per folder. */
export interface NpmConfigCandidate {
  /** npm's (pnpm's too) user or global npmrc; pnpm's auth file, or its global config.yaml. */
  what: ConfigWhat;
  path: string | null;
  /** What decided it, for messages (`prefix= in ~/.npmrc`, `PREFIX`). */
  source: string;
  value: string;
  /** In pnpm's config folder: one in the project is hidden with its folder (configHomeGuard). */
  inConfigHome?: boolean;
}

export type ConfigWhat = "user" | "global" | "pnpm-auth" | "pnpm-yaml";

/** How messages name a config file of each kind. */
export function configLabel(what: ConfigWhat | "yarn1-root"): string {
  switch (what) {
    case "pnpm-auth":
      return "pnpm's auth file";
    case "pnpm-yaml":
      return "pnpm's global config.yaml";
    case "yarn1-root":
      return "yarn 1's user config as root";
    default:
      return `npm's ${what} config`;
  }
}

/**
 * The files pnpm reads as the user's besides npm's: the user npmrc `pnpm_config_userconfig`
 * names (pnpm 12 reads it as it reads NPM_CONFIG_USERCONFIG), the auth file
 * `pnpm_config_npmrc_auth_file` names (tokens, and a `tokenHelper` pnpm runs), and `auth.ini`,
 * `rc` (pnpm 10's npmrc) and `config.yaml` (`scriptShell`, `_auth`) in its config folders —
 * PNPM_CONFIG_HOME's and `$XDG_CONFIG_HOME/pnpm`, as pnpm 12 and older ones find them.
 */
export function pnpmConfigCandidates(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): NpmConfigCandidate[] {
  const out: NpmConfigCandidate[] = [];
  const setting = (pattern: RegExp): [string, string] | undefined => {
    let found: [string, string] | undefined;
    for (const [name, value] of Object.entries(env))
      if (value && pattern.test(name)) found = [name, value];
    return found;
  };
  const userconfig = setting(/^pnpm_config_userconfig$/i);
  if (userconfig !== undefined)
    out.push({
      what: "user",
      path: npmPathValue(userconfig[1], env, home),
      source: userconfig[0],
      value: userconfig[1],
    });
  const authFile = setting(/^pnpm_config_npmrc[_-]auth[_-]file$/i);
  if (authFile !== undefined)
    out.push({
      what: "pnpm-auth",
      path: npmPathValue(authFile[1], env, home),
      source: authFile[0],
      value: authFile[1],
    });
  const dirs = new Set([pnpmConfigHome(env, home), pnpmConfigHome(env, home, true)]);
  for (const dir of dirs) {
    for (const [name, what] of [
      ["auth.ini", "pnpm-auth"],
      ["rc", "pnpm-auth"],
      ["config.yaml", "pnpm-yaml"],
    ] as const)
      out.push({ what, path: join(dir, name), source: dir, value: dir, inConfigHome: true });
  }
  return out;
}

/**
 * Where the host's npm takes its user config and its global config from besides `~/.npmrc` and
 * node's own `<prefix>/etc/npmrc`, by @npmcli/config's layers (environment, the project's
 * `.npmrc`, the user config): `userconfig`; `globalconfig`, else `<prefix>/etc/npmrc` for a
 * `prefix` from those layers (keys with `${NAME}` replaced too), `$PREFIX`, or `$DESTDIR` joined
 * with node's prefix (loadGlobalPrefix) — the first that is set, each value
 * as parseField reads it (npmPathValue). Existing or not: a missing one is where a run could
 * plant a config a bare npm obeys (hostfiles.ts watches it, and refuses a relative one).
 */
export function npmConfigCandidates(
  env: Readonly<Record<string, string | undefined>>,
  home: string,
  userNpmrc: string | null,
  nodePrefix: string | null = null,
  projectNpmrc: string | null = null,
): NpmConfigCandidate[] {
  // The last line of a config file that sets the key; an empty value counts (npm resolves it).
  const keyIn = (text: string | null, key: string): string | undefined => {
    let value: string | undefined;
    for (const entry of parseNpmrc(text ?? "")) {
      if (entry.section !== null || typeof entry.value !== "string") continue;
      if (npmEnvReplace(entry.key, env) === key) value = entry.value;
    }
    return value;
  };
  const out: NpmConfigCandidate[] = [];
  const userconfig = npmEnv(env, "userconfig");
  const projectUserconfig = keyIn(projectNpmrc, "userconfig");
  if (userconfig !== undefined)
    out.push({
      what: "user",
      path: userConfigPath(env, home),
      source: "NPM_CONFIG_USERCONFIG",
      value: userconfig,
    });
  else if (projectUserconfig !== undefined)
    // The project's config ranks above the user's: npm reads its user config from there.
    out.push({
      what: "user",
      path: npmPathValue(projectUserconfig, env, home),
      source: "userconfig= in the project's .npmrc",
      value: projectUserconfig,
    });
  // The user config npm reads, whose `globalconfig=` / `prefix=` rank next: the project's
  // `userconfig=` names another than ~/.npmrc (read outside any check of trust: only its two
  // path keys are looked at, to cover or guard one file more).
  const userText =
    userconfig === undefined && projectUserconfig !== undefined
      ? readConfigText(npmPathValue(projectUserconfig, env, home))
      : userNpmrc;
  const raw = (value: string | undefined): string | undefined =>
    value === undefined || value === "" ? undefined : value;
  // Layers as npm ranks them: environment, the project's .npmrc, the user config, defaults.
  const global: [string, string | undefined, boolean][] = [
    ["NPM_CONFIG_GLOBALCONFIG", raw(npmEnv(env, "globalconfig")), false],
    ["globalconfig= in the project's .npmrc", keyIn(projectNpmrc, "globalconfig"), false],
    ["globalconfig= in the user config", keyIn(userText, "globalconfig"), false],
    ["NPM_CONFIG_PREFIX", raw(npmEnv(env, "prefix")), true],
    ["prefix= in the project's .npmrc", keyIn(projectNpmrc, "prefix"), true],
    ["prefix= in the user config", keyIn(userText, "prefix"), true],
    ["PREFIX", raw(env.PREFIX), true],
    [
      "DESTDIR",
      raw(env.DESTDIR) === undefined || nodePrefix === null
        ? undefined
        : join(env.DESTDIR as string, nodePrefix),
      true,
    ],
  ];
  const chosen = global.find(([, value]) => value !== undefined);
  if (chosen !== undefined) {
    const [source, value, isPrefix] = chosen as [string, string, boolean];
    const path = npmPathValue(value, env, home);
    out.push({
      what: "global",
      path: path === null ? null : isPrefix ? join(path, "etc", "npmrc") : path,
      source,
      value,
    });
  }
  return out;
}

/** npm's global config file and its text, when it exists. */
export interface NpmGlobalConfig {
  path: string;
  text: string;
}

/**
 * The global npmrc npm reads inside, found by @npmcli/config's rules: `globalconfig` defaults to
 * `<prefix>/etc/npmrc`, where `prefix` defaults to node's prefix (`dirname(dirname(execPath))`;
 * `$PREFIX` and `$DESTDIR` are not passed inside) and npm's builtin config (`<npm>/npmrc`, where
 * distributions set `globalconfig` or `prefix`) comes first. pnpm and yarn 1 read the same
 * `<node prefix>/etc/npmrc`. The user's ~/.npmrc could redirect both, but its copy inside keeps
 * neither key.
 */
export function readNpmGlobalConfig(
  node: ResolvedTool,
  npm: ResolvedTool | undefined,
): NpmGlobalConfig | null {
  let prefix = dirname(dirname(node.real));
  let path: string | null = null;
  const builtin = npm === undefined ? null : readOrNull(join(npm.prefix, "npmrc"));
  for (const entry of builtin === null ? [] : parseNpmrc(builtin)) {
    if (entry.section !== null || typeof entry.value !== "string") continue;
    if (entry.key === "prefix") prefix = resolve(npm?.prefix ?? "/", entry.value);
    if (entry.key === "globalconfig") path = resolve(npm?.prefix ?? "/", entry.value);
  }
  const file = path ?? join(prefix, "etc", "npmrc");
  try {
    // Only a regular file: a FIFO or device there must not hang or feed the copy.
    if (!statSync(file).isFile()) return null;
  } catch {
    return null;
  }
  const text = readOrNull(file);
  return text === null ? null : { path: file, text };
}
