/**
 * PURE: how the `registry` network mode appears inside the sandbox — where the bridge script and
 * the proxy socket are mounted, and the argv that puts the bridge in front of the command.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SafeNpmError } from "../errors.js";
import { PACKAGE_ROOT } from "../version.js";

/** Inside paths, next to the sandbox marker (/run/safe-npm/sandbox.json). */
export const BRIDGE_INSIDE = "/run/safe-npm/bridge.cjs";
export const SOCKET_INSIDE = "/run/safe-npm/proxy.sock";
/** The registry gateway's CA bundle (its local CA, then the user's own CAs). */
export const CA_INSIDE = "/run/safe-npm/ca.pem";
/**
 * The same less the roots node ships, for NODE_EXTRA_CA_CERTS: every node process inside parses
 * that file at start-up, and a cafile is often the whole system bundle (~145 roots, ~17 ms of CPU
 * per process on node 20). Only where the two differ; else NODE_EXTRA_CA_CERTS names CA_INSIDE.
 */
export const CA_NODE_INSIDE = "/run/safe-npm/ca-node.pem";

/**
 * Variables both bridges set to the proxy's address inside (`http://127.0.0.1:<port>`). The node
 * bridge (bridge.cts, mounted alone inside) spells them out again; the bridge e2e test checks
 * both against this list.
 */
export const PROXY_URL_ENV_NAMES = [
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "http_proxy",
  "https_proxy",
  "npm_config_proxy",
  "npm_config_https_proxy",
  "YARN_HTTP_PROXY",
  "YARN_HTTPS_PROXY",
  "SAFE_NPM_PROXY",
] as const;

/** Every variable the bridges set: the above, `NODE_USE_ENV_PROXY=1` and an empty `NO_PROXY`. */
export const PROXY_ENV_NAMES = [
  ...PROXY_URL_ENV_NAMES,
  "NODE_USE_ENV_PROXY",
  "NO_PROXY",
  "no_proxy",
] as const;

/**
 * The bridge script on the host: `bridge.cjs` next to this module once compiled
 * (dist/network/). Running from the TypeScript sources there is none; build first.
 */
export function bridgeHostPath(): string {
  // Compiled by tsc this module is dist/network/inside.js; bundled it is part of dist/main.cjs.
  // Beside this module (tsc's dist/network/), else in the package's dist/network/ (the bundle,
  // whose chunks move with the import graph).
  for (const path of [
    fileURLToPath(new URL("./bridge.cjs", import.meta.url)),
    join(PACKAGE_ROOT, "dist", "network", "bridge.cjs"),
  ]) {
    if (existsSync(path)) return path;
  }
  throw new SafeNpmError(
    "SPAWN_FAILED",
    "the network bridge (dist/network/bridge.cjs) is missing",
    {
      hint: "reinstall safe-npm, or run `npm run build` in a checkout",
    },
  );
}

export interface BridgeArgvOptions {
  /** Port on the sandbox's loopback; 0 (default) lets the kernel pick a free one. */
  port?: number | undefined;
  /**
   * Forward SIGINT/SIGTERM/SIGHUP/SIGQUIT to the command (default false here: under safe-npm
   * the command already receives them directly, from the terminal's process group or from
   * spawn.ts signalling every process of the sandbox).
   */
  forwardSignals?: boolean | undefined;
  /**
   * The command's NODE_EXTRA_CA_CERTS: the bridge itself starts without it (node 20 with
   * OpenSSL 3 loads its whole root store at start-up whenever the variable is set, ~35 ms before
   * the command can start; nodejs/node#40524) and sets it for the command.
   */
  extraCa?: string | undefined;
}

/**
 * `[/usr/bin/env -u NODE_EXTRA_CA_CERTS] node /run/safe-npm/bridge.cjs /run/safe-npm/proxy.sock 0
 * [--no-forward-signals] [--extra-ca=<path>] -- …command`.
 */
export function bridgeArgv(
  node: string,
  command: readonly string[],
  options: BridgeArgvOptions = {},
): string[] {
  const extraCa = options.extraCa;
  return [
    ...(extraCa === undefined ? [] : ["/usr/bin/env", "-u", "NODE_EXTRA_CA_CERTS"]),
    node,
    BRIDGE_INSIDE,
    SOCKET_INSIDE,
    String(options.port ?? 0),
    ...(options.forwardSignals === true ? [] : ["--no-forward-signals"]),
    ...(extraCa === undefined ? [] : [`--extra-ca=${extraCa}`]),
    "--",
    ...command,
  ];
}

/**
 * The read-only binds the sandbox needs: the node bridge's script (null for the perl bridge, a
 * data mount) and the proxy's socket; with the registry gateway on, its CA bundles (certificates
 * only: the CA's key never leaves the host).
 */
export function bridgeBinds(
  socketPath: string,
  bridgePath: string | null = bridgeHostPath(),
  caBundlePath: string | null = null,
  caNodeBundlePath: string | null = null,
): {
  src: string;
  dest: string;
}[] {
  return [
    ...(bridgePath === null ? [] : [{ src: bridgePath, dest: BRIDGE_INSIDE }]),
    // The socket alone, read-only (connect() needs no write access to the mount): the sandbox
    // sees nothing else of the private dir and cannot create anything in it.
    { src: socketPath, dest: SOCKET_INSIDE },
    ...(caBundlePath === null ? [] : [{ src: caBundlePath, dest: CA_INSIDE }]),
    ...(caNodeBundlePath === null || caNodeBundlePath === caBundlePath
      ? []
      : [{ src: caNodeBundlePath, dest: CA_NODE_INSIDE }]),
  ];
}
