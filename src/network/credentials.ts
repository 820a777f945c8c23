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
 * A credential from the user's own files (global npmrc, user npmrc, `~/.yarnrc.yml`) is pinned to
 * the registry those same files pair it with — scheme, host, port and path prefix — and nothing
 * in the project can redirect it: a legacy top-level `_authToken` / `_auth` goes to the
 * `registry` its own file names (else registry.npmjs.org), yarn's top-level `npmAuthToken` to the
 * user file's `npmRegistryServer` (else yarn's default), a scope's token to the user file's scope
 * server (else that top-level server); a project's `registry=` or `npmRegistryServer` only
 * decides where the manager sends requests, never where a user credential goes. A user
 * credential paired with an https registry is never added to plain http.
 *
 * A credential in the project's files that expands a host variable (`${NPM_TOKEN}`) is honoured
 * only for a registry the user's own config also names (the same host and port, under the same
 * path, on its scheme when it names one): a cloned repository's `.npmrc` could otherwise send
 * any variable of the host's to a registry of its choosing.
 */
import { npmEnvReplace } from "../host/host.js";
import { parseNpmrc } from "../sandbox/npmrc.js";
import { yamlScalars } from "./allowlist.js";
import { credentialPathRefusal, isTarballPath } from "./pathbound.js";

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
  /** The user's files pair it with https only: never added to a plain-http request. */
  httpsOnly?: boolean;
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
  /**
   * Top-level and scope credentials, each with the one registry it is sent to (normalized
   * `https://host/path`, no trailing slash); the project's first (yarn's precedence).
   */
  pinned: readonly YarnPinned[];
  /** `npmRegistries`: normalized `//host/path` (no trailing slash) → credential. */
  registries: ReadonlyMap<string, Credential>;
}

export interface YarnPinned {
  server: string;
  /** The scope (without `@`) it is for; null for the top level. */
  scope: string | null;
  credential: Credential;
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
  // Registries the user's own config names: a project credential that expands a variable goes
  // only there, and a user credential paired only with https never goes over http.
  const named: Location[] = [];
  for (const file of input.files) if (!file.project) named.push(...namedLocations(file, input.env));
  // Notes only about the files the manager reads (yarn berry: .yarnrc.yml; the others: .npmrc).
  const npmNotes: string[] = [];
  const yarnNotes: string[] = [];
  const trusting =
    (notes: string[]) =>
    (file: CredentialFile, raw: string, url: string, what: string): boolean => {
      if (!file.project || !/\$\{/.test(raw)) return true;
      const target = parseLocation(url);
      if (target !== null && named.some((loc) => covers(loc, target))) return true;
      notes.push(
        `${file.label} ${what} expands an environment variable for ${describeLocation(target) ?? url}, which no user config names: not used (add that registry to ~/.npmrc or ~/.yarnrc.yml to use it)`,
      );
      return false;
    };
  const httpsOnly = (url: string): boolean => {
    const target = parseLocation(url);
    if (target === null) return false;
    const pairs = named.filter((loc) => loc.protocol !== null && pairsWith(loc, target));
    return pairs.length > 0 && pairs.every((loc) => loc.protocol === "https:");
  };
  // A user credential whose key names no scheme (`//host/:_authToken`, the usual setup with the
  // scope line in the repository) goes over plain http only when the user's own files name an
  // http registry on that host and port: else a project's `@x:registry=http://host/` would have
  // it sent in clear.
  const namesHttp = (url: string): boolean => {
    const target = parseLocation(url);
    return (
      target !== null &&
      named.some(
        (loc) =>
          loc.protocol === "http:" && loc.hostname === target.hostname && loc.port === target.port,
      )
    );
  };
  const userHttpsOnly = (url: string): boolean => !namesHttp(url);
  const npm = npmCredentials(
    npmFiles,
    input.env,
    npmNotes,
    trusting(npmNotes),
    httpsOnly,
    userHttpsOnly,
  );
  const yarn = yarnCredentials(
    yarnFiles,
    input.env,
    yarnNotes,
    trusting(yarnNotes),
    httpsOnly,
    userHttpsOnly,
  );
  return { ...npm, yarn, berry: input.berry, notes: input.berry ? yarnNotes : npmNotes };
}

/** The `Authorization` value the manager would send for `method url`, or null. */
export function authorizationFor(
  creds: RegistryCredentials,
  url: URL,
  method = "GET",
): string | null {
  // A path the server may resolve outside the registry's path never carries it (pathbound.ts).
  if (credentialPathRefusal(url.pathname) !== null) return null;
  const found = creds.berry ? yarnFor(creds.yarn, url) : npmFor(creds, url, method);
  return found?.authorization ?? null;
}

/**
 * The registry paths (each ending in `/`) a publish upload to `url`'s host may go under: the path
 * of every credential key for that host, scheme and port (the registry the credential is paired
 * with); when the host has none, the registries npm's config names there; else the root.
 */
export function uploadBases(creds: RegistryCredentials, url: URL): string[] {
  const out = new Set<string>();
  const add = (candidate: string, credential?: Credential): void => {
    const parsed = parseUrl(candidate);
    if (parsed === null || parsed.host !== url.host || parsed.protocol !== url.protocol) return;
    if (credential?.httpsOnly === true && url.protocol !== "https:") return;
    out.add(parsed.pathname.endsWith("/") ? parsed.pathname : `${parsed.pathname}/`);
  };
  if (creds.berry) {
    for (const { server, credential } of creds.yarn.pinned) add(server, credential);
    for (const [key, credential] of creds.yarn.registries) add(`${url.protocol}${key}`, credential);
  } else {
    for (const [key, credential] of creds.npm) add(`${url.protocol}${key}`, credential);
  }
  if (out.size === 0) for (const registry of creds.npmRegistries) add(registry);
  return out.size === 0 ? ["/"] : [...out].sort();
}

/**
 * The paths (each ending in `/`) of every registry config names on `url`'s host and scheme: the
 * registries npm's config names, yarn 2+'s servers and the credential keys' registries.
 */
export function registryPaths(creds: RegistryCredentials, url: URL): string[] {
  const out = new Set<string>();
  const candidates = [
    ...creds.npmRegistries,
    ...[...creds.npm.keys()].map((key) => `${url.protocol}${key}`),
    ...(creds.berry
      ? [
          ...creds.yarn.pinned.map((p) => p.server),
          ...[...creds.yarn.registries.keys()].map((key) => `${url.protocol}${key}`),
        ]
      : []),
  ];
  for (const candidate of candidates) {
    const parsed = parseUrl(candidate);
    if (parsed === null || parsed.host !== url.host || parsed.protocol !== url.protocol) continue;
    out.add(parsed.pathname.endsWith("/") ? parsed.pathname : `${parsed.pathname}/`);
  }
  return [...out].sort();
}

/**
 * Where the user's own files (not the project's) name a registry or hold a credential, as the
 * proxy names targets (`host:port`; a key without scheme and port names 443 and 80). Another
 * run's proxy may dial these with a held credential, so no run forwards their ports from the
 * host's loopback (run.ts, loopback.ts).
 */
export function userNamedTargets(files: readonly CredentialFile[], env: Env): string[] {
  const out = new Set<string>();
  for (const file of files) {
    if (file.project) continue;
    for (const loc of namedLocations(file, env)) {
      const ports =
        loc.port !== ""
          ? [loc.port]
          : loc.protocol === "https:"
            ? ["443"]
            : loc.protocol === "http:"
              ? ["80"]
              : ["443", "80"];
      for (const port of ports) out.add(`${loc.hostname}:${port}`);
    }
  }
  return [...out].sort();
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
    for (const { server } of yarn.pinned) add(server);
    for (const [key, credential] of yarn.registries) {
      add(`https:${key}/`);
      if (!credential.httpsOnly) add(`http:${key}/`);
    }
  } else {
    // A nerf-dart key has no scheme: the credential applies to https and http alike, unless
    // the user's files pair it with https only.
    for (const [key, credential] of creds.npm) {
      add(`https:${key}`);
      if (!credential.httpsOnly) add(`http:${key}`);
    }
  }
  return [...out].sort();
}

/**
 * yarn berry: the `npmRegistries` keys of the registries a credential is held for, each exactly
 * as the user's files pin it (a server with its scheme; a scheme-less key only when it applies
 * to http too). `yarn npm publish` refuses to send without a token of its own configured
 * ("No authentication configured for request"): in publish mode these get a placeholder the
 * proxy replaces. plugin-npm's getRegistryConfiguration looks a registry up by its URL without a
 * trailing slash, then without its scheme.
 */
export function yarnPlaceholderKeys(creds: RegistryCredentials): string[] {
  if (!creds.berry) return [];
  const keys = new Set<string>();
  for (const { server } of creds.yarn.pinned) keys.add(normalizeYarnServer(server));
  for (const [key, credential] of creds.yarn.registries)
    keys.add(credential.httpsOnly ? `https:${key}` : key);
  return [...keys].sort();
}

// ---------------------------------------------------------------------------------------------
// npm

const AUTH_SUFFIXES = [":_authToken", ":_auth", ":username", ":_password"] as const;

function npmCredentials(
  files: readonly CredentialFile[],
  env: Env,
  notes: string[],
  trusted: (file: CredentialFile, raw: string, url: string, what: string) => boolean,
  httpsOnly: (url: string) => boolean,
  userHttpsOnly: (url: string) => boolean,
): { npm: Map<string, Credential>; npmRegistries: string[] } {
  // Merged like @npmcli/config: key by key, later files win.
  const values = new Map<string, { value: string; raw: string; file: CredentialFile }>();
  // Legacy top-level `_authToken` / `_auth` / `username` + `_password` (pnpm still honours them;
  // npm 9+ refuses them): each file's go to the `registry` that same file names, else npm's
  // default — never to a registry another file (a project's) names. Full URL → suffix → value.
  const topLevel = new Map<
    string,
    Map<string, { value: string; raw: string; file: CredentialFile }>
  >();
  for (const file of files) {
    const own = new Map<string, { value: string; raw: string; file: CredentialFile }>();
    let ownRegistry: string | null = null;
    for (const entry of parseNpmrc(file.text)) {
      if (entry.section !== null || typeof entry.value !== "string" || entry.array) continue;
      // The project's keys and registry URLs are not expanded with the host's environment:
      // they name hosts, and a variable's value would end up in --verbose and the certificate
      // cache. Its credential values are (`${NPM_TOKEN}`), for the registries `trusted` allows.
      const key = npmEnvReplace(entry.key, file.project ? {} : env);
      const registryKey = key === "registry" || /^@[^:]+:registry$/.test(key);
      const found = {
        value: npmEnvReplace(entry.value, file.project && registryKey ? {} : env),
        raw: `${entry.key}=${entry.value}`,
        file,
      };
      if (key === "registry") ownRegistry = found.value;
      if (AUTH_SUFFIXES.some((suffix) => suffix.slice(1) === key)) own.set(`:${key}`, found);
      else values.set(key, found);
    }
    if (own.size === 0) continue;
    const registry = ownRegistry || NPM_REGISTRY;
    const merged = topLevel.get(registry) ?? new Map();
    for (const [suffix, found] of own) merged.set(suffix, found);
    topLevel.set(registry, merged);
  }
  const registry = values.get("registry")?.value || NPM_REGISTRY;
  const scoped = [...values.entries()]
    .filter(([key]) => /^@[^:]+:registry$/.test(key))
    .map(([, v]) => v.value);

  // A key naming the registry explicitly wins over a top-level value, as in npm 8.
  const httpsFor = new Map<string, boolean>();
  for (const [url, own] of topLevel) {
    const key = safeNerfDart(url);
    if (key === null) continue;
    if (AUTH_SUFFIXES.some((suffix) => values.has(`${key}${suffix}`))) continue;
    for (const [suffix, found] of own) values.set(`${key}${suffix}`, found);
    if (!url.startsWith("http:")) httpsFor.set(key, true);
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
    // Scheme-less, like the key: it applies to https and http alike.
    const url = regKey;
    if (!chosen.parts.every((part) => trusted(part.file, part.raw, url, chosen.what))) continue;
    if (/\$\{[^}]*\}/.test(chosen.header)) {
      notes.push(
        `${chosen.parts[0]?.file.label ?? "npmrc"} ${chosen.what} names an unset environment variable`,
      );
    }
    const fromUser = chosen.parts.every((part) => !part.file.project);
    const credential: Credential = {
      authorization: chosen.header,
      source: `${chosen.parts[0]?.file.label} ${chosen.what}`,
    };
    // Scheme-less keys: a user's is https only unless the user's files name an http registry
    // on its host and port; a project's that expands a variable, when the user's files pair it
    // with https and never http.
    if (
      httpsFor.get(regKey) === true ||
      (fromUser && userHttpsOnly(url)) ||
      (chosen.parts.some((p) => /\$\{/.test(p.raw)) && httpsOnly(url))
    )
      credential.httpsOnly = true;
    npm.set(regKey, credential);
  }
  return { npm, npmRegistries: [registry, ...scoped] };
}

function npmFor(creds: RegistryCredentials, url: URL, method: string): Credential | null {
  const walk = (target: URL): Credential | null => {
    let regKey = `//${target.host}${target.pathname}`;
    while (regKey.length > 2) {
      const found = creds.npm.get(regKey);
      if (found !== undefined && !(found.httpsOnly && url.protocol !== "https:")) return found;
      // `//host/a/b/` → `//host/a/b` → `//host/a/` …, as auth.js's regFromURI.
      regKey = regKey.replace(/([^/]+|\/)$/, "");
    }
    return null;
  };
  const direct = walk(url);
  if (direct !== null) return direct;
  // No key for this URL: npm-registry-fetch (lib/auth.js) falls back to the registry's
  // credential for any URL on the same host. That fallback exists for tarballs served at another
  // path (GitLab's instance-level registry serves them under each project's); for anything else
  // it would add the token to the server's own APIs (Artifactory's `/api/security/apiKey`,
  // GitLab's `/api/v4/…`), so here it covers reads of paths shaped like a tarball's only.
  const upper = method.toUpperCase();
  if ((upper !== "GET" && upper !== "HEAD") || !isTarballPath(decodedSegments(url.pathname)))
    return null;
  for (const registry of creds.npmRegistries) {
    const parsed = parseUrl(registry);
    if (parsed !== null && parsed.host === url.host && parsed.protocol === url.protocol) {
      const found = walk(parsed);
      if (found !== null) return found;
    }
  }
  return null;
}

/** The non-empty segments of a path, percent-decoded; none when one does not decode. */
function decodedSegments(pathname: string): string[] {
  try {
    return pathname
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s));
  } catch {
    return [];
  }
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
  httpsOnly: (url: string) => boolean,
  userHttpsOnly: (url: string) => boolean,
): YarnCredentials {
  // The user's files and the project's apart: a user credential is pinned to the servers the
  // user's files name, whatever the project's override (which only steers the requests).
  const read = (project: boolean) => {
    const settings = new Map<string, { value: string; file: CredentialFile }>();
    for (const file of files.filter((f) => f.project === project))
      for (const { path, value } of yamlScalars(file.text))
        settings.set(JSON.stringify(path), { value, file });
    return settings;
  };
  const layers = { user: read(false), project: read(true) };
  type Layer = keyof typeof layers;
  const get = (layer: Layer, path: string[]) => layers[layer].get(JSON.stringify(path));
  const expand = (layer: Layer, path: string[]): string | null => {
    const found = get(layer, path);
    if (found === undefined) return null;
    const value = yarnEnvReplace(found.value, env);
    if (value === null) {
      notes.push(`${found.file.label} ${path.join(".")} names an unset environment variable`);
    }
    return value;
  };
  const server = (layer: Layer, path: string[]): string | null => {
    const value = expand(layer, path);
    return value ? normalizeYarnServer(value) : null;
  };
  const credential = (layer: Layer, path: string[], url: string): Credential | null => {
    for (const [key, scheme] of [
      ["npmAuthToken", "Bearer"],
      ["npmAuthIdent", "Basic"],
    ] as const) {
      const found = get(layer, [...path, key]);
      const value = expand(layer, [...path, key]);
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
  const children = (layer: Layer, root: string): Set<string> => {
    const out = new Set<string>();
    for (const json of layers[layer].keys()) {
      const path = JSON.parse(json) as string[];
      if (path[0] === root && path.length === 3 && path[1] !== undefined) out.add(path[1]);
    }
    return out;
  };

  const userServer = server("user", ["npmRegistryServer"]) ?? YARN_REGISTRY;
  const projectServer = server("project", ["npmRegistryServer"]) ?? userServer;
  const pinned: YarnPinned[] = [];
  const pin = (
    layer: Layer,
    scope: string | null,
    path: string[],
    to: string,
  ): Credential | null => {
    const found = credential(layer, path, `${to}/`);
    if (found !== null)
      pinned.push({ server: to, scope: scope?.replace(/^@/, "") ?? null, credential: found });
    return found;
  };
  // The project's first (its settings win where both apply), each to its own server.
  for (const scope of children("project", "npmScopes")) {
    const to =
      server("project", ["npmScopes", scope, "npmRegistryServer"]) ??
      server("user", ["npmScopes", scope, "npmRegistryServer"]) ??
      projectServer;
    pin("project", scope, ["npmScopes", scope], to);
  }
  pin("project", null, [], projectServer);
  const userScopes = new Map<string, { server: string | null; credential: Credential | null }>();
  for (const scope of children("user", "npmScopes")) {
    const own = server("user", ["npmScopes", scope, "npmRegistryServer"]);
    userScopes.set(scope, {
      server: own,
      credential: pin("user", scope, ["npmScopes", scope], own ?? userServer),
    });
  }
  const userTop = pin("user", null, [], userServer);
  // A scope the user's file sends to a server of its own without a token takes the user's
  // top-level one there, as yarn does: the user's own pairing, which the project cannot change.
  for (const { server: to, credential: own } of userScopes.values())
    if (userTop !== null && to !== null && own === null)
      pinned.push({ server: to, scope: null, credential: userTop });

  const registries = new Map<string, Credential>();
  for (const layer of ["user", "project"] as const) {
    for (const key of children(layer, "npmRegistries")) {
      const normalized = yarnRegistryKey(key);
      const scheme = /^https?:/.exec(key)?.[0];
      // Scheme-less when the key names none: it applies to both.
      const found = credential(layer, ["npmRegistries", key], `${scheme ?? ""}${normalized}/`);
      if (found === null) continue;
      // A key naming https is the user's pairing; a scheme-less one is https only when the
      // user's files name its registry with https and never with http.
      // A scheme-less key of the user's: https only unless the user's files name http there.
      if (
        scheme === "https:" ||
        (scheme === undefined &&
          (layer === "user" ? userHttpsOnly : httpsOnly)(`https:${normalized}/`))
      )
        found.httpsOnly = true;
      registries.set(normalized, found);
    }
  }
  return { pinned, registries };
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
  const scoped = yarn.pinned.find(
    (p) => p.scope !== null && p.scope.toLowerCase() === scope && under(p.server),
  );
  if (scoped !== undefined) return scoped.credential;
  // Then the registry's own entry (the longest prefix), then the top level.
  const here = `//${url.host}${url.pathname}`;
  let best: [string, Credential] | null = null;
  for (const entry of yarn.registries) {
    const [key, credential] = entry;
    if (credential.httpsOnly && url.protocol !== "https:") continue;
    if (
      (here === key || here.startsWith(`${key}/`)) &&
      (best === null || key.length > best[0].length)
    )
      best = entry;
  }
  if (best !== null) return best[1];
  return yarn.pinned.find((p) => p.scope === null && under(p.server))?.credential ?? null;
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

/**
 * The registries a publish of `name` may go to, as the managers choose one from config: the
 * command's own (`--registry`, else package.json's `publishConfig.registry`) when it names one,
 * and npm's (pnpm's, yarn 1's, bun's) `@scope:registry` for a scoped name, else `registry` —
 * the project's `.npmrc` over the user's over the global one, and `npm_config_*` in the
 * environment too — and yarn 2+'s `npmScopes.<scope>.npmPublishRegistry` /
 * `npmRegistryServer`, else the top-level `npmPublishRegistry` / `npmRegistryServer` (the
 * project's `.yarnrc.yml` over the user's). Each manager reads only its own; the union keeps
 * every real publish working, and still no upload goes to a registry that config pairs with
 * other packages only (a `prepublishOnly` publishing the package to another registry the user
 * holds a token for).
 */
export function publishRegistries(
  files: readonly CredentialFile[],
  env: Env,
  name: string,
  options: { explicit: string | null; berry: boolean; pnpmYaml?: readonly string[] },
): string[] {
  const scope = name.startsWith("@") ? name.split("/")[0] : undefined;
  // The command's own choice, besides what config says: npm sends a scoped name to its scope's
  // registry even then (npm-registry-fetch's pickRegistry), other managers may not.
  if (options.explicit !== null)
    return [
      ...new Set([
        options.explicit,
        ...publishRegistries(files, env, name, { ...options, explicit: null }),
      ]),
    ];
  if (options.berry) {
    // The project's file over the user's.
    const settings = new Map<string, string>();
    const yarnFiles = files.filter((f) => f.kind === "yarnrc");
    for (const file of [...yarnFiles].sort((a, b) => Number(a.project) - Number(b.project)))
      for (const { path, value } of yamlScalars(file.text)) {
        const expanded = file.project ? value : (yarnEnvReplace(value, env) ?? "");
        if (expanded !== "") settings.set(JSON.stringify(path), expanded);
      }
    const get = (path: string[]) => settings.get(JSON.stringify(path));
    const bare = scope?.slice(1);
    const scopePublish =
      bare === undefined ? undefined : get(["npmScopes", bare, "npmPublishRegistry"]);
    const scopeServer =
      bare === undefined ? undefined : get(["npmScopes", bare, "npmRegistryServer"]);
    const out = [scopePublish, scopeServer].filter((v): v is string => v !== undefined);
    // plugin-npm's getScopeRegistry: without a scope publish registry, the default one.
    if (scopePublish === undefined)
      out.push(get(["npmPublishRegistry"]) ?? get(["npmRegistryServer"]) ?? YARN_REGISTRY);
    return out;
  }
  // npm's config: the last file wins (files come lowest precedence first); the environment
  // over the files.
  const npm = new Map<string, string>();
  for (const file of files.filter((f) => f.kind === "npmrc")) {
    for (const entry of parseNpmrc(file.text)) {
      if (entry.section !== null || typeof entry.value !== "string" || entry.array) continue;
      const key = npmEnvReplace(entry.key, file.project ? {} : env);
      if (key === "registry" || (scope !== undefined && key === `${scope}:registry`))
        npm.set(key, npmEnvReplace(entry.value, file.project ? {} : env));
    }
  }
  const lookup = (key: string): string | undefined =>
    env[`npm_config_${key}`] ?? env[`NPM_CONFIG_${key}`] ?? npm.get(key);
  const scoped = scope === undefined ? undefined : lookup(`${scope}:registry`);
  const out = new Set([scoped ?? lookup("registry") ?? NPM_REGISTRY]);
  // pnpm 11+ also reads `registry` and `registries` (by scope, `default`, or declared with the
  // URL as the key) from pnpm-workspace.yaml and its global config.yaml: accepted too.
  for (const text of options.pnpmYaml ?? []) {
    for (const { path, value } of yamlScalars(text)) {
      const [top, key] = path;
      if (top === "registry" && path.length === 1) out.add(value);
      else if (top === "registries" && path.length === 2 && (key === "default" || key === scope))
        out.add(value);
      else if (top === "registries" && key !== undefined && /^https?:\/\//.test(key)) out.add(key);
    }
  }
  return [...out].filter((v) => v !== "");
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

/** A registry a config names: scheme (null for a scheme-less nerf-dart key), host, port, path. */
interface Location {
  protocol: "https:" | "http:" | null;
  hostname: string;
  /** Explicit port; "" for the scheme's default (as URL normalizes it). */
  port: string;
  /** Path prefix, ending in `/`. */
  path: string;
}

function parseLocation(url: string): Location | null {
  const schemeless = url.startsWith("//");
  const parsed = parseUrl(schemeless ? `https:${url}` : url);
  if (parsed === null || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) return null;
  return {
    protocol: schemeless ? null : parsed.protocol,
    hostname: parsed.hostname.toLowerCase(),
    port: parsed.port,
    path: parsed.pathname.endsWith("/") ? parsed.pathname : `${parsed.pathname}/`,
  };
}

/** `named` covers `target`: same host and port, `target` under its path, on its scheme if it names one. */
function covers(named: Location, target: Location): boolean {
  return (
    named.hostname === target.hostname &&
    named.port === target.port &&
    target.path.startsWith(named.path) &&
    (named.protocol === null || target.protocol === null || named.protocol === target.protocol)
  );
}

/** The two name the same registry: same host and port, one path under the other. */
function pairsWith(named: Location, target: Location): boolean {
  return (
    named.hostname === target.hostname &&
    named.port === target.port &&
    (target.path.startsWith(named.path) || named.path.startsWith(target.path))
  );
}

function describeLocation(loc: Location | null): string | null {
  if (loc === null) return null;
  return `${loc.protocol ?? ""}//${loc.hostname}${loc.port ? `:${loc.port}` : ""}${loc.path}`;
}

/** Registries a user config names: its registries and its credential keys. */
function namedLocations(file: CredentialFile, env: Env): Location[] {
  const out: Location[] = [];
  const add = (url: string): void => {
    const loc = parseLocation(url);
    if (loc !== null) out.push(loc);
  };
  if (file.kind === "npmrc") {
    for (const entry of parseNpmrc(file.text)) {
      if (entry.section !== null || typeof entry.value !== "string") continue;
      const key = npmEnvReplace(entry.key, env);
      if (key === "registry" || /^@[^:]+:registry$/.test(key)) add(npmEnvReplace(entry.value, env));
      else if (key.startsWith("//")) add(key.slice(0, key.lastIndexOf(":")));
    }
  } else {
    for (const { path, value } of yamlScalars(file.text)) {
      if (path.at(-1) === "npmRegistryServer") add(yarnEnvReplace(value, env) ?? "");
      if (path[0] === "npmRegistries" && path[1] !== undefined)
        add(
          /^https?:/.test(path[1]) ? path[1] : `//${yarnRegistryKey(path[1]).replace(/^\/\//, "")}`,
        );
    }
  }
  return out;
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
