/** The human-readable policy for --dry-run and --verbose. */

import type { CommandClass } from "../commands/classes.js";
import type { DetectedPackageManager, Project } from "../host/project.js";
import { type AllowEntry, formatAllowEntry } from "../network/allowlist.js";
import type { ResolvedSettings } from "../settings/index.js";
import { SETTING_KEYS } from "../settings/keys.js";
import { shellQuote } from "./bwrap.js";
import type { Policy } from "./policy.js";

export interface DescribeInput {
  policy: Policy;
  project: Project;
  detected: DetectedPackageManager | null;
  privateHome: string;
  resolved: ResolvedSettings;
  cls: CommandClass;
  /** Registry mode's allowlist. */
  allow: readonly AllowEntry[];
  /** Registry mode: where each credential the proxy adds came from (never a value). */
  credentials?: readonly string[] | undefined;
  /** Whether servers it starts are looked for (commands/classes.ts watchesPorts). */
  watchesPorts?: boolean;
}

export function describePolicy(input: DescribeInput): string {
  const { policy, project, detected, privateHome, resolved, cls, allow } = input;
  const { effective } = resolved;
  const lines = [
    "safe-npm policy:",
    `  project:   ${project.root} (root because of: ${project.reason})`,
    `  cwd:       ${policy.cwd}`,
    `  command:   ${policy.command.map(shellQuote).join(" ")}`,
  ];
  if (detected !== null)
    lines.push(`  manager:   ${detected.name} (decided by: ${detected.source})`);
  lines.push(
    `  network:   ${policy.network} (for ${cls === "install" ? "installs" : "this kind of command"})`,
    ...(policy.network === "registry"
      ? [
          `  allowed:   ${allow.map((e) => `${formatAllowEntry(e)} (${e.source}${e.projectOnly === true ? "; only the project names it: not at an internal address" : ""})`).join(", ") || "nothing"}`,
          `  credentials: ${input.credentials?.length ? `added on the host from ${input.credentials.join(", ")}` : "none held"}`,
        ]
      : []),
    `  ports:     ${describePorts(policy.network, effective.ports, input.watchesPorts ?? true)}`,
    `  home:      ${effective.home === "private" ? `private (${privateHome})` : `the project (${project.root})`}`,
    `  seccomp:   ${policy.seccomp ? "terminal injection, keyrings, ptrace, perf, mount and namespace calls, rare socket families blocked" : "unavailable on this arch (--new-session instead)"}`,
    "  settings:",
  );
  lines.push(`    user file:  ${resolved.user?.file ?? "none"}`);
  lines.push(
    `    repo file:  ${resolved.repo === null ? "none" : `${resolved.repo.file} (${resolved.repo.trust === "not needed" ? "nothing to trust" : resolved.repo.trust})`}`,
  );
  for (const key of SETTING_KEYS) {
    lines.push(
      `    ${key.padEnd(15)} ${settingValue(key, resolved)}  [${effective.sources[key] ?? "default"}]`,
    );
  }
  lines.push("  mounts:");
  for (const m of policy.mounts) {
    if (m.kind === "ro-bind" || m.kind === "bind") {
      lines.push(
        `    ${m.kind === "bind" ? "rw" : "ro"}  ${m.dest}${m.src === m.dest ? "" : ` ← ${m.src}`}`,
      );
    } else if (m.kind === "symlink") lines.push(`    ln  ${m.dest} → ${m.target}`);
    else if (m.kind === "data") lines.push(`    ro  ${m.dest} (${m.label})`);
    else if (m.kind === "pin") lines.push(`    rw  ${m.dest} (pinned: cannot be renamed inside)`);
    else lines.push(`    ${m.kind.padEnd(3)} ${m.dest}`);
  }
  lines.push(`  env:       ${Object.keys(policy.env).join(" ")}`);
  if (effective.dotfiles.includes(".npmrc")) {
    lines.push(
      "  note:      ~/.npmrc is a chosen dotfile: it enters in full, credentials included",
    );
  }
  return `${lines.join("\n")}\n`;
}

function describePorts(
  network: Policy["network"],
  ports: ResolvedSettings["effective"]["ports"],
  watches: boolean,
): string {
  if (network === "full") return "nothing to forward (the sandbox shares the host's network)";
  if (!ports.enabled) return "off (nothing inside is reachable from the host)";
  const fixed = ports.fixed.length > 0 ? `; from the start: ${ports.fixed.join(", ")}` : "";
  if (!watches && ports.fixed.length === 0) {
    return "not looked for (an install starts no server; --port N forwards N)";
  }
  return `a server listening inside on loopback (port >= 1024, not a listen(0) port) is forwarded from the host's 127.0.0.1 and ::1 while the command runs${fixed}`;
}

function settingValue(key: string, resolved: ResolvedSettings): string {
  const e = resolved.effective;
  switch (key) {
    case "dotfiles":
      return JSON.stringify(e.dotfiles);
    case "env":
      return JSON.stringify({ pass: e.envPass, set: Object.keys(e.envSet) });
    case "network":
      return JSON.stringify(e.network);
    case "binds":
      return JSON.stringify(e.binds);
    case "protect":
      return JSON.stringify(e.protect);
    case "home":
      return e.home;
    case "cache":
      return e.cache;
    case "ports":
      return e.ports.enabled ? JSON.stringify(e.ports.fixed) : "false";
    default:
      return e.packageManager ?? "(detected)";
  }
}
