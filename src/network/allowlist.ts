/**
 * PURE: which host:port pairs the `registry` network mode lets through the proxy, and which
 * registries the project's and the user's package-manager config name.
 *
 * Hosts are compared in one canonical form — the WHATWG URL host parser's (lower case, IDN as
 * punycode, IPv4 in dotted decimal even when written `0x7f.1` or `2130706433`, IPv6 compressed
 * in brackets), without a trailing dot — and the proxy connects to exactly that form, so what
 * is checked is what is dialled.
 */
import { SafeNpmError } from "../errors.js";

export interface AllowEntry {
  /**
   * Canonical host: a DNS name, a dotted IPv4 address or a bracketed IPv6 address (`[::1]`).
   * For a wildcard entry, the domain after `*.`.
   */
  host: string;
  /** `null`: the entry named no port, and allows 443 (https) and 80 (http). */
  port: number | null;
  /** `*.domain`: matches every subdomain of `host`, not `host` itself. */
  wildcard: boolean;
  /** Where the entry came from (`--allow-host`, `project .npmrc`, `default`), for --verbose. */
  source: string;
  /**
   * Only the project's files (`.npmrc`, `.yarnrc.yml`, `.yarnrc`) name this registry: nothing
   * of the user's does (their npmrc, settings, --allow-host). The proxy never dials such a host
   * at an internal address (loopback.ts's isInternalAddress): a cloned repository must not make
   * the host's loopback services or the cloud metadata endpoint reachable.
   */
  projectOnly?: boolean | undefined;
  /**
   * A registry that config names only by `http://` URLs: this host and port speak plain http, so
   * the registry gateway needs no local CA for it (gateway-setup.ts needsLocalCa).
   */
  plainHttp?: boolean | undefined;
}

export type Allowlist = readonly AllowEntry[];

/** Ports an entry without a port allows: a registry named without a port is https or http. */
export const DEFAULT_PORTS: readonly number[] = [443, 80];

const ACCEPTED_FORMS =
  "accepted: host, host:port, *.domain, *.domain:port, 1.2.3.4[:port], [::1][:port], or a URL";

/**
 * Parses one allow entry: `host`, `host:port`, `*.domain`, `*.domain:port`, an IPv4 literal,
 * `[IPv6]` with an optional port (a bare IPv6 literal without brackets takes no port), or an
 * http(s) URL (its host and port; 443/80 by scheme). Case-insensitive. Throws a USAGE error.
 */
export function parseAllowEntry(text: string, source = "--allow-host"): AllowEntry {
  const result = tryParseAllowEntry(text, source);
  if (typeof result === "string") {
    throw new SafeNpmError("USAGE", `invalid allowed host "${text}" (${source}): ${result}`, {
      hint: ACCEPTED_FORMS,
    });
  }
  return result;
}

/** Like parseAllowEntry, but returns the reason as a string instead of throwing. */
export function tryParseAllowEntry(text: string, source = "--allow-host"): AllowEntry | string {
  const input = text.trim().toLowerCase();
  if (input === "") return "empty";

  let hostPart: string;
  let portPart: string | null = null;
  if (input.includes("://")) {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      return "not a valid URL";
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return "only http(s) URLs";
    hostPart = url.hostname;
    // URL drops a port equal to the scheme's default, so fill it back in.
    portPart = url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80";
  } else if (input.startsWith("[")) {
    const close = input.indexOf("]");
    if (close === -1) return "missing ]";
    hostPart = input.slice(0, close + 1);
    const rest = input.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return "unexpected text after ]";
      portPart = rest.slice(1);
    }
  } else {
    const colons = input.split(":").length - 1;
    if (colons >= 2) {
      hostPart = input; // a bare IPv6 literal: no room for a port
    } else if (colons === 1) {
      const at = input.indexOf(":");
      hostPart = input.slice(0, at);
      portPart = input.slice(at + 1);
    } else {
      hostPart = input;
    }
  }

  let port: number | null = null;
  if (portPart !== null) {
    port = parsePort(portPart);
    if (port === null) return `bad port "${portPart}"`;
  }

  const wildcard = hostPart.startsWith("*.");
  const bare = wildcard ? hostPart.slice(2) : hostPart;
  if (bare.includes("*")) return "a wildcard is allowed only as a leading `*.`";
  const host = canonicalHost(bare);
  if (host === null) return "not a host name or IP address";
  if (wildcard && isIpLiteral(host)) return "a wildcard needs a domain, not an IP address";
  return { host, port, wildcard, source };
}

/**
 * `host:port` of the registries config names only by http:// URLs (`plainHttp`). The proxy
 * refuses a TLS handshake to them: they speak plain http, and a tunnel it cannot see into would
 * let anything through (no local CA is made when these are all the gateway decides).
 */
export function plainHttpTargets(allow: readonly AllowEntry[]): Set<string> {
  const targets = new Set<string>();
  for (const entry of allow) {
    if (entry.plainHttp !== true || entry.wildcard || entry.port === null) continue;
    const { host, port } = entry;
    // Allowed otherwise too (by hand, without a port or by a wildcard, or by an https URL):
    // it may speak TLS there.
    if (allow.some((other) => other.plainHttp !== true && entryMatches(other, host, port)))
      continue;
    targets.add(hostPort(host, port));
  }
  return targets;
}

/** Parses every entry; throws on the first bad one. */
export function parseAllowlist(texts: readonly string[], source = "--allow-host"): AllowEntry[] {
  return dedupeAllowlist(texts.map((text) => parseAllowEntry(text, source)));
}

/** `*.domain:port` / `host` / `[::1]:443`: the entry as a user would write it. */
export function formatAllowEntry(entry: AllowEntry): string {
  return `${entry.wildcard ? "*." : ""}${entry.host}${entry.port === null ? "" : `:${entry.port}`}`;
}

/** Drops repeated entries (same host, port and wildcard), keeping the first one's source. */
export function dedupeAllowlist(entries: readonly AllowEntry[]): AllowEntry[] {
  const seen = new Map<string, AllowEntry>();
  const out: AllowEntry[] = [];
  for (const entry of entries) {
    const key = formatAllowEntry(entry);
    const kept = seen.get(key);
    if (kept === undefined) {
      const copy = { ...entry };
      seen.set(key, copy);
      out.push(copy);
    } else {
      // Named by the user too: not the project's alone.
      if (kept.projectOnly === true && entry.projectOnly !== true) kept.projectOnly = undefined;
      // Named by an https URL or by hand too: it may speak TLS.
      if (kept.plainHttp === true && entry.plainHttp !== true) kept.plainHttp = undefined;
    }
  }
  return out;
}

/**
 * The allowlist with `projectOnly` kept only where no other entry (the user's npmrc, settings,
 * --allow-host, a wildcard) also allows that host and port.
 */
export function settleProjectOnly(entries: readonly AllowEntry[]): AllowEntry[] {
  return entries.map((entry) => {
    if (entry.projectOnly !== true) return entry;
    const ports = entry.port === null ? DEFAULT_PORTS : [entry.port];
    const named = ports.every((port) =>
      entries.some((other) => other.projectOnly !== true && entryMatches(other, entry.host, port)),
    );
    return named ? { ...entry, projectOnly: undefined } : entry;
  });
}

/**
 * The project-only entry that alone allows `canonical:port` (every matching entry is
 * project-only), or undefined when something of the user's allows it too.
 */
export function projectOnlyEntry(
  allowlist: Allowlist,
  canonical: string,
  port: number,
): AllowEntry | undefined {
  const matching = allowlist.filter((entry) => entryMatches(entry, canonical, port));
  return matching.every((entry) => entry.projectOnly === true) ? matching[0] : undefined;
}

/**
 * Whether `host:port` may be reached. `host` is as a client sent it (any case, IPv6 with or
 * without brackets, trailing dot); anything that is not a plain host name or IP is refused.
 */
export function isAllowed(allowlist: Allowlist, host: string, port: number): boolean {
  const canonical = canonicalHost(host);
  if (canonical === null || !Number.isInteger(port)) return false;
  return allowlist.some((entry) => entryMatches(entry, canonical, port));
}

/** The first entry that allows `host:port` (which must already be canonical), or undefined. */
export function matchingEntry(
  allowlist: Allowlist,
  canonical: string,
  port: number,
): AllowEntry | undefined {
  return allowlist.find((entry) => entryMatches(entry, canonical, port));
}

function entryMatches(entry: AllowEntry, host: string, port: number): boolean {
  if (entry.port === null ? !DEFAULT_PORTS.includes(port) : entry.port !== port) return false;
  if (!entry.wildcard) return host === entry.host;
  return host.endsWith(`.${entry.host}`) && !isIpLiteral(host);
}

/**
 * The canonical form of a host as a client or a user wrote it, or null when it is not a plain
 * host name or IP literal (no userinfo, path, port, whitespace or percent-encoding).
 */
export function canonicalHost(raw: string): string | null {
  let host = raw.trim();
  if (host === "" || /[\s/\\@?#%*]/.test(host)) return null;
  // A colon outside brackets can only be a bare IPv6 literal here (ports are split off before).
  if (!host.startsWith("[") && host.includes(":")) host = `[${host}]`;
  // `[::1]:80` would parse, with the port silently dropped as http's default.
  if (host.startsWith("[") && !host.endsWith("]")) return null;
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    return null;
  }
  if (url.port !== "" || url.pathname !== "/" || url.username !== "" || url.password !== "")
    return null;
  let name = url.hostname;
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "" || (!name.startsWith("[") && name.split(".").some((label) => label === "")))
    return null;
  // DNS's bounds (RFC 1035): no name resolves beyond them, and the proxy keeps what it is asked.
  if (name.length > 253 || name.split(".").some((label) => label.length > 63)) return null;
  return name;
}

/** A canonical host that is an IP address (IPv6 in brackets, or dotted IPv4). */
export function isIpLiteral(canonical: string): boolean {
  return canonical.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(canonical);
}

/** `host:port` for messages and stats keys (`[::1]:443` for IPv6). */
export function hostPort(canonical: string, port: number): string {
  return `${canonical}:${port}`;
}

/** The host to hand to net.connect / dns: IPv6 without its brackets. */
export function dialHost(canonical: string): string {
  return canonical.startsWith("[") ? canonical.slice(1, -1) : canonical;
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

// ---------------------------------------------------------------------------------------------
// Registries named by package-manager config

export interface RegistryConfigInput {
  /** Text of `<project>/.npmrc`. */
  projectNpmrc?: string | null | undefined;
  /** Text of the user's `~/.npmrc`, already sanitized (only registry keys are read). */
  userNpmrc?: string | null | undefined;
  /**
   * npm's global config (`<node prefix>/etc/npmrc`, where nvm users and company images name
   * their registry), read below ~/.npmrc: its path and text. The caller passes it only when it
   * lies outside the project.
   */
  globalNpmrc?: { path: string; text: string } | null | undefined;
  /** Text of `<project>/.yarnrc.yml` (yarn berry). */
  yarnrcYml?: string | null | undefined;
  /** Text of the user's `~/.yarnrc.yml` (yarn berry reads it below the project's). */
  userYarnrcYml?: string | null | undefined;
  /** pnpm 11+'s `auth.ini` (HostInfo.userPnpmAuth), for a pnpm run: the user's too. */
  pnpmAuth?: { path: string; text: string } | null | undefined;
  /** Text of `<project>/.yarnrc` (yarn 1). */
  yarnrc?: string | null | undefined;
  /**
   * A real YAML parser for the `.yarnrc.yml` texts (sandbox/yarnrcparse.ts), loaded by the caller
   * only when there is one to read: flow style (`{…}`) as yarn reads it. Without it, or for a
   * file it cannot parse, block style is read line by line (yamlScalars).
   */
  parseYaml?: ((text: string) => Readonly<Record<string, unknown>> | null) | undefined;
  /** The package manager is yarn: its default registry is registry.yarnpkg.com. */
  yarn?: boolean | undefined;
  /**
   * Values for `${VAR}` (and yarn's `${VAR:-default}`) references in the files; a URL with an
   * unresolved reference is skipped.
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

export const NPM_DEFAULT_REGISTRY = "registry.npmjs.org";
export const YARN_DEFAULT_REGISTRY = "registry.yarnpkg.com";

/**
 * The registries the config files name, as allow entries with the URL's port (443 for https,
 * 80 for http): npm `registry` and `@scope:registry` keys in the .npmrc files (the project's,
 * the user's and npm's global one), yarn berry
 * `npmRegistryServer` and `npmScopes.<scope>.npmRegistryServer` in .yarnrc.yml, yarn 1
 * `registry` (and `"@scope:registry"`) in .yarnrc.
 *
 * When no file names an unscoped registry the package manager would use, its default is added:
 * `registry.npmjs.org:443`; for yarn (`yarn: true`, decided by .yarnrc.yml/.yarnrc only, as
 * yarn berry ignores .npmrc) `registry.yarnpkg.com:443` and `registry.npmjs.org:443` (the same
 * registry under two names; lockfiles carry either).
 */
export function registriesFromConfig(input: RegistryConfigInput): AllowEntry[] {
  const env = input.env ?? {};
  const found: {
    url: string;
    source: string;
    unscoped: boolean;
    yarnConfig: boolean;
    project: boolean;
  }[] = [];
  for (const [text, source, project] of [
    [input.projectNpmrc, "project .npmrc", true],
    [input.userNpmrc, "~/.npmrc", false],
    [input.globalNpmrc?.text, input.globalNpmrc?.path ?? "", false],
    [input.pnpmAuth?.text, input.pnpmAuth?.path ?? "", false],
  ] as const) {
    if (text == null) continue;
    for (const r of npmrcRegistries(text))
      found.push({ ...r, source: `${source} ${r.key}`, yarnConfig: false, project });
  }
  if (input.yarnrcYml != null) {
    for (const r of yarnrcYmlRegistries(input.yarnrcYml, input.parseYaml))
      found.push({ ...r, source: `.yarnrc.yml ${r.key}`, yarnConfig: true, project: true });
  }
  if (input.userYarnrcYml != null) {
    // Names a registry of the user's, but decides no default: yarn 1 does not read this file.
    for (const r of yarnrcYmlRegistries(input.userYarnrcYml, input.parseYaml))
      found.push({
        ...r,
        source: `~/.yarnrc.yml ${r.key}`,
        yarnConfig: true,
        project: false,
        unscoped: false,
      });
  }
  if (input.yarnrc != null) {
    for (const r of yarnrcRegistries(input.yarnrc))
      found.push({ ...r, source: `.yarnrc ${r.key}`, yarnConfig: true, project: true });
  }

  const entries: AllowEntry[] = [];
  let namedUnscoped = false;
  for (const r of found) {
    // A project file's `${VAR}` is not expanded with the host's environment: the value would
    // land in the allowlist, --verbose and the certificate cache (a cloned .npmrc could name
    // `${AWS_SECRET_ACCESS_KEY}.evil.example`), and the manager inside, whose environment is
    // rebuilt from an allowlist, could not expand it either. Only a default (`${VAR:-url}`) is
    // taken; a URL with a bare `${VAR}` names no registry.
    const url = expandEnv(r.url, r.project ? {} : env);
    if (url === null) continue;
    const entry = tryParseAllowEntry(url.includes("://") ? url : `https://${url}`, r.source);
    if (typeof entry === "string" || entry.wildcard) continue;
    entries.push({
      ...entry,
      ...(r.project ? { projectOnly: true } : {}),
      ...(/^http:\/\//i.test(url) ? { plainHttp: true } : {}),
    });
    if (r.unscoped && r.yarnConfig === (input.yarn === true)) namedUnscoped = true;
  }
  if (!namedUnscoped) {
    if (input.yarn === true)
      entries.push({ host: YARN_DEFAULT_REGISTRY, port: 443, wildcard: false, source: "default" });
    entries.push({ host: NPM_DEFAULT_REGISTRY, port: 443, wildcard: false, source: "default" });
  }
  return dedupeAllowlist(entries);
}

interface NamedRegistry {
  key: string;
  url: string;
  unscoped: boolean;
}

/** `registry=` and `@scope:registry=` at the top level of an ini-style .npmrc. */
function npmrcRegistries(text: string): NamedRegistry[] {
  const out: NamedRegistry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    // Keys under an ini [section] are nested objects for npm, not top-level config.
    if (line.startsWith("[")) break;
    const eq = line.indexOf("=");
    if (eq === -1) continue;
    const key = unquote(line.slice(0, eq).trim()).toLowerCase();
    const value = unquote(line.slice(eq + 1).trim());
    if (key === "registry") out.push({ key, url: value, unscoped: true });
    else if (/^@[^:]+:registry$/.test(key)) out.push({ key, url: value, unscoped: false });
  }
  return out;
}

/** yarn 1: `registry "url"` and `"@scope:registry" "url"` (lockfile syntax, space-separated). */
function yarnrcRegistries(text: string): NamedRegistry[] {
  const out: NamedRegistry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^("[^"]*"|\S+)\s+(.+)$/.exec(line);
    if (match === null) continue;
    const key = unquote(match[1] ?? "").toLowerCase();
    const value = unquote((match[2] ?? "").trim());
    if (key === "registry") out.push({ key, url: value, unscoped: true });
    else if (/^@[^:]+:registry$/.test(key)) out.push({ key, url: value, unscoped: false });
  }
  return out;
}

/**
 * yarn berry: top-level `npmRegistryServer` and `npmScopes.<scope>.npmRegistryServer`, from the
 * parsed document when a parser is given and the file parses, else from block-style YAML (see
 * yamlScalars).
 */
function yarnrcYmlRegistries(
  text: string,
  parse?: RegistryConfigInput["parseYaml"],
): NamedRegistry[] {
  const out: NamedRegistry[] = [];
  const doc = parse?.(text) ?? null;
  if (doc !== null) {
    const mapping = (v: unknown): v is Record<string, unknown> =>
      typeof v === "object" && v !== null && !Array.isArray(v);
    if (typeof doc.npmRegistryServer === "string")
      out.push({ key: "npmRegistryServer", url: doc.npmRegistryServer, unscoped: true });
    if (mapping(doc.npmScopes)) {
      for (const [scope, config] of Object.entries(doc.npmScopes)) {
        if (!mapping(config) || typeof config.npmRegistryServer !== "string") continue;
        out.push({
          key: `npmScopes.${scope}.npmRegistryServer`,
          url: config.npmRegistryServer,
          unscoped: false,
        });
      }
    }
    return out;
  }
  for (const { path, value: url } of yamlScalars(text)) {
    const key = path.at(-1);
    if (path.length === 1 && key === "npmRegistryServer") {
      out.push({ key, url, unscoped: true });
    } else if (path.length === 3 && path[0] === "npmScopes" && key === "npmRegistryServer") {
      out.push({ key: `npmScopes.${path[1]}.npmRegistryServer`, url, unscoped: false });
    }
  }
  return out;
}

/**
 * The scalar values of block-style YAML with the path of mapping keys above each (quotes
 * removed). Only mappings and scalar values are understood — enough for yarn berry's registry
 * and auth keys; flow style (`{…}`), anchors and multi-line scalars are ignored.
 */
export function yamlScalars(text: string): { path: string[]; value: string }[] {
  const out: { path: string[]; value: string }[] = [];
  const stack: { indent: number; key: string }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const content = stripYamlComment(raw);
    if (content.trim() === "" || content.trim() === "---") continue;
    const indent = content.length - content.trimStart().length;
    const match = /^("[^"]*"|'[^']*'|[^\s:"'][^:]*?)\s*:(?:\s+(.*))?$/.exec(content.trim());
    if (match === null) continue;
    const key = unquote(match[1] ?? "");
    const value = (match[2] ?? "").trim();
    while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), key];
    if (value === "") {
      stack.push({ indent, key });
      continue;
    }
    out.push({ path, value: unquote(value) });
  }
  return out;
}

/** Removes a `#` comment that is not inside quotes. */
function stripYamlComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) {
      return line.slice(0, i);
    }
  }
  return line;
}

function unquote(text: string): string {
  if (text.length >= 2 && (text[0] === '"' || text[0] === "'") && text.at(-1) === text[0])
    return text.slice(1, -1);
  return text;
}

/** `${VAR}` / `${VAR:-default}` → value; null when a variable is unset and has no default. */
function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): string | null {
  let unresolved = false;
  const expanded = text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (_, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== "") return value;
      if (fallback !== undefined) return fallback;
      unresolved = true;
      return "";
    },
  );
  return unresolved ? null : expanded;
}
