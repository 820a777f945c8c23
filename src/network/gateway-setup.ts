/**
 * Host-side inputs of the registry gateway, gathered before the proxy starts: where the local CA
 * lives, which certificates the user trusts besides the system's (npm's `cafile`,
 * `NODE_EXTRA_CA_CERTS`), and which package managers can be made to trust the local CA.
 */
import { isAbsolute, join } from "node:path";
import type { HostInfo } from "../host/host.js";
import { parseNpmrc } from "../sandbox/npmrc.js";
import { readRegularFile } from "../sandbox/safepath.js";
import type { AllowEntry } from "./allowlist.js";
import { hostPort } from "./allowlist.js";

/** `$XDG_STATE_HOME/safe-npm/ca` (default `~/.local/state/safe-npm/ca`). */
export function localCaDir(host: Pick<HostInfo, "env" | "home">): string {
  const state = host.env.XDG_STATE_HOME;
  return join(
    state && isAbsolute(state) ? state : join(host.home, ".local", "state"),
    "safe-npm",
    "ca",
  );
}

export interface HostCas {
  /** Certificates (PEM), in order: npm's cafile, then NODE_EXTRA_CA_CERTS. */
  certificates: string[];
  /** npm config (the project's or the user's) names a cafile. */
  cafileConfigured: boolean;
}

/**
 * The CAs the user trusts besides the system's. Only `CERTIFICATE` blocks are kept: a cafile a
 * cloned project names could point at any file the user can read, and whatever else it holds
 * must not travel into the sandbox's bundle. A file that cannot be read is skipped (npm and node
 * would fail on it the same way without safe-npm).
 */
export function hostCertificates(
  host: Pick<HostInfo, "env" | "home" | "userNpmrc">,
  projectNpmrc: string | null,
): HostCas {
  // npm's precedence: the project's .npmrc over the user's.
  let cafile: string | null = null;
  for (const text of [host.userNpmrc, projectNpmrc]) {
    if (text === null) continue;
    for (const entry of parseNpmrc(text)) {
      if (entry.section === null && entry.key === "cafile" && typeof entry.value === "string") {
        cafile = entry.value.trim();
      }
    }
  }
  if (cafile?.startsWith("~/")) cafile = join(host.home, cafile.slice(2));
  const certificates: string[] = [];
  for (const path of [cafile, host.env.NODE_EXTRA_CA_CERTS]) {
    if (!path || !isAbsolute(path)) continue;
    try {
      certificates.push(...pemCertificates(readRegularFile(path, false)));
    } catch {
      // unreadable: trusted by nobody
    }
  }
  return { certificates, cafileConfigured: cafile !== null && cafile !== "" };
}

/** The `-----BEGIN CERTIFICATE-----` blocks of a PEM text. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/g) ?? [];
}

/**
 * Package managers that can be made to trust the local CA from inside. Any other command keeps
 * today's opaque tunnels (and the registry stays a way out for it).
 */
export function trustsLocalCa(tool: string): boolean {
  return ["npm", "npx", "pnpm", "pnpx", "yarn", "yarnpkg", "bun", "bunx"].includes(tool);
}

/** The registries of the allowlist (not hosts added by settings or --allow-host), as host:port. */
export function registryTargets(allow: readonly AllowEntry[]): string[] {
  const targets: string[] = [];
  for (const entry of allow) {
    if (entry.wildcard || entry.source.startsWith("network.allow")) continue;
    for (const port of entry.port === null ? [443, 80] : [entry.port]) {
      targets.push(hostPort(entry.host, port));
    }
  }
  return targets;
}
