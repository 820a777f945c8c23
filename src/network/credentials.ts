/**
 * PURE: registry credentials found the way the package managers find them, kept on the host and
 * turned into the `Authorization` header the manager itself would send for a URL.
 *
 * npm (and pnpm, yarn 1, bun, which read the same files): `//host[:port]/path/:_authToken`,
 * `:_auth`, `:username` + `:_password` (base64) keys in the builtin, global, user and project
 * npmrc (later files win, key by key), `${VAR}` references in keys and values expanded with the
 * host's environment as @npmcli/config's env-replace does (an unset `${VAR}` stays literal,
 * `${VAR?}` becomes empty, `\${VAR}` is not expanded). The header for a URL follows
 * npm-registry-fetch's `auth.js`: walk the URL's nerf-dart `//host[:port]/path` up one segment
 * (or one slash) at a time and take the first key with a token, `_auth` or a username and
 * password; when none matches and the URL is on the same host as a configured registry, use
 * that registry's. npm 7+ sends a matching credential on every request, so `always-auth` (which
 * npm ignores since v7, and which yarn 1 wants before it sends one for an unscoped package)
 * changes nothing here: the proxy adds it wherever it matches.
 *
 * yarn berry: `npmAuthToken` / `npmAuthIdent` at the top level, under `npmRegistries["//host"]`
 * and `npmScopes.<scope>` in `~/.yarnrc.yml` and the project's `.yarnrc.yml` (the project's
 * wins), `${VAR}` / `${VAR:-default}` expanded as yarn's `replaceEnvVariables` does — a
 * variable missing without a default is an error for yarn; here the credential is skipped with
 * a note. The header follows plugin-npm's `getAuthConfiguration`: the package's scope first,
 * then the registry's own entry, then the top level.
 *
 * A credential in the project's files that expands a host variable (`${NPM_TOKEN}`) is honoured
 * only for a registry host the user's own config also names: a cloned repository's `.npmrc`
 * could otherwise send any variable of the host's to a registry of its choosing.
 */
import { parseNpmrc } from "../sandbox/npmrc.js";
import { yamlScalars } from "./allowlist.js";

export type Env = Readonly<Record<string, string | undefined>>;

export interface CredentialFile {
  kind: "npmrc" | "yarnrc";
  /** For messages: `~/.npmrc`, `project .npmrc`, … */
  label: string;
  text: string;
  /** The project's own file (hostile input: see the module comment). */
  project: boolean;
}

export interface Credential {
  /** `Bearer …` or `Basic …`, exactly as the manager would send it. */
  authorization: string;
  /** Which file and key it came from, for --verbose (never the value). */
  source: string;
}

export interface RegistryCredentials {
  /** npm's nerf-dart keys (`//host/path/`) with a credential. */
  npm: ReadonlyMap<string, Credential>;
  /** The registries npm's config names: the default first, then the scoped ones. */
  npmRegistries: readonly string[];
  /** yarn berry's settings; used instead of npm's when the manager is yarn berry. */
  yarn: YarnCredentials;
  berry: boolean;
  /** Credentials skipped and why (never a value). */
  notes: readonly string[];
}

export interface YarnCredentials {
  /** `npmRegistryServer`, normalized (`https://host/path`, no trailing slash). */
  server: string;
  top: Credential | null;
  /** Normalized `//host/path` (no trailing slash) → credential. */
  registries: ReadonlyMap<string, Credential>;
  /** Scope (without `@`) → its registry (normalized URL) and credential. */
  scopes: ReadonlyMap<string, { server: string | null; credential: Credential | null }>;
}

export const NPM_REGISTRY = "https://registry.npmjs.org/";
export const YARN_REGISTRY = "https://registry.yarnpkg.com";

export interface CredentialInput {
  /** In npm's order of precedence, lowest first: global, user, project. */
  files: readonly CredentialFile[];
  env: Env;
  /** The manager is yarn 2+ (reads .yarnrc.yml, ignores .npmrc). */
  berry: boolean;
}

export function findCredentials(input: CredentialInput): RegistryCredentials {
  const npmFiles = input.files.filter((f) => f.kind === "npmrc");
  const yarnFiles = input.files.filter((f) => f.kind === "yarnrc");
  // Hosts the user's own config names: a project credential that expands a variable goes only there.
  const userHosts = new Set<string>();
  for (const file of input.files)
    if (!file.project) for (const h of namedHosts(file, input.env)) userHosts.add(h);
  // Notes only about the files the manager reads (yarn berry: .yarnrc.yml; the others: .npmrc).
  const npmNotes: string[] = [];
  const yarnNotes: string[] = [];
  const trusting =
    (notes: string[]) =>
    (file: CredentialFile, raw: string, url: string, what: string): boolean => {
      if (!file.project || !/\$\{/.test(raw)) return true;
      const host = hostOf(url);
      if (host !== null && userHosts.has(host)) return true;
      notes.push(
        `${file.label} ${what} expands an environment variable for ${host ?? url}, which no user config names: not used (add it to ~/.npmrc or ~/.yarnrc.yml to use it)`,
      );
      return false;
    };
  const npm = npmCredentials(npmFiles, input.env, npmNotes, trusting(npmNotes));
  const yarn = yarnCredentials(yarnFiles, input.env, yarnNotes, trusting(yarnNotes));
  return { ...npm, yarn, berry: input.berry, notes: input.berry ? yarnNotes : npmNotes };
}

/** The `Authorization` value the manager would send for `url`, or null. */
export function authorizationFor(creds: RegistryCredentials, url: URL): string | null {
  const found = creds.berry ? yarnFor(creds.yarn, url) : npmFor(creds, url);
  return found?.authorization ?? null;
}

/** Canonical `host:port` of every registry that has a credential. */
export function credentialTargets(creds: RegistryCredentials): string[] {
  const out = new Set<string>();
  const add = (url: string): void => {
    const target = targetOf(url);
    if (target !== null) out.add(target);
  };
  if (creds.berry) {
    const { yarn } = creds;
    if (yarn.top !== null) {
      add(yarn.server);
      for (const scope of yarn.scopes.values())
        if (scope.credential === null && scope.server) add(scope.server);
    }
    for (const key of yarn.registries.keys()) {
      add(`https:${key}/`);
      add(`http:${key}/`);
    }
    for (const scope of yarn.scopes.values())
      if (scope.credential !== null) add(scope.server ?? yarn.server);
  } else {
    // A nerf-dart key has no scheme: the credential applies to https and http alike.
    for (const key of creds.npm.keys()) {
      add(`https:${key}`);
      add(`http:${key}`);
    }
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------------------------
// npm

const AUTH_SUFFIXES = [":_authToken", ":_auth", ":username", ":_password"] as const;

function npmCredentials(
  files: readonly CredentialFile[],
  env: Env,
  notes: string[],
  trusted: (file: CredentialFile, raw: string, url: string, what: string) => boolean,
): { npm: Map<string, Credential>; npmRegistries: string[] } {
  // Merged like @npmcli/config: key by key, later files win.
  const values = new Map<string, { value: string; raw: string; file: CredentialFile }>();
  for (const file of files) {
    for (const entry of parseNpmrc(file.text)) {
      if (entry.section !== null || typeof entry.value !== "string" || entry.array) continue;
      const key = npmEnvReplace(entry.key, env);
      values.set(key, {
        value: npmEnvReplace(entry.value, env),
        raw: `${entry.key}=${entry.value}`,
        file,
      });
    }
  }
  const registry = values.get("registry")?.value || NPM_REGISTRY;
  const scoped = [...values.entries()]
    .filter(([key]) => /^@[^:]+:registry$/.test(key))
    .map(([, v]) => v.value);

  // Legacy top-level `_authToken` / `_auth` (pnpm still honours them): the default registry's.
  const defaultKey = safeNerfDart(registry);
  if (defaultKey !== null) {
    for (const suffix of AUTH_SUFFIXES) {
      const top = values.get(suffix.slice(1));
      if (top !== undefined && !values.has(`${defaultKey}${suffix}`))
        values.set(`${defaultKey}${suffix}`, top);
    }
  }

  const keys = new Set<string>();
  for (const key of values.keys()) {
    if (!key.startsWith("//")) continue;
    for (const suffix of AUTH_SUFFIXES)
      if (key.endsWith(suffix)) keys.add(key.slice(0, -suffix.length));
  }
  const npm = new Map<string, Credential>();
  for (const regKey of keys) {
    const get = (suffix: string) => values.get(`${regKey}${suffix}`);
    const token = get(":_authToken");
    const auth = get(":_auth");
    const user = get(":username");
    const password = get(":_password");
    // npm-registry-fetch's hasAuth order: a token, then _auth, then username and password.
    const chosen = token?.value
      ? { parts: [token], header: `Bearer ${token.value}`, what: `${regKey}:_authToken` }
      : auth?.value
        ? { parts: [auth], header: `Basic ${auth.value}`, what: `${regKey}:_auth` }
        : user?.value && password?.value
          ? {
              parts: [user, password],
              header: `Basic ${Buffer.from(`${user.value}:${Buffer.from(password.value, "base64").toString("utf8")}`, "utf8").toString("base64")}`,
              what: `${regKey}:username/_password`,
            }
          : null;
    if (chosen === null) continue;
    const url = `https:${regKey}`;
    if (!chosen.parts.every((part) => trusted(part.file, part.raw, url, chosen.what))) continue;
    if (/\$\{[^}]*\}/.test(chosen.header)) {
      notes.push(
        `${chosen.parts[0]?.file.label ?? "npmrc"} ${chosen.what} names an unset environment variable`,
      );
    }
    npm.set(regKey, {
      authorization: chosen.header,
      source: `${chosen.parts[0]?.file.label} ${chosen.what}`,
    });
  }
  return { npm, npmRegistries: [registry, ...scoped] };
}

function npmFor(creds: RegistryCredentials, url: URL): Credential | null {
  const walk = (target: URL): Credential | null => {
    let regKey = `//${target.host}${target.pathname}`;
    while (regKey.length > 2) {
      const found = creds.npm.get(regKey);
      if (found !== undefined) return found;
      // `//host/a/b/` → `//host/a/b` → `//host/a/` …, as auth.js's regFromURI.
      regKey = regKey.replace(/([^/]+|\/)$/, "");
    }
    return null;
  };
  const direct = walk(url);
  if (direct !== null) return direct;
  // No key for this URL: npm falls back to the registry's credential when on the same host.
  for (const registry of creds.npmRegistries) {
    const parsed = parseUrl(registry);
    if (parsed !== null && parsed.host === url.host && parsed.protocol === url.protocol) {
      const found = walk(parsed);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * @npmcli/config's env-replace: `${NAME}` → the variable, left as it is when unset; `${NAME?}`
 * → empty when unset; an odd number of backslashes before `$` escapes it.
 */
export function npmEnvReplace(text: string, env: Env): string {
  return text.replace(
    /(?<!\\)(\\*)\$\{([^${}?]+)(\?)?\}/g,
    (orig: string, esc: string, name: string, optional: string | undefined) => {
      if (esc.length % 2 === 1) return orig.slice((esc.length + 1) / 2);
      const value = env[name] ?? (optional === "?" ? "" : `\${${name}}`);
      return esc.slice(esc.length / 2) + value;
    },
  );
}

/** npm's nerf-dart: `https://host:port/a/b?x` → `//host:port/a/`; null when not a URL. */
export function nerfDart(url: string): string {
  const parsed = new URL(url);
  const rel = new URL(".", `${parsed.protocol}//${parsed.host}${parsed.pathname}`);
  return `//${rel.host}${rel.pathname}`;
}

function safeNerfDart(url: string): string | null {
  try {
    return nerfDart(url);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// yarn berry

function yarnCredentials(
  files: readonly CredentialFile[],
  env: Env,
  notes: string[],
  trusted: (file: CredentialFile, raw: string, url: string, what: string) => boolean,
): YarnCredentials {
  // Later files (the project's) win, setting by setting.
  const settings = new Map<string, { value: string; file: CredentialFile }>();
  for (const file of files) {
    for (const { path, value } of yamlScalars(file.text))
      settings.set(JSON.stringify(path), { value, file });
  }
  const get = (...path: string[]) => settings.get(JSON.stringify(path));
  const expand = (path: string[]): string | null => {
    const found = get(...path);
    if (found === undefined) return null;
    const value = yarnEnvReplace(found.value, env);
    if (value === null) {
      notes.push(`${found.file.label} ${path.join(".")} names an unset environment variable`);
    }
    return value;
  };
  const credential = (path: string[], url: string): Credential | null => {
    for (const [key, scheme] of [
      ["npmAuthToken", "Bearer"],
      ["npmAuthIdent", "Basic"],
    ] as const) {
      const found = get(...path, key);
      const value = expand([...path, key]);
      if (found === undefined || !value) continue;
      const what = [...path, key].join(".");
      if (!trusted(found.file, found.value, url, what)) return null;
      const header =
        scheme === "Bearer"
          ? `Bearer ${value}`
          : `Basic ${value.includes(":") ? Buffer.from(value, "utf8").toString("base64") : value}`;
      return { authorization: header, source: `${found.file.label} ${what}` };
    }
    return null;
  };

  const server = normalizeYarnServer(expand(["npmRegistryServer"]) ?? YARN_REGISTRY);
  const registries = new Map<string, Credential>();
  const scopes = new Map<string, { server: string | null; credential: Credential | null }>();
  const registryKeys = new Set<string>();
  const scopeNames = new Set<string>();
  for (const json of settings.keys()) {
    const path = JSON.parse(json) as string[];
    if (path[0] === "npmRegistries" && path.length === 3 && path[1] !== undefined)
      registryKeys.add(path[1]);
    if (path[0] === "npmScopes" && path.length === 3 && path[1] !== undefined)
      scopeNames.add(path[1]);
  }
  for (const key of registryKeys) {
    const normalized = yarnRegistryKey(key);
    const found = credential(["npmRegistries", key], `https:${normalized}/`);
    if (found !== null) registries.set(normalized, found);
  }
  for (const scope of scopeNames) {
    const own = expand(["npmScopes", scope, "npmRegistryServer"]);
    const scopeServer = own === null ? null : normalizeYarnServer(own);
    scopes.set(scope.replace(/^@/, ""), {
      server: scopeServer,
      credential: credential(["npmScopes", scope], `${scopeServer ?? server}/`),
    });
  }
  return { server, top: credential([], `${server}/`), registries, scopes };
}

function yarnFor(yarn: YarnCredentials, url: URL): Credential | null {
  const under = (server: string): boolean => {
    const base = parseUrl(server);
    if (base === null || base.host !== url.host || base.protocol !== url.protocol) return false;
    const prefix = base.pathname.replace(/\/$/, "");
    return url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
  };
  // The package's scope first (getAuthConfiguration's scope configuration).
  const scope = /\/@([^/%]+)(?:%2f|\/)/i.exec(url.pathname)?.[1]?.toLowerCase();
  const scoped = scope === undefined ? undefined : yarn.scopes.get(scope);
  if (scoped?.credential && under(scoped.server ?? yarn.server)) return scoped.credential;
  // Then the registry's own entry (the longest prefix), then the top level.
  const here = `//${url.host}${url.pathname}`;
  let best: [string, Credential] | null = null;
  for (const entry of yarn.registries) {
    const [key] = entry;
    if (
      (here === key || here.startsWith(`${key}/`)) &&
      (best === null || key.length > best[0].length)
    )
      best = entry;
  }
  if (best !== null) return best[1];
  if (yarn.top === null) return null;
  if (under(yarn.server)) return yarn.top;
  for (const s of yarn.scopes.values())
    if (s.credential === null && s.server !== null && under(s.server)) return yarn.top;
  return null;
}

/**
 * yarn's `replaceEnvVariables`: `${NAME}`, `${NAME:-fallback}` (also when empty), `${NAME-fallback}`
 * (only when unset); `\${…}` is literal. Null when a variable is missing without a fallback.
 */
export function yarnEnvReplace(text: string, env: Env): string | null {
  let missing = false;
  const out = text.replace(
    /\\?\$\{([\d\w_]+)(:)?(?:-([^}]*))?\}/g,
    (match: string, name: string, colon: string | undefined, fallback: string | undefined) => {
      if (match.startsWith("\\")) return match.slice(1);
      const value = env[name];
      if (value) return value;
      if (value !== undefined && !colon) return value;
      if (fallback !== undefined) return fallback;
      missing = true;
      return "";
    },
  );
  return missing ? null : out;
}

/** `https://host/path/` → `https://host/path`. */
function normalizeYarnServer(url: string): string {
  return url.replace(/\/+$/, "");
}

/** A `npmRegistries` key (`//host/path`, `https://host/path/`) → `//host/path`. */
function yarnRegistryKey(key: string): string {
  return key.replace(/^https?:/, "").replace(/\/+$/, "");
}

// ---------------------------------------------------------------------------------------------

/** Hosts a user config names: its registries and the hosts of its credential keys. */
function namedHosts(file: CredentialFile, env: Env): string[] {
  const out: string[] = [];
  const add = (url: string): void => {
    const host = hostOf(url);
    if (host !== null) out.push(host);
  };
  if (file.kind === "npmrc") {
    for (const entry of parseNpmrc(file.text)) {
      if (entry.section !== null || typeof entry.value !== "string") continue;
      const key = npmEnvReplace(entry.key, env);
      if (key === "registry" || /^@[^:]+:registry$/.test(key)) add(npmEnvReplace(entry.value, env));
      else if (key.startsWith("//")) add(`https:${key.slice(0, key.lastIndexOf(":"))}`);
    }
  } else {
    for (const { path, value } of yamlScalars(file.text)) {
      if (path.at(-1) === "npmRegistryServer") add(yarnEnvReplace(value, env) ?? "");
      if (path[0] === "npmRegistries" && path[1] !== undefined)
        add(`https:${yarnRegistryKey(path[1])}`);
    }
  }
  return out;
}

function hostOf(url: string): string | null {
  return parseUrl(url)?.hostname.toLowerCase() ?? null;
}

/** `host:port` as the proxy names targets (the scheme's default port filled in). */
function targetOf(url: string): string | null {
  const parsed = parseUrl(url);
  if (parsed === null || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) return null;
  const port = parsed.port !== "" ? parsed.port : parsed.protocol === "https:" ? "443" : "80";
  return `${parsed.hostname}:${port}`;
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}
