/**
 * `safe-npm doctor`: one line per check (✓/✗, and a `fix:` for each failure), or one JSON
 * document with `--json`. The checks gather facts with side effects (spawning bwrap and node,
 * reading /proc/sys); turning them into lines or JSON is pure (`formatChecks`) and unit-tested.
 *
 * Exit status: 0 only when the trial sandbox ran. Every other failed check is reported, but only
 * the trial decides the exit code — a missing project, invalid settings or an absent package
 * manager stop one command, not sandboxes as such, and `doctor` answers "can safe-npm sandbox
 * anything on this machine?" (commands/index.ts calls it before any project detection).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import pc from "picocolors";
import { printable, printableLines } from "../cli/output.js";
import { EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "../errors.js";
import {
  GENERIC_BWRAP_HINT,
  INSTALL_BWRAP,
  readUsernsSysctls,
  type UsernsSysctls,
  usernsBlockers,
} from "../host/diagnose.js";
import {
  type HostInfo,
  hostToolProblem,
  nodeBehindScript,
  readNpmGlobalConfig,
  resolveTool,
  usersNpmGlobalConfig,
  which,
} from "../host/host.js";
import {
  type DetectedPackageManager,
  detectPackageManager,
  findProject,
  type PackageManagerName,
  type Project,
} from "../host/project.js";
import { isShim, parseShim, readHead } from "../host/shims.js";
import { registryAllowlist, registryFiles } from "../network/registries.js";
import { findSettingsFiles } from "../settings/find.js";
import { type ResolvedSettings, resolveSettings } from "../settings/index.js";
import { applyFlags, defaults, type EffectiveSettings, type Flags } from "../settings/merge.js";
import { trustStorePath } from "../settings/trust.js";
import type { Output, RunOptions } from "./types.js";

export interface Check {
  name: string;
  ok: boolean;
  /** May span several lines (bwrap's message, a list of widenings). */
  detail: string;
  /** What to do about a failure. */
  fix?: string;
}

/** The check whose result is the exit status (see the module comment). */
export const TRIAL_CHECK = "trial sandbox";

/** bubblewrap 0.8.0 added --disable-userns, which every sandbox uses. */
export const MIN_BWRAP = "0.8.0";
/** package.json `engines.node`. */
export const MIN_NODE = "20.19.0";

const UPGRADE_BWRAP = `upgrade bubblewrap to ${MIN_BWRAP} or newer (Debian 12+, Ubuntu 24.04+ and current Fedora/Arch ship it; else build it from https://github.com/containers/bubblewrap)`;
/** True when the sandbox can run here: the trial passed. */
export function doctorOk(checks: readonly Check[]): boolean {
  return checks.some((c) => c.name === TRIAL_CHECK && c.ok);
}

/**
 * Text: `✓ name: detail`, or `✗ name: detail` and an indented `fix:` line; continuation lines of
 * a detail are indented. JSON: `{ ok, checks: [{ name, ok, detail, fix? }] }`.
 */
export function formatChecks(checks: readonly Check[], json: boolean, color = false): string {
  const ok = doctorOk(checks);
  if (json) {
    const plain = checks.map((c) => ({
      name: c.name,
      ok: c.ok,
      detail: c.detail,
      ...(c.fix === undefined ? {} : { fix: c.fix }),
    }));
    return `${JSON.stringify({ ok, checks: plain }, null, 2)}\n`;
  }
  const colors = pc.createColors(color);
  const lines: string[] = [];
  for (const check of checks) {
    // Details name paths and values from the project and the host: printed as escapes, never raw.
    const [first = "", ...rest] = check.detail.split("\n").map(printable);
    const mark = check.ok ? colors.green("✓") : colors.red("✗");
    lines.push(`${mark} ${check.name}: ${first}`);
    for (const line of rest) lines.push(`    ${line}`);
    if (!check.ok && check.fix !== undefined) {
      lines.push(`  ${colors.dim("fix:")} ${printableLines(check.fix)}`);
    }
  }
  lines.push(
    "",
    ok
      ? "safe-npm can run sandboxes here."
      : `safe-npm cannot run sandboxes here: see the "${TRIAL_CHECK}" line.`,
  );
  return `${lines.join("\n")}\n`;
}

/** The first `x.y[.z]` in `text` (`bubblewrap 0.8.0`, `v20.19.1`), or null. */
export function parseVersion(text: string): [number, number, number] | null {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (m === null) return null;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

/** `version` ≥ `min`; false when `version` has no version number in it. */
export function versionAtLeast(version: string, min: string): boolean {
  const have = parseVersion(version);
  const need = parseVersion(min);
  if (have === null || need === null) return false;
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * ✓ when nothing blocks user namespaces for this user — or when the trial sandbox ran anyway
 * (Ubuntu's AppArmor restriction with a profile that allows bwrap).
 */
export function usernsCheck(values: UsernsSysctls, uid: number, trialPassed = false): Check {
  const shown = Object.entries(values)
    .map(([name, value]) => `${name}=${value ?? "(not present)"}`)
    .join(", ");
  const blockers = usernsBlockers(values, uid);
  const asRoot = uid === 0 ? " (running as root: the unprivileged limits do not apply)" : "";
  if (blockers.length === 0) return { name: "user namespaces", ok: true, detail: shown + asRoot };
  if (trialPassed) {
    return {
      name: "user namespaces",
      ok: true,
      detail: `${shown}${asRoot}: restricted, but bwrap may create them (the trial sandbox ran; e.g. an AppArmor profile allows it)`,
    };
  }
  return {
    name: "user namespaces",
    ok: false,
    detail: `${shown}${asRoot}: user namespaces are not available to this user`,
    fix: blockers.join("; "),
  };
}

/**
 * The trial sandbox's bwrap arguments: the namespaces and privileges of a real run (bwrap.ts) and
 * the smallest filesystem that runs /bin/sh — /usr plus the merged-/usr links (as policy.ts).
 */
export function trialArgs(rootDirs: HostInfo["rootDirs"]): string[] {
  const args = [
    "--unshare-user",
    "--disable-userns",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--ro-bind",
    "/usr",
    "/usr",
  ];
  for (const [dir, link] of Object.entries(rootDirs)) {
    args.push(...(link === null ? ["--ro-bind", dir, dir] : ["--symlink", link, dir]));
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--chdir", "/", "--", "/bin/sh", "-c", "echo ok");
  return args;
}

export async function doctor(
  host: HostInfo,
  options: RunOptions,
  out: Output,
  json: boolean,
): Promise<number> {
  const checks: Check[] = [];
  checks.push(platformCheck(host));
  const bwrap = bwrapCheck(host);
  checks.push(bwrap.check);
  const sysctls = readUsernsSysctls();
  const trial = trialCheck(host, bwrap.version, sysctls);
  checks.push(trial);
  checks.push(usernsCheck(sysctls, host.uid, trial.ok));
  checks.push(userCheck(host));
  checks.push(nodeCheck(host));

  let project: Project | null = null;
  let projectError: unknown = null;
  try {
    project = findProject(host.cwd, host.home);
  } catch (error) {
    projectError = error;
  }
  // Settings come before the package manager in effect (they may name it) but after it in the list.
  const settings = await settingsCheck(host, options, project);
  checks.push(projectCheck(project, projectError));
  const pm = await packageManagerCheck(host, project, settings.resolved);
  checks.push(pm.check);
  checks.push(settings.check);
  checks.push(networkCheck(settings.resolved, options));
  checks.push(await registriesCheck(host, project, settings.resolved, options, pm.name));
  checks.push(await homesCheck(host));
  if (project !== null) checks.push(await storeCheck(host, project));
  checks.push(...shimChecks(host));
  checks.push(...pathCheck(host));
  checks.push(portsCheck(host, settings.resolved, options));

  out.stdout(formatChecks(checks, json, !json && out.stderrIsTty && process.stdout.isTTY === true));
  return doctorOk(checks) ? 0 : EXIT_SAFE_NPM_FAILURE;
}

/**
 * Off Linux there is no host to gather (gatherHost refuses), so doctor reports just that line.
 */
export function doctorNotLinux(platform: string, out: Output, json: boolean): number {
  const check = platformCheck({ platform, arch: process.arch } as Pick<
    HostInfo,
    "platform" | "arch"
  >);
  out.stdout(formatChecks([check], json));
  return EXIT_SAFE_NPM_FAILURE;
}

function platformCheck(host: Pick<HostInfo, "platform" | "arch">): Check {
  return host.platform === "linux"
    ? { name: "platform", ok: true, detail: `linux (${host.arch})` }
    : {
        name: "platform",
        ok: false,
        detail: `${host.platform}: bubblewrap needs Linux namespaces`,
        fix: "run safe-npm in a Linux VM or container",
      };
}

function bwrapCheck(host: HostInfo): { check: Check; version: string | null } {
  if (host.bwrap === null) {
    return {
      check: { name: "bwrap", ok: false, detail: "not found on PATH", fix: INSTALL_BWRAP },
      version: null,
    };
  }
  const unsafe = hostToolProblem("bwrap", host.bwrap, host);
  if (unsafe !== null) {
    return {
      check: { name: "bwrap", ok: false, detail: unsafe, fix: INSTALL_BWRAP },
      version: null,
    };
  }
  const r = spawnSync(host.bwrap, ["--version"], {
    encoding: "utf8",
    timeout: 10_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const text = `${r.stdout ?? ""}`.trim();
  if (r.error !== undefined || r.status !== 0 || parseVersion(text) === null) {
    const why = r.error?.message ?? (`${r.stderr ?? ""}`.trim() || `exit status ${r.status}`);
    return {
      check: {
        name: "bwrap",
        ok: false,
        detail: `${host.bwrap}: cannot read its version (\`bwrap --version\`: ${why})`,
        fix: `reinstall bubblewrap ${MIN_BWRAP} or newer; ${INSTALL_BWRAP}`,
      },
      version: null,
    };
  }
  if (!versionAtLeast(text, MIN_BWRAP)) {
    return {
      check: {
        name: "bwrap",
        ok: false,
        detail: `${host.bwrap}: ${text} is older than ${MIN_BWRAP} (no --disable-userns)`,
        fix: UPGRADE_BWRAP,
      },
      version: text,
    };
  }
  return { check: { name: "bwrap", ok: true, detail: `${host.bwrap} (${text})` }, version: text };
}

function trialCheck(host: HostInfo, version: string | null, sysctls: UsernsSysctls): Check {
  if (host.bwrap === null) {
    return {
      name: TRIAL_CHECK,
      ok: false,
      detail: "not run: bwrap is not on PATH",
      fix: INSTALL_BWRAP,
    };
  }
  const r = spawnSync(host.bwrap, trialArgs(host.rootDirs), {
    encoding: "utf8",
    timeout: 15_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout = `${r.stdout ?? ""}`.trim();
  const stderr = `${r.stderr ?? ""}`.trim();
  if (r.error === undefined && r.status === 0 && stdout === "ok") {
    return {
      name: TRIAL_CHECK,
      ok: true,
      detail: `ran /bin/sh in a new user, pid, ipc and uts namespace as uid ${host.uid}, all capabilities dropped, nested user namespaces disabled`,
    };
  }
  let detail: string;
  if (r.error !== undefined) detail = `bwrap could not be run: ${r.error.message}`;
  else if (r.status === 0)
    detail = `the sandbox ran but printed ${JSON.stringify(stdout)}, not "ok"`;
  else
    detail = `bwrap failed (${r.status === null ? `signal ${r.signal}` : `exit status ${r.status}`})${stderr === "" ? "" : `: ${stderr}`}`;
  const causes = usernsBlockers(sysctls, host.uid);
  if (version !== null && !versionAtLeast(version, MIN_BWRAP)) {
    causes.push(`${version} is too old for --disable-userns: ${UPGRADE_BWRAP}`);
  }
  if (host.sandbox !== null) {
    causes.push(
      "this is already a safe-npm sandbox, where new user namespaces are disabled: run doctor outside it",
    );
  }
  return {
    name: TRIAL_CHECK,
    ok: false,
    detail,
    fix: causes.length > 0 ? `likely cause: ${causes.join("; ")}` : GENERIC_BWRAP_HINT,
  };
}

function userCheck(host: HostInfo): Check {
  return {
    name: "user",
    ok: true,
    detail:
      host.uid === 0
        ? "running as root: capabilities are dropped inside (--cap-drop ALL)"
        : `running as uid ${host.uid} (${host.user})`,
  };
}

function toolDetail(tool: { bin: string; real: string }): string {
  return tool.real === tool.bin ? tool.bin : `${tool.bin} → ${tool.real}`;
}

function nodeCheck(host: HostInfo): Check {
  const node = resolveTool("node", host);
  const install = "install Node.js 20.19 or newer (or activate it with nvm/fnm/volta)";
  if (node === null) {
    return {
      name: "node",
      ok: false,
      detail: "not found on PATH",
      fix: `${install} so that \`node\` is on PATH`,
    };
  }
  // Not run when it may be a sandbox's to rewrite: doctor runs it on the host.
  const unsafe = hostToolProblem("node", node.bin, host);
  if (unsafe !== null) return { name: "node", ok: false, detail: unsafe, fix: install };
  const r = spawnSync(node.real, ["--version"], {
    encoding: "utf8",
    timeout: 10_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const version = `${r.stdout ?? ""}`.trim();
  if (r.error !== undefined || r.status !== 0 || parseVersion(version) === null) {
    return {
      name: "node",
      ok: false,
      detail: `${toolDetail(node)}: \`node --version\` failed (${r.error?.message ?? (`${r.stderr ?? ""}`.trim() || `exit status ${r.status}`)})`,
      fix: install,
    };
  }
  if (!versionAtLeast(version, MIN_NODE)) {
    return {
      name: "node",
      ok: false,
      detail: `${toolDetail(node)}, ${version}: safe-npm needs ${MIN_NODE} or newer`,
      fix: install,
    };
  }
  return { name: "node", ok: true, detail: `${toolDetail(node)}, ${version}` };
}

const REASONS: Readonly<Record<Project["reason"], string>> = {
  lockfile: "package.json with a lockfile",
  workspaces: "workspace root",
  "package.json": "nearest package.json",
  "working directory": "no package.json: the working directory",
};

function projectCheck(project: Project | null, error: unknown): Check {
  if (project !== null) {
    return { name: "project", ok: true, detail: `${project.root} (${REASONS[project.reason]})` };
  }
  if (error instanceof SafeNpmError && error.code !== "NO_PROJECT") {
    return {
      name: "project",
      ok: false,
      detail: error.message,
      ...(error.hint === undefined ? {} : { fix: error.hint }),
    };
  }
  return {
    name: "project",
    ok: false,
    detail: error instanceof Error ? error.message : String(error),
    fix: "run doctor inside a project (a directory with a package.json) to check its package manager and settings",
  };
}

/** The package manager's line, and its name for the registries line (yarn's default differs). */
async function packageManagerCheck(
  host: HostInfo,
  project: Project | null,
  resolved: ResolvedSettings | null,
): Promise<{ check: Check; name: PackageManagerName | null }> {
  let name: PackageManagerName | null = null;
  const check = await packageManagerLine(host, project, resolved, (n) => {
    name = n;
  });
  return { check, name };
}

async function packageManagerLine(
  host: HostInfo,
  project: Project | null,
  resolved: ResolvedSettings | null,
  found: (name: PackageManagerName) => void,
): Promise<Check> {
  let detected: DetectedPackageManager;
  let decided: string;
  const override: PackageManagerName | undefined = resolved?.effective.packageManager;
  if (project === null) {
    detected = { name: "npm", agent: "npm", source: "default" };
    decided = "no project: the default";
  } else if (override !== undefined) {
    detected = { name: override, agent: override, source: "settings" };
    decided = "decided by: settings";
  } else {
    try {
      detected = await detectPackageManager(project.root);
    } catch (error) {
      return {
        name: "package manager",
        ok: false,
        detail: `cannot detect it: ${error instanceof Error ? error.message : String(error)}`,
        fix: 'set "packageManager" in package.json, e.g. "npm@10.9.0"',
      };
    }
    decided = `decided by: ${detected.source}`;
  }
  found(detected.name);
  const tool = resolveTool(detected.name, host);
  if (tool === null) {
    return {
      name: "package manager",
      ok: false,
      detail: `${detected.name} (${decided}) was not found on PATH`,
      fix: `install ${detected.name} (e.g. \`corepack enable\` or \`npm install -g ${detected.name}\`) or make sure its directory is on PATH`,
    };
  }
  return {
    name: "package manager",
    ok: true,
    detail: `${detected.name} (${decided}): ${toolDetail(tool)}`,
  };
}

function flagsOf(options: RunOptions): Flags {
  return {
    ...(options.network ? { network: options.network } : {}),
    allow: options.allow,
    ports: options.ports,
    noPorts: options.noPorts,
  };
}

/** Dev servers inside reach the host's loopback (network/forward.ts) when nsenter and perl are here. */
function portsCheck(host: HostInfo, resolved: ResolvedSettings | null, options: RunOptions): Check {
  const { ports } = resolved?.effective ?? applyFlags(defaults(), flagsOf(options));
  const name = "port forwarding";
  if (!ports.enabled)
    return {
      name,
      ok: true,
      detail: "off (ports: false or --no-ports): nothing inside is reachable from the host",
    };
  const missing = [
    ...(host.nsenter === null ? ["nsenter (util-linux) in /usr/bin or /bin"] : []),
    ...(host.perl ? [] : ["/usr/bin/perl"]),
  ];
  if (missing.length > 0)
    return {
      name,
      ok: false,
      detail: `unavailable: no ${missing.join(", no ")} — a dev server inside cannot be reached from the host`,
      fix: "install util-linux and perl (Debian/Ubuntu: `sudo apt-get install util-linux perl`)",
    };
  const fixed = ports.fixed.length > 0 ? `; from the start: ${ports.fixed.join(", ")}` : "";
  return {
    name,
    ok: true,
    detail: `servers listening inside on loopback are forwarded from the host's 127.0.0.1 and ::1 (${host.nsenter})${fixed}`,
  };
}

const TRUST_WORDS: Readonly<Record<"trusted" | "not needed" | "for this run", string>> = {
  trusted: "trusted",
  "not needed": "does not widen the sandbox, no trust needed",
  "for this run": "trusted for this run by --trust-config or SAFE_NPM_TRUST_CONFIG=1",
};

async function settingsCheck(
  host: HostInfo,
  options: RunOptions,
  project: Project | null,
): Promise<{ check: Check; resolved: ResolvedSettings | null }> {
  const store = trustStorePath(host.env, host.home);
  let ignored = "";
  try {
    let found = findSettingsFiles(
      host.cwd,
      project?.root ?? host.cwd,
      host.env,
      host.home,
      options.config,
    );
    // Outside a project no repository settings apply (a real run would stop at "no project").
    if (project === null) found = { ...found, repo: null, ignoredCode: [] };
    ignored =
      found.ignoredCode.length === 0
        ? ""
        : `\nignored (code is never loaded; settings are read only from data files): ${found.ignoredCode.join(", ")}`;
    const resolved = await resolveSettings(found, flagsOf(options), {
      trustForRun: options.trustConfig || host.env.SAFE_NPM_TRUST_CONFIG === "1",
      store,
    });
    const parts: string[] = [];
    if (resolved.user !== null) parts.push(`user ${resolved.user.file}`);
    if (resolved.repo !== null) {
      const widened =
        resolved.repo.widenings.length === 0
          ? ""
          : `; widens: ${resolved.repo.widenings.join(", ")}`;
      parts.push(`repo ${resolved.repo.file} (${TRUST_WORDS[resolved.repo.trust]}${widened})`);
    }
    const files = parts.length === 0 ? "none (built-in defaults)" : parts.join(" · ");
    return {
      check: { name: "settings", ok: true, detail: `${files}; trust store ${store}${ignored}` },
      resolved,
    };
  } catch (error) {
    if (!(error instanceof SafeNpmError)) {
      const message = error instanceof Error ? error.message : String(error);
      return {
        check: {
          name: "settings",
          ok: false,
          detail: `cannot load the settings: ${message}${ignored}`,
          fix: "check that the settings files and the trust store are readable",
        },
        resolved: null,
      };
    }
    const detail =
      error.code === "UNTRUSTED_SETTINGS"
        ? `${error.message}\nnot trusted (trust store ${store})`
        : error.message;
    return {
      check: {
        name: "settings",
        ok: false,
        detail: detail + ignored,
        ...(error.hint === undefined ? {} : { fix: error.hint }),
      },
      resolved: null,
    };
  }
}

function networkCheck(resolved: ResolvedSettings | null, options: RunOptions): Check {
  const effective: EffectiveSettings =
    resolved?.effective ?? applyFlags(defaults(), flagsOf(options));
  const { install, run, allow } = effective.network;
  const source = effective.sources.network;
  const extra =
    allow.length === 0
      ? "none besides the registries"
      : `${allow.join(", ")} (besides the registries)`;
  const notes = [
    ...(source === undefined
      ? []
      : [source === "flag" ? "set by a flag" : `set by the ${source} settings`]),
    ...(resolved === null ? ["built-in defaults: the settings above cannot be applied"] : []),
  ];
  return {
    name: "network",
    ok: true,
    detail: `installs: ${install} · other commands: ${run} · hosts allowed in registry mode: ${extra}${notes.length === 0 ? "" : ` (${notes.join("; ")})`}`,
  };
}

/**
 * The hosts registry mode would let this project's installs reach: the registries its config and
 * the user's name (else the manager's default), and the allowed hosts of settings and flags.
 */
async function registriesCheck(
  host: HostInfo,
  project: Project | null,
  resolved: ResolvedSettings | null,
  options: RunOptions,
  manager: PackageManagerName | null,
): Promise<Check> {
  if (project === null) {
    return { name: "registries", ok: true, detail: "no project: none to name" };
  }
  const effective = resolved?.effective ?? applyFlags(defaults(), flagsOf(options));
  try {
    const { formatAllowEntry } = await import("../network/allowlist.js");
    const node = resolveTool("node", host);
    // As a run reads it: from the node behind a `node` wrapper script (yarn's run).
    const globalNpmrc = usersNpmGlobalConfig(
      node === null
        ? null
        : readNpmGlobalConfig(
            nodeBehindScript(node, process.execPath) ?? node,
            resolveTool("npm", host) ?? undefined,
          ),
      project.root,
      host,
    );
    const allow = await registryAllowlist(
      host,
      project,
      effective,
      registryFiles(project.root),
      [manager ?? "npm"],
      globalNpmrc,
    );
    const names = allow.map((e) => `${formatAllowEntry(e)} (${e.source})`).join(", ");
    return {
      name: "registries",
      ok: true,
      detail: `registry mode allows ${names === "" ? "nothing" : names}`,
    };
  } catch (error) {
    return {
      name: "registries",
      ok: false,
      detail: error instanceof Error ? error.message : String(error),
      ...(error instanceof SafeNpmError && error.hint !== undefined ? { fix: error.hint } : {}),
    };
  }
}

/** How many private homes there are and what they take. */
async function homesCheck(host: HostInfo): Promise<Check> {
  const { formatSize, homesDir, listHomes } = await import("./homes.js");
  if (host.ownCache.problem !== null) {
    return {
      name: "private homes",
      ok: false,
      detail: host.ownCache.problem,
      fix: "set XDG_CACHE_HOME to a directory outside any project",
    };
  }
  const dir = homesDir(host.ownCache.home);
  const homes = listHomes(dir);
  const moved = host.ownCache.notice === null ? "" : ` (${host.ownCache.notice})`;
  const bytes = homes.reduce((sum, h) => sum + h.bytes, 0);
  const missing = homes.filter((h) => h.projectExists === false).length;
  const atLeast = homes.some((h) => h.unreadable.length > 0) ? "at least " : "";
  return {
    name: "private homes",
    ok: true,
    detail:
      homes.length === 0
        ? `none yet in ${dir}${moved}`
        : `${homes.length} in ${dir}, ${atLeast}${formatSize(bytes)} in total${missing === 0 ? "" : `, ${missing} of missing projects`} (\`safe-npm homes\` lists them, \`safe-npm homes prune\` removes those of missing projects)${moved}`,
  };
}

/**
 * Whether pnpm and bun installs here can hard-link from their store: only when the private
 * homes and the project share a filesystem (sandbox/linkedstore.ts); else they copy.
 */
async function storeCheck(host: HostInfo, project: Project): Promise<Check> {
  const { homesDir } = await import("./homes.js");
  const { linkObstacle } = await import("../sandbox/linkedstore.js");
  const obstacle = linkObstacle(homesDir(host.ownCache.home), project.root);
  return {
    name: "pnpm and bun stores",
    ok: true,
    detail:
      obstacle === null
        ? "hard-linked: for an install the store moves into node_modules and back after"
        : `copied, not hard-linked (slower for many files): ${obstacle}; an XDG_CACHE_HOME on the project's filesystem lets them link`,
  };
}

/**
 * PATH entries in a node_modules or a project, which safe-npm does not search for the tools it
 * runs or binds (host/projectplace.ts): named, so a tool missing for that reason is explained.
 */
export function pathCheck(host: Pick<HostInfo, "skippedPathDirs">): Check[] {
  if (host.skippedPathDirs.length === 0) {
    return [
      {
        name: "PATH in projects",
        ok: true,
        detail: "no PATH entry lies in a node_modules or a project",
      },
    ];
  }
  return [
    {
      name: "PATH in projects",
      ok: true,
      detail: `not searched for tools (a sandboxed run may have written them): ${host.skippedPathDirs.map((s) => s.why).join("; ")}`,
    },
  ];
}

/**
 * Whether `safe-npm setup`'s shims are installed, calling a safe-npm that still exists, and
 * active in this shell (their directory first on PATH); and what a plain `npm` runs here.
 */
export function shimChecks(host: Pick<HostInfo, "env" | "shimDir">): Check[] {
  const dir = host.shimDir;
  const names = existsSync(dir) ? readdirSync(dir).filter((name) => isShim(join(dir, name))) : [];
  const rawPath = (host.env.PATH ?? "").split(delimiter).filter((d) => isAbsolute(d));
  const plain = which("npm", rawPath);
  const plainIsShim = plain !== null && isShim(plain);
  const real = which(
    "npm",
    rawPath.filter((d) => resolve(d) !== resolve(dir)),
  );
  const plainCheck: Check =
    plain === null
      ? { name: "plain npm", ok: true, detail: "no npm on PATH" }
      : plainIsShim
        ? {
            name: "plain npm",
            ok: true,
            detail: `runs ${plain}, a safe-npm shim: \`npm install\` is \`safe-npm npm install\`${real === null ? "" : ` (with ${real})`}`,
          }
        : names.length === 0
          ? { name: "plain npm", ok: true, detail: `runs ${plain} directly, outside the sandbox` }
          : {
              name: "plain npm",
              ok: false,
              detail: `runs ${plain} directly, outside the sandbox`,
              fix: "open a new shell, or put the shims first on PATH (see the shims line)",
            };
  if (names.length === 0) {
    return [
      {
        name: "shims",
        ok: true,
        detail: `not set up: a plain npm, npx, yarn, pnpm or bun runs outside the sandbox; \`safe-npm setup\` makes them run through safe-npm`,
      },
      plainCheck,
    ];
  }
  const target = parseShim(
    readHead(join(dir, names.includes("npm") ? "npm" : (names[0] ?? "")), 4096) ?? "",
  );
  if (target !== null && !(existsSync(target.cli) && existsSync(target.node))) {
    return [
      {
        name: "shims",
        ok: false,
        detail: `${dir} (${names.length}) run ${target.cli} with ${target.node}, which no longer exist(s)`,
        fix: "run `safe-npm setup` again with the safe-npm you use now, or `safe-npm teardown`",
      },
      plainCheck,
    ];
  }
  const first = rawPath[0];
  const active = first !== undefined && resolve(first) === resolve(dir);
  const calls = target === null ? "" : `, calling ${target.cli}`;
  return [
    active
      ? {
          name: "shims",
          ok: true,
          detail: `active in this shell: ${dir} is first on PATH (${names.join(", ")}${calls})`,
        }
      : {
          name: "shims",
          ok: false,
          detail: `installed in ${dir}${calls}, but not first on PATH in this shell`,
          fix: `open a new shell (or \`export PATH="${dir}:$PATH"\`); if it stays so, something after the safe-npm block in your rc file puts another directory first (nvm use, …): move the block below it`,
        },
    plainCheck,
  ];
}
