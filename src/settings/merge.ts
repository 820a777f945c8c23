/**
 * PURE: built-in defaults → user settings → repository settings → CLI flags, and what in the
 * repository's settings widens the sandbox (needs `safe-npm trust`).
 */
import type { CommandClass } from "../commands/classes.js";
import { homeRelative, projectRelative } from "./paths.js";
import type { Settings } from "./schema.js";

export type NetworkMode = "full" | "registry" | "none";
export type Layer = "default" | "user" | "repo" | "flag";

export interface EffectiveSettings {
  /** Paths relative to ~. */
  dotfiles: string[];
  /** Variables passed through by name (even secret-looking ones: the user named them). */
  envPass: string[];
  envSet: Record<string, string>;
  network: { install: NetworkMode; run: NetworkMode; allow: string[] };
  binds: { ro: string[]; rw: string[] };
  /** Project-relative paths. */
  protect: string[];
  home: "private" | "project";
  cache: "project" | "shared";
  packageManager: "npm" | "yarn" | "pnpm" | "bun" | undefined;
  /**
   * Forwarding from the host's loopback into the sandbox (network/ports.ts): `fixed` ports from
   * the start, and any port a server inside listens on, while `enabled`.
   */
  ports: { enabled: boolean; fixed: number[] };
  /** Where each key's value came from (for --dry-run). */
  sources: Record<string, Layer>;
}

export interface Flags {
  network?: NetworkMode;
  allow?: string[];
  /** --port: forwarded from the start; turns forwarding back on. */
  ports?: number[];
  /** --no-ports */
  noPorts?: boolean;
}

/** Network defaults per command class (design.md §6). */
export const DEFAULT_NETWORK: Readonly<Record<CommandClass, NetworkMode>> = {
  install: "registry",
  run: "none",
};

export function defaults(): EffectiveSettings {
  return {
    dotfiles: [],
    envPass: [],
    envSet: {},
    network: { ...DEFAULT_NETWORK, allow: [] },
    binds: { ro: [], rw: [] },
    protect: [".git"],
    home: "private",
    cache: "project",
    packageManager: undefined,
    ports: { enabled: true, fixed: [] },
    sources: {},
  };
}

/** Applies one layer on top of `base` (lists add up, scalars and `protect` replace). */
export function applyLayer(
  base: EffectiveSettings,
  layer: Settings,
  name: Layer,
): EffectiveSettings {
  const out: EffectiveSettings = structuredClone(base);
  const mark = (key: string): void => {
    out.sources[key] = name;
  };
  if (layer.dotfiles) {
    out.dotfiles = union(
      out.dotfiles,
      layer.dotfiles.map((p) => homeRelative(p) ?? p),
    );
    mark("dotfiles");
  }
  if (layer.env) {
    if (Array.isArray(layer.env)) out.envPass = union(out.envPass, layer.env);
    else out.envSet = { ...out.envSet, ...layer.env };
    mark("env");
  }
  if (layer.network !== undefined) {
    if (typeof layer.network === "string") {
      out.network.install = layer.network;
      out.network.run = layer.network;
    } else {
      if (layer.network.install) out.network.install = layer.network.install;
      if (layer.network.run) out.network.run = layer.network.run;
      if (layer.network.allow) out.network.allow = union(out.network.allow, layer.network.allow);
    }
    mark("network");
  }
  if (layer.binds) {
    out.binds.ro = union(out.binds.ro, layer.binds.ro ?? []);
    out.binds.rw = union(out.binds.rw, layer.binds.rw ?? []);
    mark("binds");
  }
  if (layer.protect) {
    out.protect = union(
      [],
      layer.protect.map((p) => projectRelative(p) ?? p),
    );
    mark("protect");
  }
  if (layer.home) {
    out.home = layer.home;
    mark("home");
  }
  if (layer.cache) {
    out.cache = layer.cache;
    mark("cache");
  }
  if (layer.packageManager) {
    out.packageManager = layer.packageManager;
    mark("packageManager");
  }
  // `false` in any layer turns forwarding off; a later layer's list adds ports but does not
  // turn it back on (a repository cannot undo the user's choice); only --port does.
  if (layer.ports === false) {
    out.ports = { enabled: false, fixed: [] };
    mark("ports");
  } else if (layer.ports !== undefined) {
    if (out.ports.enabled) out.ports.fixed = unionNumbers(out.ports.fixed, layer.ports);
    mark("ports");
  }
  return out;
}

export function applyFlags(base: EffectiveSettings, flags: Flags): EffectiveSettings {
  const out: EffectiveSettings = structuredClone(base);
  if (flags.network) {
    out.network.install = flags.network;
    out.network.run = flags.network;
    out.sources.network = "flag";
  }
  if (flags.allow && flags.allow.length > 0) {
    out.network.allow = union(out.network.allow, flags.allow);
    out.sources.network = "flag";
  }
  if (flags.noPorts) {
    out.ports = { enabled: false, fixed: [] };
    out.sources.ports = "flag";
  } else if (flags.ports && flags.ports.length > 0) {
    out.ports = { enabled: true, fixed: unionNumbers(out.ports.fixed, flags.ports) };
    out.sources.ports = "flag";
  }
  return out;
}

const WIDTH: Readonly<Record<NetworkMode, number>> = { none: 0, registry: 1, full: 2 };

/**
 * Everything in a repository's settings that opens the sandbox wider than `base` — the settings
 * the repository's layer is applied on (the defaults and the user's own layer; only the defaults
 * when omitted) — in plain words. `protect`, the network modes, `home` and `cache` replace the
 * user's values, so they are judged against them: dropping a path the user protects, or more
 * network than the user gives, widens. An item that is a widening only because of the user's
 * settings says so (`(your settings …)`). Narrowing (less network, more protected paths) is not
 * listed; dotfiles, env, allowed hosts and binds always are.
 */
export function widenings(repo: Settings, base: EffectiveSettings = defaults()): string[] {
  const builtIn = defaults();
  const out: string[] = [];
  for (const p of repo.dotfiles ?? []) out.push(`read ~/${homeRelative(p) ?? p}`);
  if (Array.isArray(repo.env)) for (const name of repo.env) out.push(`pass env ${name}`);
  else for (const name of Object.keys(repo.env ?? {})) out.push(`set env ${name}`);
  const network = repo.network;
  const modes: Partial<Record<CommandClass, NetworkMode>> =
    typeof network === "string"
      ? { install: network, run: network }
      : {
          ...(network?.install ? { install: network.install } : {}),
          ...(network?.run ? { run: network.run } : {}),
        };
  for (const cls of ["install", "run"] as const) {
    const mode = modes[cls];
    const was = base.network[cls];
    if (mode !== undefined && WIDTH[mode] > WIDTH[was]) {
      const yours = was === builtIn.network[cls] ? "" : ` ${YOURS} say "${was}")`;
      out.push(
        `network "${mode}" for ${cls === "install" ? "installs" : "scripts and other commands"}${yours}`,
      );
    }
  }
  if (typeof network === "object")
    for (const host of network.allow ?? []) out.push(`reach ${host}`);
  for (const p of repo.binds?.ro ?? []) out.push(`read ${p}`);
  for (const p of repo.binds?.rw ?? []) out.push(`write ${p}`);
  if (repo.protect) {
    const kept = new Set(repo.protect.map((p) => projectRelative(p) ?? p));
    for (const p of base.protect) {
      if (kept.has(p)) continue;
      out.push(`make ${p} writable${builtIn.protect.includes(p) ? "" : ` ${YOURS} protect it)`}`);
    }
  }
  if (repo.home === "project" && base.home !== "project")
    out.push("use the project directory as $HOME");
  if (repo.cache === "shared" && base.cache !== "shared")
    out.push("share your package-manager caches (~/.npm, …) read-write");
  // `ports` is not listed: forwarding only lets the host's own loopback connect in; it gives the
  // code inside no new file, secret or destination to reach.
  return out;
}

const YOURS = "(your settings";

/**
 * What a widening opens, without the note on the user's settings: a trust recorded while the
 * user's settings differed (or before the note existed) covers the same opening.
 */
export function wideningWhat(item: string): string {
  const at = item.lastIndexOf(` ${YOURS} `);
  return at === -1 || !item.endsWith(")") ? item : item.slice(0, at);
}

function unionNumbers(a: readonly number[], b: readonly number[]): number[] {
  return [...new Set([...a, ...b])];
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}
