/** Orchestration: the only place where the steps with side effects happen, in order (design §2). */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { basename, isAbsolute, join } from "node:path";
import { buildBwrapArgs, shellQuote } from "./bwrap.js";
import { type CommandClass, commandClass } from "./commands.js";
import { corepackNotPrepared } from "./corepack.js";
import { describePolicy } from "./describe.js";
import {
  GENERIC_BWRAP_HINT,
  INSTALL_BWRAP,
  readUsernsSysctls,
  usernsBlockers,
} from "./diagnose.js";
import { SafeNpmError } from "./errors.js";
import { gatherHost, type HostInfo, type ResolvedTool, resolveTool } from "./host.js";
import type { AllowEntry } from "./network/allowlist.js";
import { sanitizeNpmrc } from "./npmrc.js";
import { cleanupPlaceholders, findPlaceholders } from "./placeholders.js";
import {
  type NetworkMode,
  type Policy,
  type PolicyInput,
  privateHomeDir,
  type RequestKind,
  resolvePolicy,
  type SettingsInput,
  type ToolchainInput,
} from "./policy.js";
import {
  type DetectedPackageManager,
  detectPackageManager,
  findProject,
  isInside,
  type PackageManagerName,
  type Project,
} from "./project.js";
import { buildSeccompFilter, isSupportedSeccompArch } from "./seccomp.js";
import { findSettingsFiles } from "./settings/find.js";
import { type ResolvedSettings, resolveSettings } from "./settings/index.js";
import type { EffectiveSettings } from "./settings/merge.js";
import { trustStorePath } from "./settings/trust.js";
import { runDirect, runSandbox } from "./spawn.js";

/** What the user asked for, after safe-npm's own flags. */
export type Target =
  /** `safe-npm <args…>`: the project's package manager. */
  | { kind: "auto"; args: string[] }
  /** `safe-npm npm|npx <args…>`: that tool explicitly. */
  | { kind: "tool"; tool: string; args: string[] }
  /** `safe-npm exec -- <cmd…>` */
  | { kind: "exec"; argv: string[] }
  | { kind: "shell" | "trust" | "untrust" | "init" }
  | { kind: "doctor"; json: boolean };

export interface RunOptions {
  target: Target;
  dryRun: boolean;
  network: NetworkMode | undefined;
  /** --allow-host entries. */
  allow: string[];
  /** --config: the user settings file. */
  config: string | undefined;
  /** --trust-config: trust the repository's settings for this run. */
  trustConfig: boolean;
  quiet: boolean;
  verbose: boolean;
}

export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** safe-npm's own stderr is a terminal (for the banner). */
  stderrIsTty: boolean;
  dim: (text: string) => void;
}

export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

/** The tools `safe-npm <tool> …` may name. */
export const TOOLS = ["npm", "npx", "yarn", "yarnpkg", "pnpm", "pnpx", "bun", "bunx"] as const;

export async function run(options: RunOptions, out: Output): Promise<number> {
  const host = gatherHost();
  const { target } = options;
  if (target.kind === "doctor") {
    const { doctor } = await import("./doctor.js");
    return doctor(host, options, out, target.json);
  }
  const project = findProject(host.cwd, host.home);
  if (target.kind === "init") {
    const { init } = await import("./manage.js");
    return init(host, project, out);
  }

  const found = findSettingsFiles(host.cwd, project.root, host.env, host.home, options.config);
  for (const file of found.ignoredCode) {
    out.stderr(
      `safe-npm: ignoring ${file}: settings are read only from data files (.sandboxrc, .sandboxrc.json|yaml|yml, package.json "sandbox"); loading code would run it outside the sandbox\n`,
    );
  }
  const store = trustStorePath(host.env, host.home);
  if (target.kind === "trust" || target.kind === "untrust") {
    const manage = await import("./manage.js");
    return target.kind === "trust"
      ? manage.trustCommand(found.repo, store, out)
      : manage.untrustCommand(found.repo, store, out);
  }

  if (host.sandbox !== null) {
    // Nested (a package.json script prefixed with safe-npm, run by a sandboxed package manager):
    // the sandbox is already around us, and its settings were applied outside; run the command.
    const { command } = await describeTarget(target, project.root, host, undefined);
    if (options.dryRun) {
      out.stdout(
        `already inside a safe-npm sandbox: would run ${command.map(shellQuote).join(" ")}\n`,
      );
      return 0;
    }
    return (await runDirect(command, host.cwd)).exitCode;
  }

  const resolved = await resolveSettings(
    found,
    { ...(options.network ? { network: options.network } : {}), allow: options.allow },
    { trustForRun: options.trustConfig || host.env.SAFE_NPM_TRUST_CONFIG === "1", store },
  );
  const { effective } = resolved;
  const { kind, command, detected, cls } = await describeTarget(
    target,
    project.root,
    host,
    effective.packageManager,
  );
  const node = resolveTool("node", host);
  if (node === null) {
    throw new SafeNpmError("NO_NODE", "node was not found on PATH", {
      hint: "install Node.js 20.19 or newer (or activate it with nvm/fnm/volta) so that `node` is on PATH",
    });
  }
  if (host.bwrap === null && !options.dryRun) throw noBwrap();
  const tools = resolveTools(kind, command, detected, host);
  const network = effective.network[cls];
  const privateHome = privateHomeDir(
    host.cacheHome,
    project.root,
    createHash("sha256").update(project.root).digest("hex").slice(0, 12),
  );
  // With $HOME = the project, the project's own .npmrc is the user config: keep it visible.
  const projectNpmrcIsHome =
    effective.home === "project" && existsSync(join(project.root, ".npmrc"));
  const registryConfig = network === "registry" ? registryFiles(project.root) : [];
  const allow =
    network === "registry"
      ? await registryAllowlist(host, project, effective, registryConfig, command)
      : [];
  const toolchain = toolchainInput(node, tools, host);
  const manager = tools[0];
  if (kind === "pm" && toolchain.corepack !== null && manager !== undefined && !options.dryRun) {
    const name = basename(manager.bin)
      .replace(/^yarnpkg$/, "yarn")
      .replace(/^pnpx$/, "pnpm");
    if (basename(manager.prefix) === "corepack") {
      const notPrepared = corepackNotPrepared(name, toolchain.corepack.home, project.root);
      if (notPrepared !== null) throw notPrepared;
    }
  }
  const makePolicy = (proxy: PolicyInput["proxy"]): Policy =>
    resolvePolicy({
      toolchain,
      host: projectNpmrcIsHome ? { ...host, userNpmrc: null } : host,
      project,
      node,
      tools,
      kind,
      command,
      network,
      privateHome,
      // In registry mode the files that name registries widen the allowlist: code inside must
      // not be able to add a host for the next install.
      protect: [...effective.protect.map((p) => join(project.root, p)), ...registryConfig].filter(
        (p, i, all) => existsSync(p) && all.indexOf(p) === i,
      ),
      settings: settingsInput(effective, host, project, resolved),
      proxy,
      version: VERSION,
    });
  const seccomp = isSupportedSeccompArch(host.arch) ? buildSeccompFilter(host.arch) : null;
  const { bridgeHostPath } = await import("./network/inside.js");

  if (options.dryRun) {
    const policy = makePolicy(
      network === "registry"
        ? { socketPath: "<proxy socket>", bridgePath: bridgeHostPath() }
        : null,
    );
    const invocation = buildBwrapArgs(policy, seccomp);
    out.stdout(describePolicy({ policy, project, detected, privateHome, resolved, cls, allow }));
    const argv = [host.bwrap ?? "bwrap", ...invocation.args].map(shellQuote).join(" ");
    const fds = invocation.inputs.map((i) => `${i.fd}<(${i.label})`).join(" ");
    out.stdout(`\nbwrap command:\n${argv}${fds === "" ? "" : ` ${fds}`}\n`);
    if (host.bwrap === null) out.stderr("note: bwrap is not on PATH; this command would fail\n");
    return 0;
  }
  if (host.bwrap === null) throw noBwrap();
  if (!options.quiet && out.stderrIsTty) {
    const extras = [
      `network: ${network}`,
      ...(effective.dotfiles.length > 0 ? [`dotfiles: ${effective.dotfiles.length}`] : []),
      `home: ${effective.home}`,
    ];
    out.dim(`safe-npm ▸ ${command.join(" ")} · ${extras.join(" · ")}\n`);
  }

  if (effective.home === "private") mkdirSync(privateHome, { recursive: true, mode: 0o700 });
  const { startProxy, proxyReport } =
    network === "registry"
      ? await import("./network/proxy.js")
      : { startProxy: null, proxyReport: null };
  const proxy = startProxy === null ? null : await startProxy({ allow });
  try {
    const policy = makePolicy(
      proxy === null ? null : { socketPath: proxy.socketPath, bridgePath: bridgeHostPath() },
    );
    if (options.verbose) {
      out.stderr(describePolicy({ policy, project, detected, privateHome, resolved, cls, allow }));
    }
    const invocation = buildBwrapArgs(policy, seccomp);
    // bwrap creates missing mount points on the host when they sit in a read-write bind; with
    // home "project" some land in the project: note them now, remove them afterwards.
    const placeholders = findPlaceholders(policy.mounts, project.root);
    try {
      const outcome = await runSandbox(host.bwrap, invocation, { terminal: policy.terminal });
      if (!outcome.ready && outcome.exitCode !== 0) throw sandboxFailed(host, outcome.exitCode);
      return outcome.exitCode;
    } finally {
      cleanupPlaceholders(placeholders);
    }
  } finally {
    if (proxy !== null && proxyReport !== null) {
      const stats = proxy.stats();
      await proxy.close();
      for (const line of proxyReport(stats, options.verbose)) out.stderr(`safe-npm: ${line}\n`);
    }
  }
}

/** The project's files that name registries (npm, yarn berry, yarn 1). */
function registryFiles(root: string): string[] {
  return [".npmrc", ".yarnrc.yml", ".yarnrc"].map((f) => join(root, f));
}

/**
 * Registry mode's allowlist: the registries the project's and the user's config name (else the
 * package manager's default), `npm_config_registry` when run from a script, and the hosts from
 * settings and --allow-host.
 */
async function registryAllowlist(
  host: HostInfo,
  project: Project,
  effective: EffectiveSettings,
  files: readonly string[],
  command: readonly string[],
): Promise<AllowEntry[]> {
  const { dedupeAllowlist, parseAllowEntry, parseAllowlist, registriesFromConfig } = await import(
    "./network/allowlist.js"
  );
  const read = (path: string | undefined): string | null => {
    try {
      return path === undefined ? null : readFileSync(path, "utf8");
    } catch {
      return null;
    }
  };
  const [npmrc, yarnrcYml, yarnrc] = files;
  const tool = basename(command[0] ?? "");
  const entries = [
    ...registriesFromConfig({
      projectNpmrc: read(npmrc),
      userNpmrc: host.userNpmrc === null ? null : sanitizeNpmrc(host.userNpmrc).text,
      yarnrcYml: read(yarnrcYml),
      yarnrc: read(yarnrc),
      yarn: tool === "yarn" || tool === "yarnpkg" || existsSync(join(project.root, "yarn.lock")),
      env: host.env,
    }),
    ...parseAllowlist(effective.network.allow, "network.allow / --allow-host"),
  ];
  const scriptRegistry = host.env.npm_lifecycle_event ? host.env.npm_config_registry : undefined;
  if (scriptRegistry) entries.push(parseAllowEntry(scriptRegistry, "npm_config_registry"));
  return dedupeAllowlist(entries);
}

/** Host paths for the settings, checked here so that policy.ts stays pure. */
function settingsInput(
  effective: EffectiveSettings,
  host: HostInfo,
  project: Project,
  resolved: ResolvedSettings,
): SettingsInput {
  const fromFile = (key: string): string => {
    const layer = effective.sources[key];
    if (layer === "repo" && resolved.repo) return resolved.repo.file;
    if (layer === "user" && resolved.user) return resolved.user.file;
    return "settings";
  };
  const binds = { ro: [] as string[], rw: [] as string[] };
  for (const mode of ["ro", "rw"] as const) {
    for (const raw of effective.binds[mode]) {
      const path = raw.startsWith("~/") ? join(host.home, raw.slice(2)) : raw;
      if (!isAbsolute(path) || !existsSync(path)) {
        throw new SafeNpmError(
          "BAD_SETTINGS",
          `${fromFile("binds")}: binds.${mode}: ${raw} does not exist`,
          {
            hint: "create it, or remove it from binds",
          },
        );
      }
      const real = realpathSync(path);
      if (real === project.root || isInside(real, project.root)) {
        throw new SafeNpmError(
          "BAD_SETTINGS",
          `${fromFile("binds")}: binds.${mode}: ${raw} is inside the project`,
          {
            hint: 'the project is already writable; use "protect" to keep a path inside it read-only',
          },
        );
      }
      if (real === host.home || isInside(host.home, real) || real === "/") {
        throw new SafeNpmError(
          "BAD_SETTINGS",
          `${fromFile("binds")}: binds.${mode}: ${raw} contains your home directory`,
          {
            hint: "bind only the directories the command needs",
          },
        );
      }
      binds[mode].push(real);
    }
  }
  const dotfiles = effective.dotfiles
    .map((rel) => join(host.home, rel))
    .filter((p) => existsSync(p));
  return {
    dotfiles,
    fullNpmrc: dotfiles.includes(join(host.home, ".npmrc")),
    binds,
    caches: effective.cache === "shared" ? sharedCaches(host) : [],
    envPass: effective.envPass,
    envSet: effective.envSet,
    home: effective.home,
  };
}

/**
 * What the toolchain needs besides its install prefixes: node's headers for node-gyp (so native
 * addons build without downloading them), and corepack's prepared package managers (corepack
 * must not download inside: prepare them outside, `corepack install`).
 */
function toolchainInput(
  node: ResolvedTool,
  tools: readonly ResolvedTool[],
  host: HostInfo,
): ToolchainInput {
  const headers = existsSync(join(node.prefix, "include", "node", "node.h")) ? node.prefix : null;
  const usesCorepack = tools.some((t) => basename(t.prefix) === "corepack");
  const corepackHome =
    host.env.COREPACK_HOME && isAbsolute(host.env.COREPACK_HOME)
      ? host.env.COREPACK_HOME
      : join(host.cacheHome, "node", "corepack");
  const yarnClassic = tools.some((t) => {
    try {
      const pkg = JSON.parse(readFileSync(join(t.prefix, "package.json"), "utf8")) as {
        name?: string;
        version?: string;
      };
      return pkg.name === "yarn" && pkg.version?.startsWith("1.") === true;
    } catch {
      return false;
    }
  });
  const npm = tools.find((t) => basename(t.bin) === "npm");
  const nodeGyp =
    npm === undefined ? null : join(npm.prefix, "node_modules", "node-gyp", "bin", "node-gyp.js");
  return {
    nodeHeaders: headers,
    yarnClassic,
    nodeGyp: nodeGyp !== null && existsSync(nodeGyp) ? nodeGyp : null,
    corepack: usesCorepack
      ? existsSync(corepackHome)
        ? { home: realpathSync(corepackHome), exists: true }
        : { home: corepackHome, exists: false }
      : null,
  };
}

/** The user's real package-manager caches and stores, for `cache: "shared"`. */
function sharedCaches(host: HostInfo): string[] {
  const npmCache = join(host.home, ".npm");
  // npm's cache is created if missing: the user asked to share it.
  mkdirSync(npmCache, { recursive: true });
  return [
    npmCache,
    join(host.cacheHome, "yarn"),
    join(host.home, ".yarn", "berry", "cache"),
    join(host.home, ".local", "share", "pnpm", "store"),
    join(host.cacheHome, "pnpm"),
    join(host.home, ".bun", "install", "cache"),
  ].filter((p) => existsSync(p));
}

async function describeTarget(
  target: Target,
  root: string,
  host: HostInfo,
  override: PackageManagerName | undefined,
): Promise<{
  kind: RequestKind;
  command: string[];
  detected: DetectedPackageManager | null;
  cls: CommandClass;
}> {
  const detect = async (): Promise<DetectedPackageManager> =>
    override === undefined
      ? await detectPackageManager(root)
      : { name: override, agent: override, source: "settings" };
  switch (target.kind) {
    case "auto": {
      const detected = await detect();
      return {
        kind: "pm",
        command: [detected.name, ...target.args],
        detected,
        cls: commandClass(detected.name, target.args),
      };
    }
    case "tool":
      return {
        kind: "pm",
        command: [target.tool, ...target.args],
        detected: null,
        cls: commandClass(target.tool, target.args),
      };
    // The project's manager comes along for exec and shell, so scripts there can call it.
    case "exec":
      return { kind: "exec", command: target.argv, detected: await detect(), cls: "run" };
    default:
      return { kind: "shell", command: [userShell(host)], detected: await detect(), cls: "run" };
  }
}

/**
 * The package manager must be found on the host for a "pm" request; for exec and shell the
 * project's package manager comes along when it is installed, so scripts can call it.
 */
function resolveTools(
  kind: RequestKind,
  command: readonly string[],
  detected: DetectedPackageManager | null,
  host: HostInfo,
): ResolvedTool[] {
  if (kind === "pm") {
    const name = command[0] ?? "npm";
    const tool = resolveTool(name, host);
    if (tool === null) {
      throw new SafeNpmError("NO_PACKAGE_MANAGER", `${name} was not found on PATH`, {
        hint:
          detected === null
            ? `install ${name}, or make sure its directory is on PATH`
            : `this project uses ${name} (decided by: ${detected.source}); install it (e.g. \`corepack enable\` or \`npm install -g ${name}\`) or make sure it is on PATH`,
      });
    }
    // npm comes along for its bundled node-gyp (native addons under any manager).
    const npm = name === "npm" ? null : resolveTool("npm", host);
    return npm === null ? [tool] : [tool, npm];
  }
  // exec and shell: npm, and the project's own manager when it is another one.
  const names = ["npm", ...(detected !== null && detected.name !== "npm" ? [detected.name] : [])];
  return names.flatMap((name) => resolveTool(name, host) ?? []);
}

/** The user's $SHELL when the sandbox can see it (under /usr), else /bin/sh. */
function userShell(host: HostInfo): string {
  const shell = host.env.SHELL;
  if (shell === undefined) return "/bin/sh";
  try {
    const real = realpathSync(shell);
    return isInside(real, "/usr") ? shell : "/bin/sh";
  } catch {
    return "/bin/sh";
  }
}

function noBwrap(): SafeNpmError {
  return new SafeNpmError("NO_BWRAP", "bubblewrap (bwrap) was not found on PATH", {
    hint: INSTALL_BWRAP,
  });
}

/** bwrap exited before the command started: name the likely cause from /proc/sys. */
function sandboxFailed(host: HostInfo, status: number): SafeNpmError {
  const causes = usernsBlockers(readUsernsSysctls(), host.uid);
  return new SafeNpmError(
    "BWRAP_FAILED",
    `bwrap could not create the sandbox (exit status ${status}; its message is above)`,
    { hint: causes.length > 0 ? `likely cause: ${causes.join("; ")}` : GENERIC_BWRAP_HINT },
  );
}
