/** Orchestration: the only place where the steps with side effects happen, in order (design §2). */
import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import { SafeNpmError } from "../errors.js";
import { corepackNotPrepared } from "../host/corepack.js";
import {
  GENERIC_BWRAP_HINT,
  INSTALL_BWRAP,
  readUsernsSysctls,
  usernsBlockers,
} from "../host/diagnose.js";
import { gatherHost, type HostInfo, resolveTool } from "../host/host.js";
import {
  type DetectedPackageManager,
  detectPackageManager,
  findProject,
  isInside,
  type PackageManagerName,
} from "../host/project.js";
import { resolveTools, toolchainInput } from "../host/toolchain.js";
import { bridgeHostPath } from "../network/inside.js";
import { registryAllowlist, registryFiles } from "../network/registries.js";
import { buildBwrapArgs, shellQuote } from "../sandbox/bwrap.js";
import { describePolicy } from "../sandbox/describe.js";
import { projectGuards } from "../sandbox/hostfiles.js";
import { check, describeFinding, rootGitPlaces, snapshot } from "../sandbox/integrity.js";
import { cleanupPlaceholders, findPlaceholders } from "../sandbox/placeholders.js";
import {
  type Policy,
  type PolicyInput,
  privateHomeDir,
  type RequestKind,
  resolvePolicy,
} from "../sandbox/policy.js";
import { preparePrivateHome } from "../sandbox/privatehome.js";
import { buildSeccompFilter, isSupportedSeccompArch } from "../sandbox/seccomp.js";
import { runDirect, runSandbox } from "../sandbox/spawn.js";
import { findSettingsFiles } from "../settings/find.js";
import { settingsInput } from "../settings/host-paths.js";
import { resolveSettings } from "../settings/index.js";
import { trustStorePath } from "../settings/trust.js";
import { VERSION } from "../version.js";
import { type CommandClass, commandClass } from "./classes.js";
import type { Output, RunOptions, Target } from "./types.js";

export async function run(options: RunOptions, out: Output): Promise<number> {
  if (options.target.kind === "doctor" && process.platform !== "linux") {
    const { doctorNotLinux } = await import("./doctor.js");
    return doctorNotLinux(process.platform, out, options.target.json);
  }
  const host = gatherHost();
  const { target } = options;
  if (target.kind === "doctor") {
    const { doctor } = await import("./doctor.js");
    return doctor(host, options, out, target.json);
  }
  const project = findProject(host.cwd, host.home);
  if (target.kind === "init") {
    const { init } = await import("./init.js");
    return init(host, project, out);
  }

  const found = findSettingsFiles(host.cwd, project.root, host.env, host.home, options.config);
  for (const file of found.ignoredCode) {
    out.stderr(
      `safe-npm: ignoring ${file}: settings are read only from data files (.sandboxrc, .sandboxrc.json|yaml|yml, package.json "sandbox"); loading code would run it outside the sandbox\n`,
    );
  }
  for (const file of found.ignoredLinks) {
    out.stderr(
      `safe-npm: not reading settings from ${file}: it is a symbolic link, and settings are read only from regular files\n`,
    );
  }
  const store = trustStorePath(host.env, host.home);
  if (target.kind === "trust" || target.kind === "untrust") {
    const manage = await import("./trust.js");
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
  // Before anything reads the project's config: refuses links planted in the project.
  const guards = projectGuards(project.root, effective.protect, protectSource(resolved));
  // With $HOME = the project, the project's own .npmrc is the user config: keep it visible.
  const projectNpmrcIsHome =
    effective.home === "project" && existsSync(join(project.root, ".npmrc"));
  const registryConfig = network === "registry" ? registryFiles(project.root) : [];
  const allow =
    network === "registry"
      ? await registryAllowlist(host, project, effective, registryConfig, command)
      : [];
  const toolchain = toolchainInput(node, tools, host);
  // Where host git runs code from in the project beyond .git: kept read-only, or watched.
  const hostGit = rootGitPlaces(project.root, host.home, host.env);
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
      // In every mode: the registry config (the next install's allowlist) and what a package
      // manager on the host runs can be neither changed nor created inside (hostfiles.ts); nor
      // can the hooks directory host git runs (integrity.ts).
      protect: [...new Set([...guards.protect, ...hostGit.protect])],
      seal: guards.seal,
      sealDirs: guards.sealDirs,
      settings: settingsInput(effective, host, project, resolved),
      proxy,
      version: VERSION,
    });
  const seccomp = isSupportedSeccompArch(host.arch) ? buildSeccompFilter(host.arch) : null;

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

  if (effective.home === "private") preparePrivateHome(privateHome);
  const { startProxy, proxyReport } =
    network === "registry"
      ? await import("../network/proxy.js")
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
    const readOnly = policy.mounts.flatMap((m) => (m.kind === "ro-bind" ? [m.dest] : []));
    const before = snapshot(project.root, [...hostGit.watch, ...guards.watch], { skip: readOnly });
    try {
      const outcome = await runSandbox(host.bwrap, invocation, { foreground: policy.foreground });
      // A signal during start-up ends the run with the signal's status, not as bwrap's failure.
      if (!outcome.ready && !outcome.interrupted && outcome.exitCode !== 0)
        throw sandboxFailed(host, outcome.exitCode);
      return outcome.exitCode;
    } finally {
      cleanupPlaceholders(placeholders, project.root);
      const findings = check(project.root, before, { skip: readOnly, install: cls === "install" });
      for (const finding of findings) out.stderr(describeFinding(finding));
    }
  } finally {
    if (proxy !== null && proxyReport !== null) {
      const stats = proxy.stats();
      await proxy.close();
      for (const line of proxyReport(stats, options.verbose)) out.stderr(`safe-npm: ${line}\n`);
    }
  }
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

/** Where the `protect` list came from, for messages. */
function protectSource(resolved: Awaited<ReturnType<typeof resolveSettings>>): string {
  const layer = resolved.effective.sources.protect;
  if (layer === "repo" && resolved.repo !== null) return `from ${resolved.repo.file}`;
  if (layer === "user" && resolved.user !== null) return `from ${resolved.user.file}`;
  return "the default";
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
