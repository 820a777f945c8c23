/** Orchestration: the only place where the steps with side effects happen, in order (design §2). */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { buildBwrapArgs, shellQuote } from "./bwrap.js";
import { SafeNpmError } from "./errors.js";
import { gatherHost, type HostInfo, type ResolvedTool, resolveTool } from "./host.js";
import {
  type NetworkMode,
  type Policy,
  privateHomeDir,
  type RequestKind,
  resolvePolicy,
} from "./policy.js";
import {
  type DetectedPackageManager,
  detectPackageManager,
  findProject,
  isInside,
} from "./project.js";
import { buildSeccompFilter, isSupportedSeccompArch } from "./seccomp.js";
import { runDirect, runSandbox } from "./spawn.js";

/** What the user asked for, after safe-npm's own flags. */
export type Target =
  /** `safe-npm <args…>`: the project's package manager. */
  | { kind: "auto"; args: string[] }
  /** `safe-npm npm|npx <args…>`: that tool explicitly. */
  | { kind: "tool"; tool: string; args: string[] }
  /** `safe-npm exec -- <cmd…>` */
  | { kind: "exec"; argv: string[] }
  /** `safe-npm shell` */
  | { kind: "shell" };

export interface RunOptions {
  target: Target;
  dryRun: boolean;
  network: NetworkMode | undefined;
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

/** The tools `safe-npm <tool> …` may name; the package-manager issue widens this list. */
export const TOOLS = ["npm", "npx"] as const;

export async function run(options: RunOptions, out: Output): Promise<number> {
  const host = gatherHost();
  const project = findProject(host.cwd, host.home);

  if (host.sandbox !== null) {
    // Nested (a package.json script prefixed with safe-npm, run by a sandboxed package manager):
    // the sandbox is already around us, so run the command as it is.
    const command = await commandInside(options.target, project.root, host);
    if (options.dryRun) {
      out.stdout(
        `already inside a safe-npm sandbox: would run ${command.map(shellQuote).join(" ")}\n`,
      );
      return 0;
    }
    return (await runDirect(command, host.cwd)).exitCode;
  }

  const { kind, command, detected } = await describeTarget(options.target, project.root, host);
  const node = resolveTool("node", host);
  if (node === null) {
    throw new SafeNpmError("NO_NODE", "node was not found on PATH", {
      hint: "install Node.js 20.19 or newer (or activate it with nvm/fnm/volta) so that `node` is on PATH",
    });
  }
  if (host.bwrap === null && !options.dryRun) throw noBwrap();
  const tools = resolveTools(kind, command, detected, host);
  const network = options.network ?? "full";
  const privateHome = privateHomeDir(
    host.cacheHome,
    project.root,
    createHash("sha256").update(project.root).digest("hex").slice(0, 12),
  );
  const gitDir = join(project.root, ".git");
  const policy = resolvePolicy({
    host,
    project,
    node,
    tools,
    kind,
    command,
    network,
    privateHome,
    protect: existsSync(gitDir) ? [gitDir] : [],
    version: VERSION,
  });
  const seccomp = isSupportedSeccompArch(host.arch) ? buildSeccompFilter(host.arch) : null;
  const invocation = buildBwrapArgs(policy, seccomp);

  if (options.dryRun) {
    out.stdout(describePolicy(policy, project.root, detected, privateHome));
    const argv = [host.bwrap ?? "bwrap", ...invocation.args].map(shellQuote).join(" ");
    const fds = invocation.inputs.map((i) => `${i.fd}<(${i.label})`).join(" ");
    out.stdout(`\nbwrap command:\n${argv}${fds === "" ? "" : ` ${fds}`}\n`);
    if (host.bwrap === null) out.stderr("note: bwrap is not on PATH; this command would fail\n");
    return 0;
  }
  if (host.bwrap === null) throw noBwrap();
  if (!options.quiet && out.stderrIsTty) {
    out.dim(`safe-npm ▸ ${command.join(" ")} · network: ${network} · home: private\n`);
  }
  if (options.verbose) out.stderr(describePolicy(policy, project.root, detected, privateHome));

  mkdirSync(privateHome, { recursive: true, mode: 0o700 });
  const outcome = await runSandbox(host.bwrap, invocation, { terminal: policy.terminal });
  if (!outcome.ready && outcome.exitCode !== 0) throw sandboxFailed(host, outcome.exitCode);
  return outcome.exitCode;
}

async function describeTarget(
  target: Target,
  root: string,
  host: HostInfo,
): Promise<{ kind: RequestKind; command: string[]; detected: DetectedPackageManager | null }> {
  switch (target.kind) {
    case "auto": {
      const detected = await detectPackageManager(root);
      return { kind: "pm", command: [detected.name, ...target.args], detected };
    }
    case "tool":
      return { kind: "pm", command: [target.tool, ...target.args], detected: null };
    case "exec":
      return { kind: "exec", command: target.argv, detected: null };
    case "shell":
      return { kind: "shell", command: [userShell(host)], detected: null };
  }
}

async function commandInside(target: Target, root: string, host: HostInfo): Promise<string[]> {
  return (await describeTarget(target, root, host)).command;
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
    return [tool];
  }
  const npm = resolveTool("npm", host);
  return npm === null ? [] : [npm];
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

function describePolicy(
  policy: Policy,
  root: string,
  detected: DetectedPackageManager | null,
  privateHome: string,
): string {
  const lines = [
    "safe-npm policy:",
    `  project:   ${root}`,
    `  cwd:       ${policy.cwd}`,
    `  command:   ${policy.command.map(shellQuote).join(" ")}`,
  ];
  if (detected !== null)
    lines.push(`  manager:   ${detected.name} (decided by: ${detected.source})`);
  lines.push(
    `  network:   ${policy.network}`,
    `  home:      private (${privateHome})`,
    `  seccomp:   ${policy.seccomp ? "TIOCSTI/TIOCLINUX blocked" : "unavailable on this arch (--new-session instead)"}`,
    "  mounts:",
  );
  for (const m of policy.mounts) {
    if (m.kind === "ro-bind" || m.kind === "bind") {
      lines.push(
        `    ${m.kind === "bind" ? "rw" : "ro"}  ${m.dest}${m.src === m.dest ? "" : ` ← ${m.src}`}`,
      );
    } else if (m.kind === "symlink") lines.push(`    ln  ${m.dest} → ${m.target}`);
    else if (m.kind === "data") lines.push(`    ro  ${m.dest} (${m.label})`);
    else lines.push(`    ${m.kind.padEnd(3)} ${m.dest}`);
  }
  lines.push(`  env:       ${Object.keys(policy.env).join(" ")}`);
  return `${lines.join("\n")}\n`;
}

function noBwrap(): SafeNpmError {
  return new SafeNpmError("NO_BWRAP", "bubblewrap (bwrap) was not found on PATH", {
    hint: "install it: Debian/Ubuntu `sudo apt-get install bubblewrap` · Fedora `sudo dnf install bubblewrap` · Arch `sudo pacman -S bubblewrap`",
  });
}

/** bwrap exited before the command started: name the likely cause from /proc/sys. */
function sandboxFailed(host: HostInfo, status: number): SafeNpmError {
  const causes: string[] = [];
  const sysctl = (name: string): string | null => {
    try {
      return readFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8").trim();
    } catch {
      return null;
    }
  };
  if (sysctl("kernel.apparmor_restrict_unprivileged_userns") === "1" && host.uid !== 0) {
    causes.push(
      "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 24.04+): allow bwrap with an AppArmor profile (see the README), or `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`",
    );
  }
  if (sysctl("user.max_user_namespaces") === "0") {
    causes.push("user.max_user_namespaces=0: `sudo sysctl user.max_user_namespaces=15000`");
  }
  if (sysctl("kernel.unprivileged_userns_clone") === "0" && host.uid !== 0) {
    causes.push(
      "kernel.unprivileged_userns_clone=0: `sudo sysctl kernel.unprivileged_userns_clone=1`",
    );
  }
  return new SafeNpmError(
    "BWRAP_FAILED",
    `bwrap could not create the sandbox (exit status ${status}; its message is above)`,
    {
      hint:
        causes.length > 0
          ? `likely cause: ${causes.join("; ")}`
          : "run `bwrap --ro-bind /usr /usr --unshare-user --unshare-pid true` to see whether namespaces work here; bubblewrap 0.8 or newer is required",
    },
  );
}
