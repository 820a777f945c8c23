/**
 * A sandboxed run, as the list of steps design.md §2 describes: settings, what to run, tools,
 * network, the project's guards, the policy, then the spawn and the after-run check. Each step
 * is a function of the module that owns it; this is the only place that runs them in order.
 */
import { createHash, randomBytes, randomInt } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, delimiter, dirname, isAbsolute, join, relative } from "node:path";
import { printable, printableLines } from "../cli/output.js";
import { SafeNpmError } from "../errors.js";
import { noBwrap, sandboxFailed } from "../host/diagnose.js";
import {
  type HostInfo,
  namedNpmConfigs,
  npmGlobalConfigProblem,
  requireHostTool,
  resolveTool,
  yarn1RootConfigs,
} from "../host/host.js";
import { type Project, workingDirEntries } from "../host/project.js";
import { requireOwnCache } from "../host/projectplace.js";
import {
  requireNode,
  requirePrepared,
  resolveTools,
  toolchainInput,
  withNodeBehindScript,
} from "../host/toolchain.js";
import { type AllowEntry, plainHttpTargets } from "../network/allowlist.js";
import type { RegistryHook } from "../network/gateway-hook.js";
import { bridgeHostPath } from "../network/inside.js";
import { hostsLoopbackNames, loopbackPorts } from "../network/loopback.js";
import { forwarderSource, type PortOptions, watchPorts } from "../network/ports.js";
import type { NetworkProxy, ProxyOptions } from "../network/proxy.js";
import {
  readProjectFile,
  registryAllowlist,
  registryFiles,
  registryRules,
  userNpmrcFiles,
  usersRegistries,
} from "../network/registries.js";
import {
  type BwrapInvocation,
  buildBwrapArgs,
  type SupervisorSeccomp,
  shellQuote,
} from "../sandbox/bwrap.js";
import { describePolicy } from "../sandbox/describe.js";
import {
  journalDir,
  recoverInterrupted,
  runGuarded,
  runningSelf,
  settingsChangedByLiveRun,
  startTime,
} from "../sandbox/guarded.js";
import { guardProject, projectNpmrcText } from "../sandbox/hostfiles.js";
import {
  type LinkedRun,
  type LinkedStore,
  linkObstacle,
  linkStore,
  storeForTool,
  storeInProject,
} from "../sandbox/linkedstore.js";
import { mayNameClientCert } from "../sandbox/npmrc.js";
import {
  mountPointInPrivateHome,
  type NetworkMode,
  type Policy,
  type PolicyInput,
  privateHomeDir,
  resolvePolicy,
  yarnGlobalFolder,
} from "../sandbox/policy.js";
import { preparePrivateHome, writeHomeRecord } from "../sandbox/privatehome.js";
import { readRegularFile } from "../sandbox/safepath.js";
import { recordTopLevel } from "../sandbox/scaffold.js";
import {
  buildCommandFilter,
  buildSeccompFilter,
  isSupportedSeccompArch,
  nativeSyscall,
} from "../sandbox/seccomp.js";
import { runDirect } from "../sandbox/spawn.js";
import type { FoundSettings } from "../settings/find.js";
import { settingsInput } from "../settings/host-paths.js";
import { protectSource, type ResolvedSettings, resolveSettings } from "../settings/index.js";
import type { EffectiveSettings } from "../settings/merge.js";
import type { Timing } from "../timing.js";
import { PACKAGE_ROOT, VERSION } from "../version.js";
import { packsFiles } from "./classes.js";
import { describeTarget, type Request } from "./target.js";
import type { Output, RunOptions } from "./types.js";

export interface RunContext {
  host: HostInfo;
  project: Project;
  found: FoundSettings;
  /** Looks the settings files up again (after a killed run's check moved one aside). */
  findSettings?: () => FoundSettings;
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

async function sandboxSteps(given: RunContext, options: RunOptions, out: Output): Promise<number> {
  let ctx = given;
  const { host, project, timing } = ctx;
  // What safe-npm trusts later (journals, homes, their records) never lies where this run writes.
  const cacheBase = requireOwnCache(host.ownCache, project.root);
  // An earlier run here killed before its after-run check: its check comes first, before this
  // run reads the project's settings and config or binds its files (what that run planted is
  // moved aside, the stand-ins bwrap made for it are removed). --dry-run changes nothing.
  if (!options.dryRun) {
    const checked = recoverInterrupted(
      project.root,
      journalDir(cacheBase),
      { running: runningSelf(), trustStore: ctx.store },
      (text) => out.stderr(printableLines(text)),
    );
    // It may have moved aside the settings file found at start.
    if (checked && ctx.findSettings !== undefined) ctx = { ...ctx, found: ctx.findSettings() };
    timing.mark("earlier runs' journal");
  }
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
  const tools = withNodeBehindScript(
    node,
    resolveTools(request.kind, request.command, request.detected, host),
  );
  const network = effective.network[request.cls];
  timing.mark("what to run, tools");
  // With --network full the sandbox shares the host's network: nothing to forward.
  const ports =
    network === "full" ||
    !effective.ports.enabled ||
    (!request.watchesPorts && effective.ports.fixed.length === 0)
      ? null
      : effective.ports;
  // The bridge's own listener inside, chosen here so that it is never forwarded.
  const bridgePort = network === "registry" && ports !== null ? randomInt(32768, 61000) : 0;
  // Before anything reads the project's config: refuses links planted in the project.
  // A working directory made the project (a scaffolder with no package.json above) keeps what it
  // already held read-only: only new entries can be written.
  const keep = project.reason === "working directory" ? workingDirEntries(project.root) : [];
  const guards = guardProject(
    project.root,
    host,
    [...effective.protect, ...keep],
    protectSource(resolved),
    dirname(dirname(node.real)),
  );
  // A pack or publish takes every file in the folder: empty stand-ins for the missing host-run
  // files would go into the tarball. None then: the root's host-run files are checked after
  // every run anyway (guardProject), and one created inside is moved aside.
  const [tool = "", ...toolArgs] = request.command;
  if (packsFiles(basename(tool), toolArgs)) guards.seal = [];
  // The project's own files there do not show inside either: said, so that a tool missing
  // them is understood.
  for (const { path, variable } of guards.hiddenConfigDirs)
    out.stderr(
      `safe-npm: ${variable} ${printable(path)} lies in the project: inside, an empty read-only folder stands in for it (your tokens are kept there); set ${variable} outside the project to see its files inside\n`,
    );
  const toolchain = toolchainInput(node, tools, host);
  // A client certificate key of the user's kept in the project: hidden inside. Read from the
  // same files as the gateway reads them (registryRules): npm's global npmrc and the user's.
  const certFiles = userNpmrcFiles(toolchain.npmGlobalConfig, host.userNpmrc);
  // npm's global config counts as the user's (registries, cafile, credentials) only where no
  // sandboxed run and no other user can have written it; one left out is said.
  const globalProblem =
    toolchain.npmGlobalConfig === null
      ? null
      : npmGlobalConfigProblem(toolchain.npmGlobalConfig, project.root, host);
  const globalNpmrc = globalProblem === null ? toolchain.npmGlobalConfig : null;
  if (globalProblem !== null && network === "registry" && toolchain.npmGlobalConfig !== null) {
    out.stderr(
      `safe-npm: npm's global config ${printable(toolchain.npmGlobalConfig.path)} is not taken as yours (${printable(globalProblem)}): its registries, cafile and credentials are not used; name them in ~/.npmrc instead\n`,
    );
  }
  const keys = certFiles.some((f) => mayNameClientCert(f.text))
    ? (await import("../sandbox/clientkeys.js")).clientKeysInProject(certFiles, host, project.root)
    : { hide: [], watch: [] };
  timing.mark("project guards");
  const allow =
    network === "registry"
      ? await registryAllowlist(
          host,
          project,
          effective,
          registryFiles(project.root),
          request.command,
          globalNpmrc,
        )
      : [];
  timing.mark("registry allowlist");
  // The registry's request rules, and the credentials the proxy adds on the host.
  const publish = request.publish === true;
  const rules =
    network === "registry"
      ? await registryRules(host, project, globalNpmrc, allow, {
          publish,
          berry: isYarnBerry(request, project.root),
          command: request.command,
        })
      : null;
  if (!options.dryRun) requirePrepared(request.kind, tools, toolchain, project.root);
  // A working directory made the project gets a private home of its own for this run only:
  // the persistent one (keyed by the path) would carry a cache poisoned by one scaffolder run
  // into the next run there, and into a project later made at that path.
  const scratch = project.reason === "working directory";
  if (host.ownCache.notice !== null) out.stderr(`safe-npm: ${host.ownCache.notice}\n`);
  const privateHome = scratch
    ? scratchHome(cacheBase, options.dryRun)
    : privateHomeDir(
        cacheBase,
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
    userNpmrcInProject: guards.userNpmrcInProject,
    npmGlobalInProject: npmGlobalText(guards.npmGlobalInProject),
    namedNpmConfigs: [
      ...namedNpmConfigs(
        host.env,
        host.home,
        host.userNpmrc,
        project.root,
        dirname(dirname(node.real)),
        projectNpmrcText(project.root),
      ),
      ...yarn1RootConfigs(host.uid),
    ],
    hide: keys.hide,
    settings: settingsInput(effective, host, project, resolved),
    version: VERSION,
    credentialPlaceholders: publish && rules !== null ? rules.credentialKeys : [],
    yarnCredentialPlaceholders: publish && rules !== null ? rules.yarnCredentialKeys : [],
    projectNpmrc: readProjectFile(join(project.root, ".npmrc")),
    projectYarnrc: await projectYarnrcParsed(project.root, network),
    // Its registries enter the private home (a YAML parser only when there is a file).
    userYarnrc:
      host.userYarnrcYml != null && effective.home !== "project"
        ? (await import("../sandbox/yarnrcparse.js")).parseYarnrcYml(host.userYarnrcYml)
        : null,
  };
  // pnpm's store or bun's cache on the project's mount for an install, where it can hard-link
  // (linkedstore.ts); with the private home's caches only.
  const linkable =
    effective.home === "private" &&
    !scratch &&
    effective.cache !== "shared" &&
    request.kind === "pm" &&
    request.cls === "install" &&
    !publish
      ? storeForTool(request.command[0] ?? "")
      : null;
  const seccomp = isSupportedSeccompArch(host.arch) ? buildSeccompFilter(host.arch) : null;
  // Only a run on a terminal has the supervisor that installs the command's own filter.
  const supervisorFor = (policy: Policy): SupervisorSeccomp | null =>
    policy.foreground && isSupportedSeccompArch(host.arch)
      ? { prctl: nativeSyscall(host.arch, "prctl"), commandFilter: buildCommandFilter(host.arch) }
      : null;
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
      credentials: rules?.held,
      watchesPorts: request.watchesPorts,
    });

  // Credentials skipped, and why (a project's expansion, an unset variable): never a value.
  if ((options.verbose || options.dryRun) && rules !== null)
    for (const note of rules.notes) out.stderr(`safe-npm: ${note}\n`);
  if (options.dryRun) {
    const proxy =
      network === "registry"
        ? { socketPath: "<proxy socket>", bridgePath: bridgeHostPath(), port: bridgePort }
        : null;
    const obstacle = linkable === null ? null : linkObstacle(privateHome, project.root);
    const linkedStores = linkable !== null && obstacle === null ? [linkable] : [];
    const policy = resolvePolicy({ ...input, proxy, linkedStores });
    const invocation = buildBwrapArgs(policy, seccomp, supervisorFor(policy));
    out.stdout(describe(policy));
    if (linkable !== null)
      out.stdout(
        obstacle === null
          ? `\n${linkable.label}: moved into node_modules for the run (hard links), then back to the private home\n`
          : `\n${linkable.label}: copied into node_modules, not hard-linked: ${obstacle}\n`,
      );
    printBwrapCommand(host, invocation, out);
    return 0;
  }
  if (host.bwrap === null) throw noBwrap();
  const bwrap = host.bwrap;
  requireHostTool("bwrap", bwrap, host);
  if (!options.quiet && out.stderrIsTty) banner(request, network, resolved, out);
  const recordUse = (): void => {
    if (effective.home !== "private" || scratch) return;
    const now = new Date();
    writeHomeRecord(privateHome, { project: project.root, lastUse: now.toISOString() }, now);
  };
  if (scratch) {
    // Exclusive: never an existing directory (or a link) of that name.
    mkdirSync(join(cacheBase, "safe-npm"), { recursive: true, mode: 0o700 });
    sweepScratchHomes(join(cacheBase, "safe-npm"), out);
    mkdirSync(privateHome, { mode: 0o700 });
  }
  try {
    return await guardedRun();
  } finally {
    if (scratch) removeScratchHome(privateHome, out);
  }

  async function guardedRun(): Promise<number> {
    if (effective.home === "private") {
      const berry = mountPointInPrivateHome(host.home, yarnGlobalFolder(privateHome));
      preparePrivateHome(privateHome, berry === null ? [] : [berry]);
    }
    // Before the run (the mapping exists even if safe-npm is killed) and after it (the last use).
    recordUse();
    const linked: LinkedRun | null =
      linkable === null ? null : linkStore(privateHome, project.root, linkable, startTime);
    if (options.verbose) for (const note of linked?.notes ?? []) out.stderr(`safe-npm: ${note}\n`);
    for (const warning of linked?.warnings ?? []) out.stderr(`safe-npm: ${warning}\n`);
    timing.mark("private home");
    const moveBack = (): void => {
      for (const problem of linked?.release() ?? []) out.stderr(`safe-npm: ${problem}\n`);
    };
    try {
      return await sandboxed(linked?.stores ?? [], moveBack);
    } finally {
      moveBack();
    }
  }

  async function sandboxed(linkedStores: LinkedStore[], moveBack: () => void): Promise<number> {
    // The registry rules decide every request to a registry host the proxy sees in clear; for
    // package-manager installs and publishes https to those hosts is terminated with the local CA
    // (the gateway, loaded only then) so that they are seen in clear too.
    const gateway =
      rules !== null && request.kind === "pm"
        ? await gatewayOptions(
            rules.hook,
            allow,
            ctx,
            request.command,
            out,
            globalNpmrc?.text ?? null,
          )
        : rules !== null
          ? {
              options: { registryHook: rules.hook, plainHttpTargets: plainHttpTargets(allow) },
              cafileConfigured: false,
            }
          : null;
    // Ports forwarded into the sandbox this run: the proxy never dials them on loopback.
    const forwarded = new Set<number>();
    const proxyOptions = {
      ...gateway?.options,
      forwardedPort: (port: number) => forwarded.has(port),
    };
    return withProxy(network, allow, proxyOptions, options.verbose, out, timing, async (proxy) => {
      const policy = resolvePolicy({
        ...input,
        linkedStores,
        proxy:
          proxy === null
            ? null
            : {
                socketPath: proxy.socketPath,
                bridgePath: bridgeHostPath(),
                port: bridgePort,
                caBundlePath: proxy.caBundlePath,
                caNodeBundlePath: proxy.caNodeBundlePath,
                cafileConfigured: gateway?.cafileConfigured ?? false,
              },
      });
      if (options.verbose) out.stderr(describe(policy));
      const invocation = buildBwrapArgs(policy, seccomp, supervisorFor(policy));
      timing.mark("policy, bwrap arguments");
      // Another run's proxy (an install in the project while this run serves) dials the user's
      // registries on the host's loopback too: their ports are never forwarded, in any mode.
      // Names /etc/hosts gives loopback count as loopback too. Worked out when a port is first
      // about to be forwarded, not on every run's start.
      let known: Promise<Set<number>> | null = null;
      const registryPorts = (): Promise<Set<number>> => {
        known ??= usersRegistries(host, effective, globalNpmrc).then((users) =>
          loopbackPorts([...allow, ...users], hostsLoopbackNames(readEtcHosts() ?? "")),
        );
        return known;
      };
      const portGuard = { forwarded, registryPorts };
      const outcome = await withPorts(ports, bridgePort, portGuard, host, project, out, (onReady) =>
        runGuarded(bwrap, invocation, policy, project.root, {
          watch: [...guards.watch, ...keys.watch],
          ...(guards.configNames === undefined ? {} : { configNames: guards.configNames }),
          ...(guards.userHooksPath === undefined ? {} : { userHooksPath: guards.userHooksPath }),
          ...(guards.userAliasHooks === undefined ? {} : { userAliasHooks: guards.userAliasHooks }),
          ...(guards.userConfig === undefined ? {} : { userConfig: guards.userConfig }),
          env: host.env,
          home: host.home,
          install: request.cls === "install" && !publish,
          // The after-run check names the project's files: printed as escapes, never raw.
          report: (text) => out.stderr(printableLines(text)),
          journal: journalDir(cacheBase),
          trustStore: ctx.store,
          afterSandbox: () => {
            // Nothing inside is left to use the proxy: it closes (sockets, its folder) while
            // the check runs; withProxy awaits the same close and reports its errors.
            proxy?.close().catch(() => {});
            moveBack();
          },
          linkedStores: linkedStores.map((store) => storeInProject(project.root, store)),
          // The proxy readies its upstream TLS trust while the package manager starts.
          ...(proxy !== null || onReady !== undefined
            ? {
                onReady: (pid: number) => {
                  proxy?.warm();
                  onReady?.(pid);
                },
              }
            : {}),
          ...(scratch ? { topLevel: recordTopLevel(project.root) } : {}),
          timing,
        }),
      ).finally(recordUse);
      // A signal during start-up ends the run with the signal's status, not as bwrap's failure.
      if (!outcome.ready && !outcome.interrupted && outcome.exitCode !== 0)
        throw sandboxFailed(host.uid, outcome.exitCode);
      if (
        outcome.exitCode !== 0 &&
        request.cls === "install" &&
        basename(request.command[0] ?? "") === "pnpm"
      ) {
        const { ignoredBuilds, ignoredBuildsHint } = await import("./pnpmbuilds.js");
        const lines = ignoredBuildsHint(ignoredBuilds(project.root));
        for (const line of lines) out.stderr(`safe-npm: ${printableLines(line)}\n`);
      }
      if (request.cls === "install" && basename(request.command[0] ?? "") === "pnpm") {
        const { pnpmMajor, verifyDepsNotice } = await import("./pnpmverify.js");
        const pnpm = tools.find((t) => basename(t.bin) === "pnpm");
        const major = pnpm === undefined ? null : pnpmMajor(pnpm.prefix);
        const notice = await verifyDepsNotice(
          project.root,
          host.env,
          host.home,
          major,
          host.userNpmrc,
        );
        if (notice !== null) out.stderr(`safe-npm: ${notice}\n`);
      }
      return outcome.exitCode;
    });
  }
}

/** /etc/hosts, or null when it cannot be read as a regular file. */
function readEtcHosts(): string | null {
  try {
    return readRegularFile("/etc/hosts", false, 1 << 20);
  } catch {
    return null;
  }
}

/**
 * A fresh private home's path under safe-npm's cache dir (made just before the run), named for
 * this process (pid and start time) so that one left by a killed run can be told from one in use.
 */
function scratchHome(cacheHome: string, dryRun: boolean): string {
  const id = dryRun
    ? "XXXXXXXXXXXX"
    : `${process.pid}-${startTime("self")}-${randomBytes(6).toString("hex")}`;
  return join(cacheHome, "safe-npm", `scratch-${id}`);
}

/** Removes the scratch homes of runs whose process is gone (killed before removing its own). */
function sweepScratchHomes(parent: string, out: Output): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = /^scratch-(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (match !== null && startTime(Number(match[1])) !== match[2]) {
      removeScratchHome(join(parent, name), out);
    }
  }
}

/**
 * Removes a scratch home; what the run left unreadable (a directory chmod 000) is made
 * removable first. rmSync removes links, never what they point to.
 */
function removeScratchHome(dir: string, out: Output): void {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch {}
  const open = (path: string): void => {
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory()) return;
    try {
      chmodSync(path, 0o700);
      for (const name of readdirSync(path)) open(join(path, name));
    } catch {}
  };
  open(dir);
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (error) {
    out.stderr(
      `safe-npm: could not remove this run's private home ${dir} (${(error as Error).message}); remove it by hand\n`,
    );
  }
}

/** yarn 2+: it reads `.yarnrc.yml` and ignores `.npmrc`, for credentials too. */
function isYarnBerry(request: Request, root: string): boolean {
  const tool = request.command[0] ?? "";
  if (tool !== "yarn" && tool !== "yarnpkg") return false;
  return request.detected?.agent === "yarn@berry" || existsSync(join(root, ".yarnrc.yml"));
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
    {
      ...(options.network ? { network: options.network } : {}),
      allow: options.allow,
      ports: options.ports,
      noPorts: options.noPorts,
    },
    {
      trustForRun: options.trustConfig || ctx.host.env.SAFE_NPM_TRUST_CONFIG === "1",
      store: ctx.store,
      changedByLiveRun: (file: string, content: string, bytesSha256: string) =>
        settingsChangedByLiveRun(
          ctx.project.root,
          journalDir(requireOwnCache(ctx.host.ownCache, ctx.project.root)),
          file,
          content,
          bytesSha256,
        ),
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
  gateway: Partial<ProxyOptions>,
  verbose: boolean,
  out: Output,
  timing: Timing,
  body: (proxy: NetworkProxy | null) => Promise<number>,
): Promise<number> {
  if (network !== "registry") return body(null);
  const { startProxy, proxyReport } = await import("../network/proxy.js");
  const proxy = await startProxy({ allow, ...gateway });
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

/**
 * A command that runs no package's code (noproject.ts): the real tool on the host, with the
 * user's own environment and config, from `/` so that nothing in the current directory (a
 * planted `.npmrc`, `.yarnrc.yml`, `package.json`) is read as configuration.
 */
export async function hostRun(
  host: HostInfo,
  tool: string,
  args: readonly string[],
  options: { dryRun: boolean; verbose: boolean; projectRoot: string | null },
  out: Output,
): Promise<number> {
  // The tool and what it starts by name (npm's `#!/usr/bin/env node`) come from PATH without the
  // directories a sandbox may have written (host.skippedPathDirs), nor any in this project.
  const inProject = (dir: string): boolean => {
    if (options.projectRoot === null) return false;
    const rel = relative(options.projectRoot, realpathOr(dir));
    return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
  };
  const skipped = [
    ...host.skippedPathDirs,
    ...host.pathDirs
      .filter(inProject)
      .map((dir) => ({ dir, why: `${dir} is in the project ${options.projectRoot}` })),
  ];
  const dirs = host.pathDirs.filter((dir) => !inProject(dir));
  const real = resolveTool(tool, { ...host, pathDirs: dirs });
  if (real === null) {
    throw new SafeNpmError("NO_PACKAGE_MANAGER", `${tool} was not found on PATH`, {
      hint:
        skipped.length > 0
          ? `install ${tool} outside any project (PATH entries in a node_modules or a project are not used for commands on the host: ${skipped.map((s) => s.dir).join(", ")})`
          : `install ${tool}, or make sure its directory is on PATH`,
    });
  }
  if (options.verbose || options.dryRun) {
    for (const { why } of skipped) {
      out.stderr(
        `safe-npm: PATH entry not used on the host: ${why} (a sandbox may have written it)\n`,
      );
    }
  }
  // What runs on the host: the tool's real file, and the node a script tool starts by name.
  requireHostTool(tool, real.bin, host);
  const node = resolveTool("node", { ...host, pathDirs: dirs });
  if (node !== null) requireHostTool("node", node.bin, host);
  const command = [real.bin, ...args];
  if (options.dryRun) {
    out.stdout(
      `runs no package's code: would run ${command.map(shellQuote).join(" ")} on the host, from /\n`,
    );
    return 0;
  }
  const env = { ...host.env, PATH: dirs.join(delimiter) };
  return (await runDirect(command, "/", env)).exitCode;
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Forwarding from the host's loopback (network/ports.ts) for the length of the sandbox. The
 * forwarding code is a lazy chunk loaded when something is to be forwarded — or now, before
 * the sandbox starts, when safe-npm itself lies in the project (code inside could change the
 * chunk and the forwarder's source on disk before they are loaded).
 */
async function withPorts<T>(
  ports: EffectiveSettings["ports"] | null,
  bridgePort: number,
  guard: Pick<PortOptions, "forwarded" | "registryPorts">,
  host: HostInfo,
  project: Project,
  out: Output,
  body: (onReady?: (sandboxPid: number) => void) => Promise<T>,
): Promise<T> {
  if (ports === null) return body();
  const load = () => import("../network/forward.js");
  const local = relative(project.root, PACKAGE_ROOT);
  const inProject = local === "" || (!local.startsWith("..") && !isAbsolute(local));
  const preloaded = inProject ? await load() : null;
  const source = inProject ? forwarderSource() : null;
  let netns = 0;
  const watcher = watchPorts({
    fixed: ports.fixed,
    exclude: bridgePort === 0 ? [] : [bridgePort],
    ...guard,
    report: (line) => out.stderr(`safe-npm: ${line}\n`),
    start: async (pid) => {
      if (host.nsenter === null)
        throw new Error("nsenter (util-linux) is not in /usr/bin or /bin; install util-linux");
      if (!host.perl) throw new Error("/usr/bin/perl is missing");
      const { startForwarding } = preloaded ?? (await load());
      return startForwarding({
        pid,
        netns,
        enterUser: host.uid !== 0,
        nsenter: host.nsenter,
        node: process.execPath,
        source: source ?? forwarderSource(),
        report: (line) => out.stderr(`safe-npm: ${line}\n`),
      });
    },
  });
  try {
    return await body((pid) => {
      try {
        netns = statSync(`/proc/${pid}/ns/net`).ino;
      } catch {
        return; // the sandbox ended already
      }
      watcher.ready(pid);
    });
  } finally {
    await watcher.close();
  }
}

/**
 * Registry mode for a package manager: the registry gateway terminates https to the registry
 * hosts so that the rules (`hook`) see every request in clear and the credentials held on the
 * host can be added. A command that cannot be made to trust the local CA keeps opaque tunnels,
 * with a notice (plain-http registries are still decided by the rules).
 */
async function gatewayOptions(
  hook: RegistryHook,
  allow: readonly AllowEntry[],
  ctx: RunContext,
  command: readonly string[],
  out: Output,
  globalNpmrc: string | null,
): Promise<{ options: Partial<ProxyOptions>; cafileConfigured: boolean }> {
  const setup = await import("../network/gateway-setup.js");
  const tool = basename(command[0] ?? "");
  // Plain-http registries are decided by the rules either way; https needs the local CA trusted.
  const plain = {
    options: { registryHook: hook, plainHttpTargets: plainHttpTargets(allow) },
    cafileConfigured: false,
  };
  if (!setup.trustsLocalCa(tool)) {
    out.stderr(
      `safe-npm: ${tool} cannot be made to trust safe-npm's local CA: https registry requests pass through an opaque tunnel\n`,
    );
    return plain;
  }
  if (!setup.needsLocalCa(hook.hosts, allow)) return plain;
  let projectNpmrc: string | null = null;
  try {
    projectNpmrc = readRegularFile(join(ctx.project.root, ".npmrc"), true);
  } catch {
    // none, or not a regular file (the allowlist step has refused a link already)
  }
  const place = setup.localCaPlace(ctx.host, ctx.project.root);
  if (place.notice !== null) out.stderr(`safe-npm: ${place.notice}\n`);
  if (place.dir === null) return plain;
  const cas = setup.hostCertificates(ctx.host, projectNpmrc, globalNpmrc);
  return {
    options: {
      ...plain.options,
      caDir: place.dir,
      upstreamCa: cas.upstream,
      projectCa: cas.projectUpstream,
      bundleCa: cas.bundle,
      nodeBundleCa: cas.nodeBundle,
    },
    cafileConfigured: cas.cafileConfigured,
  };
}

/** npm's global config kept in the project, read on the host (never through a link). */
function npmGlobalText(path: string | undefined): { path: string; text: string } | null {
  if (path === undefined) return null;
  const text = readProjectFile(path);
  return text === null ? null : { path, text };
}

/**
 * The project's `.yarnrc.yml` parsed when it may name a credential (`npmAuth…`, or a backslash:
 * an escape or an escaped line break a quoted YAML key could hide one behind), for policy.ts's
 * copy without them; else null. The YAML parser loads only then. A file that may name one but
 * cannot be read as yarn reads it stops the run, except with `--network full` (no copy: the
 * file is shown as it is).
 */
async function projectYarnrcParsed(
  root: string,
  network: NetworkMode,
): Promise<Record<string, unknown> | null> {
  const path = join(root, ".yarnrc.yml");
  const text = readProjectFile(path);
  if (text === null || !/npmAuth|\\/.test(text) || network === "full") return null;
  const read = (await import("../sandbox/yarnrcparse.js")).readYarnrc(text);
  if ("value" in read) return read.value;
  throw new SafeNpmError(
    "UNREADABLE_CREDENTIALS",
    `${path} may name a registry credential (npmAuthToken, npmAuthIdent), and ${read.error}`,
    {
      hint: "safe-npm shows that file inside with each credential replaced, which needs a plain YAML mapping: remove duplicate keys (yarn uses the last one), or write it as YAML",
    },
  );
}
