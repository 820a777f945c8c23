/**
 * Host-side inputs of the registry gateway, gathered before the proxy starts: where the local CA
 * lives, which certificates the user trusts besides the system's (npm's `cafile`,
 * `NODE_EXTRA_CA_CERTS`), and which package managers can be made to trust the local CA.
 */
import { existsSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, sep } from "node:path";
import { rootCertificates } from "node:tls";
import { mayBeInProject } from "../cli/codecache.js";
import type { HostInfo } from "../host/host.js";
import { parseNpmrc } from "../sandbox/npmrc.js";
import { readRegularFile } from "../sandbox/safepath.js";
import type { AllowEntry } from "./allowlist.js";
import { isAllowed, plainHttpTargets } from "./allowlist.js";

/** `$XDG_STATE_HOME/safe-npm/ca` (default `~/.local/state/safe-npm/ca`). */
export function localCaDir(host: Pick<HostInfo, "env" | "home">): string {
  const state = host.env.XDG_STATE_HOME;
  return join(
    state && isAbsolute(state) ? state : join(host.home, ".local", "state"),
    "safe-npm",
    "ca",
  );
}

/**
 * Whether `dir` lies where a sandbox may write or read it: in the project, or below any
 * package.json (the rule of the V8 code cache, cli/codecache.ts). A directory not made yet is
 * judged by its nearest existing ancestor.
 */
export function mayBeInProjectDir(dir: string, projectRoot: string): boolean {
  let existing = dir;
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) return true;
    existing = parent;
  }
  let real: string;
  let root: string;
  try {
    real = realpathSync(existing);
    root = realpathSync(projectRoot);
  } catch {
    return true;
  }
  if (real === root || real.startsWith(`${root}${sep}`)) return true;
  return mayBeInProject(real);
}

/**
 * Where this run's local CA lives. Its key must never be where code inside can read it: with
 * `XDG_STATE_HOME` in a project (`$PWD/.state` in CI), the CA goes to `~/.local/state` instead,
 * and when that is in a project too, there is no gateway (https registries stay opaque tunnels).
 * `notice`: the line to print when the usual place was not taken.
 */
export function localCaPlace(
  host: Pick<HostInfo, "env" | "home">,
  projectRoot: string,
): { dir: string | null; notice: string | null } {
  const usual = localCaDir(host);
  if (!mayBeInProjectDir(usual, projectRoot)) return { dir: usual, notice: null };
  const fallback = join(host.home, ".local", "state", "safe-npm", "ca");
  if (fallback !== usual && !mayBeInProjectDir(fallback, projectRoot)) {
    return {
      dir: fallback,
      notice: `the local CA is kept in ${fallback}, not in ${usual}: that lies in a project, where code in the sandbox could read its key (set XDG_STATE_HOME outside any project)`,
    };
  }
  return {
    dir: null,
    notice: `the local CA's directory ${usual} lies in a project, where code in the sandbox could read its key: https registry requests pass through an opaque tunnel (set XDG_STATE_HOME outside any project)`,
  };
}

/** A cafile larger than this is skipped (a system bundle is ~200 KiB). */
const MAX_CAFILE_BYTES = 16 << 20;

export interface HostCas {
  /**
   * Certificates (PEM) the proxy trusts upstream besides node's default trust, for every
   * request: the user's own npm `cafile` (~/.npmrc's, else npm's global config's), then
   * NODE_EXTRA_CA_CERTS's unless this node process
   * read that file at start-up itself (its default trust holds them then, and adding them again
   * would parse ~150 roots on a machine whose NODE_EXTRA_CA_CERTS is the system bundle).
   */
  upstream: string[];
  /**
   * The project `.npmrc`'s `cafile` certificates: trusted upstream only on requests that carry
   * none of the user's credentials. A cloned repository may name its registry's CA; it must not
   * vouch for a connection the user's token goes over.
   */
  projectUpstream: string[];
  /**
   * Certificates the sandbox's bundle carries after the local CA's: the cafile npm would use
   * (the project's over the user's) and NODE_EXTRA_CA_CERTS's. With a cafile, all of them (npm's
   * `cafile` replaces its default list). Without, NODE_EXTRA_CA_CERTS's less those node trusts
   * on its own (`nodeRoots`): NODE_EXTRA_CA_CERTS is often the whole system bundle, and every
   * node process inside parses the file at start-up (~30 ms of CPU for ~150 roots).
   */
  bundle: string[];
  /**
   * `bundle` less the roots node ships, for NODE_EXTRA_CA_CERTS inside (node adds that file to
   * its own roots; npm's `cafile` replaces them, so `bundle` keeps the whole list for it).
   */
  nodeBundle: string[];
  /** npm config (the project's, the user's or the global one) names a cafile. */
  cafileConfigured: boolean;
}

/** A certificate's DER in base64, whatever its PEM line breaks. */
const certificateKey = (pem: string): string =>
  pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");

/** The `cafile` a npmrc text sets (its last top-level one), `~/` expanded; null: none. */
function cafileOf(text: string | null, home: string): string | null {
  if (text === null) return null;
  let cafile: string | null = null;
  for (const entry of parseNpmrc(text)) {
    if (entry.section === null && entry.key === "cafile" && typeof entry.value === "string") {
      cafile = entry.value.trim();
    }
  }
  return cafile?.startsWith("~/") ? join(home, cafile.slice(2)) : cafile;
}

/**
 * The CAs the user trusts besides the system's: the cafile npm would read (the project's
 * `.npmrc`, else ~/.npmrc, else npm's global config `globalNpmrc`, which the caller reads only
 * from outside the project) and NODE_EXTRA_CA_CERTS. Only `CERTIFICATE` blocks are kept: a cafile a
 * cloned project names could point at any file the user can read, and whatever else it holds
 * must not travel into the sandbox's bundle. A file that cannot be read is skipped (npm and node
 * would fail on it the same way without safe-npm). `nodeRoots`: node's own roots.
 */
export function hostCertificates(
  host: Pick<HostInfo, "env" | "home" | "userNpmrc" | "nodeExtraCa">,
  projectNpmrc: string | null,
  globalNpmrc: string | null = null,
  nodeRoots: readonly string[] = rootCertificates,
): HostCas {
  const read = (path: string | null | undefined): string[] => {
    if (!path || !isAbsolute(path)) return [];
    try {
      // Bounded: a project can name a huge (sparse) file as its cafile.
      return pemCertificates(readRegularFile(path, false, MAX_CAFILE_BYTES));
    } catch {
      return []; // unreadable: trusted by nobody
    }
  };
  // npm's precedence: the user's ~/.npmrc over its global config (`<prefix>/etc/npmrc`, where
  // distributions and company images set the cafile that trusts their proxy).
  const userCafile = cafileOf(host.userNpmrc, host.home) ?? cafileOf(globalNpmrc, host.home);
  const projectCafile = cafileOf(projectNpmrc, host.home);
  const fromUser = read(userCafile);
  // npm's precedence: the project's .npmrc over the user's.
  const projectSet = projectCafile !== null && projectCafile !== "";
  const fromProject = projectSet ? read(projectCafile) : [];
  const extraPath = host.env.NODE_EXTRA_CA_CERTS;
  const extra = read(extraPath);
  const cafileConfigured = projectSet || (userCafile !== null && userCafile !== "");
  const processTrustsExtra = extraPath !== undefined && extraPath === host.nodeExtraCa;
  const known = new Set(nodeRoots.map(certificateKey));
  const unknown = extra.filter((pem) => !known.has(certificateKey(pem)));
  const userUnknown = fromUser.filter((pem) => !known.has(certificateKey(pem)));
  // Each certificate once: a cafile and NODE_EXTRA_CA_CERTS are often both the system bundle.
  const once = (pems: readonly string[]): string[] => {
    const seen = new Set<string>();
    return pems.filter((pem) => {
      const key = certificateKey(pem);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  const bundle = cafileConfigured
    ? once([...(projectSet ? fromProject : fromUser), ...extra])
    : unknown;
  return {
    // What node trusts on its own needs no adding (the `safe-npm` command starts node without
    // NODE_EXTRA_CA_CERTS, nodeca.ts, and that file and a cafile are often the system bundle).
    // But a context that gets any certificate added starts from node's shipped roots alone
    // (node's root store without NODE_EXTRA_CA_CERTS): then that file's count again.
    upstream: once(
      userUnknown.length > 0 || !processTrustsExtra ? [...userUnknown, ...unknown] : [],
    ),
    // Added to a context of its own with `upstream` (proxy.ts projectRoots): the same rule.
    projectUpstream: once([
      ...fromProject,
      ...(fromProject.length > 0 && userUnknown.length === 0 && processTrustsExtra ? unknown : []),
    ]),
    bundle,
    nodeBundle: bundle.filter((pem) => !known.has(certificateKey(pem))),
    cafileConfigured,
  };
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

/**
 * Whether a host the gateway decides may speak https this run, so that the local CA is needed:
 * a registry named by an https URL (or the default one), or a host a credential is held for that
 * the allowlist lets through. Where every such host is a registry that config names only by
 * http:// URLs, no CA is made and none is handed inside: NODE_EXTRA_CA_CERTS makes node 20 load
 * its whole root store at every start (~40 ms of CPU per process,
 * https://github.com/nodejs/node/issues/40524), paid by the manager and each lifecycle script.
 * Plain http inside a CONNECT tunnel is decided without the CA, and TLS to those registries is
 * refused (proxy.ts `plainHttpTargets`): a project naming `registry=http://host:443/` must not
 * turn the CA off and get an opaque tunnel to an https registry.
 */
export function needsLocalCa(hosts: ReadonlySet<string>, allow: readonly AllowEntry[]): boolean {
  const plain = plainHttpTargets(allow);
  for (const key of hosts) {
    if (plain.has(key)) continue;
    const colon = key.lastIndexOf(":");
    const port = Number(key.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || isAllowed(allow, key.slice(0, colon), port))
      return true;
  }
  return false;
}
