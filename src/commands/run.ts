/**
 * A sandboxed run, as the list of steps design.md §2 describes: settings, what to run, tools,
 * network, the project's guards, the policy, then the spawn and the after-run check. Each step
 * is a function of the module that owns it; this is the only place that runs them in order.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { noBwrap, sandboxFailed } from "../host/diagnose.js";
import type { HostInfo } from "../host/host.js";
import type { Project } from "../host/project.js";
import { requireNode, requirePrepared, resolveTools, toolchainInput } from "../host/toolchain.js";
import type { AllowEntry } from "../network/allowlist.js";
import { bridgeHostPath } from "../network/inside.js";
import type { NetworkProxy } from "../network/proxy.js";
import { registryAllowlist, registryFiles } from "../network/registries.js";
import { type BwrapInvocation, buildBwrapArgs, shellQuote } from "../sandbox/bwrap.js";
import { describePolicy } from "../sandbox/describe.js";
import { runGuarded } from "../sandbox/guarded.js";
import { guardProject } from "../sandbox/hostfiles.js";
import {
  type NetworkMode,
  type Policy,
  type PolicyInput,
  privateHomeDir,
  resolvePolicy,
} from "../sandbox/policy.js";
import { preparePrivateHome } from "../sandbox/privatehome.js";
import { buildSeccompFilter, isSupportedSeccompArch } from "../sandbox/seccomp.js";
import { runDirect } from "../sandbox/spawn.js";
import type { FoundSettings } from "../settings/find.js";
import { settingsInput } from "../settings/host-paths.js";
import { protectSource, type ResolvedSettings, resolveSettings } from "../settings/index.js";
import type { Timing } from "../timing.js";
import { VERSION } from "../version.js";
import { describeTarget, type Request } from "./target.js";
import type { Output, RunOptions } from "./types.js";

export interface RunContext {
  host: HostInfo;
  project: Project;
  found: FoundSettings;
  /** The trust store (settings/trust.ts). */
  store: string;
  /** Each step's time, printed on stderr at the end with SAFE_NPM_TIMING=1. */
  timing: Timing;
}

export async function sandboxRun(
  ctx: RunContext,
  options: RunOptions,
  out: Output,
): Promise<number> {
  try {
    return await sandboxSteps(ctx, options, out);
  } finally {
    if (ctx.host.env.SAFE_NPM_TIMING === "1")
      for (const line of ctx.timing.lines()) out.stderr(line);
  }
}

async function sandboxSteps(ctx: RunContext, options: RunOptions, out: Output): Promise<number> {
  const { host, project, timing } = ctx;
  const resolved = await runSettings(ctx, options);
  const { effective } = resolved;
  timing.mark("settings");
  const request = await describeTarget(
    options.target,
    project.root,
    host,
    effective.packageManager,
  );
  const node = requireNode(host);
  if (host.bwrap === null && !options.dryRun) throw noBwrap();
  const tools = resolveTools(request.kind, request.command, request.detected, host);
  const network = effective.network[request.cls];
  timing.mark("what to run, tools");
  // Before anything reads the project's config: refuses links planted in the project.
  const guards = guardProject(project.root, host, effective.protect, protectSource(resolved));
  timing.mark("project guards");
  const allow =
    network === "registry"
      ? await registryAllowlist(
          host,
          project,
          effective,
          registryFiles(project.root),
          request.command,
        )
      : [];
  timing.mark("registry allowlist");
  const toolchain = toolchainInput(node, tools, host);
  if (!options.dryRun) requirePrepared(request.kind, tools, toolchain, project.root);
  const privateHome = privateHomeDir(
    host.cacheHome,
    project.root,
    createHash("sha256").update(project.root).digest("hex").slice(0, 12),
  );
  // With $HOME = the project, the project's own .npmrc is the user config: keep it visible.
  const projectNpmrcIsHome =
    effective.home === "project" && existsSync(join(project.root, ".npmrc"));
  const input: Omit<PolicyInput, "proxy"> = {
    toolchain,
    host: projectNpmrcIsHome ? { ...host, userNpmrc: null } : host,
    project,
    node,
    tools,
    kind: request.kind,
    command: request.command,
    network,
    privateHome,
    // In every mode: the registry config (the next install's allowlist) and what a package
    // manager or git on the host runs can be neither changed nor created inside (hostfiles.ts).
    protect: guards.protect,
    seal: guards.seal,
    sealDirs: guards.sealDirs,
    settings: settingsInput(effective, host, project, resolved),
    version: VERSION,
  };
  const seccomp = isSupportedSeccompArch(host.arch) ? buildSeccompFilter(host.arch) : null;
  timing.mark("toolchain, policy input, seccomp");
  const describe = (policy: Policy): string =>
    describePolicy({
      policy,
      project,
      detected: request.detected,
      privateHome,
      resolved,
      cls: request.cls,
      allow,
    });

  if (options.dryRun) {
    const proxy =
      network === "registry"
        ? { socketPath: "<proxy socket>", bridgePath: bridgeHostPath() }
        : null;
    const policy = resolvePolicy({ ...input, proxy });
    const invocation = buildBwrapArgs(policy, seccomp);
    out.stdout(describe(policy));
    printBwrapCommand(host, invocation, out);
    return 0;
  }
  if (host.bwrap === null) throw noBwrap();
  const bwrap = host.bwrap;
  if (!options.quiet && out.stderrIsTty) banner(request, network, resolved, out);
  if (effective.home === "private") preparePrivateHome(privateHome);
  timing.mark("private home");
  return withProxy(network, allow, options.verbose, out, timing, async (proxy) => {
    const policy = resolvePolicy({
      ...input,
      proxy: proxy === null ? null : { socketPath: proxy.socketPath, bridgePath: bridgeHostPath() },
    });
    if (options.verbose) out.stderr(describe(policy));
    const invocation = buildBwrapArgs(policy, seccomp);
    timing.mark("policy, bwrap arguments");
    const outcome = await runGuarded(bwrap, invocation, policy, project.root, {
      watch: guards.watch,
      install: request.cls === "install",
      report: out.stderr,
      journal: join(host.cacheHome, "safe-npm", "runs"),
      timing,
    });
    // A signal during start-up ends the run with the signal's status, not as bwrap's failure.
    if (!outcome.ready && !outcome.interrupted && outcome.exitCode !== 0)
      throw sandboxFailed(host.uid, outcome.exitCode);
    return outcome.exitCode;
  });
}

/**
 * Nested (a package.json script prefixed with safe-npm, run by a sandboxed package manager): the
 * sandbox is already around us, and its settings were applied outside; run the command.
 */
export async function nestedRun(
  host: HostInfo,
  project: Project,
  options: RunOptions,
  out: Output,
): Promise<number> {
  const { command } = await describeTarget(options.target, project.root, host, undefined);
  if (options.dryRun) {
    out.stdout(
      `already inside a safe-npm sandbox: would run ${command.map(shellQuote).join(" ")}\n`,
    );
    return 0;
  }
  return (await runDirect(command, host.cwd)).exitCode;
}

/** The settings of this run: files found, flags, and whether the repository's are trusted. */
function runSettings(ctx: RunContext, options: RunOptions): Promise<ResolvedSettings> {
  return resolveSettings(
    ctx.found,
    { ...(options.network ? { network: options.network } : {}), allow: options.allow },
    {
      trustForRun: options.trustConfig || ctx.host.env.SAFE_NPM_TRUST_CONFIG === "1",
      store: ctx.store,
    },
  );
}

/** `--dry-run`: the exact bwrap command line, with its data descriptors named. */
function printBwrapCommand(host: HostInfo, invocation: BwrapInvocation, out: Output): void {
  const argv = [host.bwrap ?? "bwrap", ...invocation.args].map(shellQuote).join(" ");
  const fds = invocation.inputs.map((i) => `${i.fd}<(${i.label})`).join(" ");
  out.stdout(`\nbwrap command:\n${argv}${fds === "" ? "" : ` ${fds}`}\n`);
  if (host.bwrap === null) out.stderr("note: bwrap is not on PATH; this command would fail\n");
}

function banner(request: Request, network: NetworkMode, resolved: ResolvedSettings, out: Output) {
  const { effective } = resolved;
  const extras = [
    `network: ${network}`,
    ...(effective.dotfiles.length > 0 ? [`dotfiles: ${effective.dotfiles.length}`] : []),
    `home: ${effective.home}`,
  ];
  out.dim(`safe-npm ▸ ${request.command.join(" ")} · ${extras.join(" · ")}\n`);
}

/**
 * Registry mode: the host proxy runs for the length of the command, then reports what it
 * refused. Loaded only then: the other modes never need it.
 */
async function withProxy(
  network: NetworkMode,
  allow: readonly AllowEntry[],
  verbose: boolean,
  out: Output,
  timing: Timing,
  body: (proxy: NetworkProxy | null) => Promise<number>,
): Promise<number> {
  if (network !== "registry") return body(null);
  const { startProxy, proxyReport } = await import("../network/proxy.js");
  const proxy = await startProxy({ allow });
  timing.mark("proxy start");
  try {
    return await body(proxy);
  } finally {
    const stats = proxy.stats();
    await proxy.close();
    timing.mark("proxy close");
    for (const line of proxyReport(stats, verbose)) out.stderr(`safe-npm: ${line}\n`);
  }
}
