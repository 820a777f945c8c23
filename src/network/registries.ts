/** Registry mode's allowlist inputs: the files that name registries, and the hosts they name. */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { SafeNpmError } from "../errors.js";
import { type HostInfo, type NpmGlobalConfig, pnpmConfigHome } from "../host/host.js";
import type { Project } from "../host/project.js";
import { mayNameClientCert, sanitizeNpmrc } from "../sandbox/npmrc.js";
import { readRegularFile } from "../sandbox/safepath.js";
import type { EffectiveSettings } from "../settings/merge.js";
import type { AllowEntry } from "./allowlist.js";
import type { CredentialFile } from "./credentials.js";
import type { ClientCertificate, RegistryHook } from "./gateway-hook.js";
import type { PublishTargets } from "./publishtargets.js";

/** The project's files that name registries (npm, yarn berry, yarn 1). */
export function registryFiles(root: string): string[] {
  return [".npmrc", ".yarnrc.yml", ".yarnrc"].map((f) => join(root, f));
}

/**
 * Registry mode's allowlist: the registries the project's and the user's config name (npm's
 * global config, `globalNpmrc`, as the user's: the caller passes it only when it is, see
 * host.ts usersNpmGlobalConfig; else the package manager's default), `npm_config_registry` when run from a script, and the hosts from
 * settings and --allow-host.
 */
export async function registryAllowlist(
  host: HostInfo,
  project: Project,
  effective: EffectiveSettings,
  files: readonly string[],
  command: readonly string[],
  globalNpmrc: NpmGlobalConfig | null = null,
): Promise<AllowEntry[]> {
  const {
    dedupeAllowlist,
    parseAllowEntry,
    parseAllowlist,
    registriesFromConfig,
    settleProjectOnly,
  } = await import("./allowlist.js");
  // Never through a link, never a FIFO (it would block): a missing file is no config.
  const read = (path: string | undefined): string | null => {
    try {
      return path === undefined ? null : readRegularFile(path, true);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  };
  const [npmrc, yarnrcYml, yarnrc] = files;
  const tool = basename(command[0] ?? "");
  const projectYarnrcYml = read(yarnrcYml);
  const pnpmAuth = isPnpm(command) ? sanitizedPnpmAuth(host) : null;
  const entries = [
    ...registriesFromConfig({
      projectNpmrc: read(npmrc),
      userNpmrc: host.userNpmrc === null ? null : sanitizeNpmrc(host.userNpmrc).text,
      globalNpmrc:
        globalNpmrc === null
          ? null
          : { path: globalNpmrc.path, text: sanitizeNpmrc(globalNpmrc.text).text },
      pnpmAuth,
      yarnrcYml: projectYarnrcYml,
      userYarnrcYml: host.userYarnrcYml,
      yarnrc: read(yarnrc),
      parseYaml: await yamlParser(projectYarnrcYml, host.userYarnrcYml),
      yarn: tool === "yarn" || tool === "yarnpkg" || existsSync(join(project.root, "yarn.lock")),
      env: host.env,
    }),
    ...parseAllowlist(effective.network.allow, "network.allow / --allow-host"),
  ];
  const scriptRegistry = host.env.npm_lifecycle_event ? host.env.npm_config_registry : undefined;
  if (scriptRegistry) {
    const entry = parseAllowEntry(scriptRegistry, "npm_config_registry");
    // The host's npm sets it from the same files, the project's .npmrc included: it names
    // nothing of the user's that a project-only entry for the same target did not.
    const fromProject = entries.some(
      (e) => e.projectOnly === true && e.host === entry.host && e.port === entry.port,
    );
    entries.push({
      ...entry,
      ...(fromProject ? { projectOnly: true } : {}),
      ...(/^http:\/\//i.test(scriptRegistry.trim()) ? { plainHttp: true } : {}),
    });
  }
  // A registry only the project's files name is not dialled at an internal address (proxy.ts).
  const allow = settleProjectOnly(dedupeAllowlist(entries));
  // Each registry costs the host a certificate for the gateway (made, kept in memory and
  // cached on disk) and a place in the allowlist: a cloned repository naming thousands would
  // make the host work for minutes and hold gigabytes.
  const projectOnly = allow.filter((e) => e.projectOnly === true).length;
  if (projectOnly > MAX_PROJECT_REGISTRIES)
    throw new SafeNpmError(
      "BAD_SETTINGS",
      `the project's config (${files.filter((f) => f !== undefined && existsSync(f)).join(", ")}) names ${projectOnly} registries your own config does not; at most ${MAX_PROJECT_REGISTRIES} are accepted`,
      {
        hint: "remove the registries the project does not use from its .npmrc / .yarnrc.yml, or name the ones you use in your own ~/.npmrc",
      },
    );
  return allow;
}

/** Registries a project's files may name that the user's own do not (registryAllowlist). */
export const MAX_PROJECT_REGISTRIES = 32;

/**
 * The registries the user's own config names (~/.npmrc, npm's global config when it is the
 * user's, ~/.yarnrc.yml, the environment) and the hosts of settings and --allow-host: where
 * another run's proxy may dial (an install going on in the project while this run serves), and
 * so the loopback ports a run in another network mode must not forward either (loopback.ts).
 */
export async function usersRegistries(
  host: HostInfo,
  effective: EffectiveSettings,
  globalNpmrc: NpmGlobalConfig | null,
): Promise<AllowEntry[]> {
  const [{ parseAllowEntry, parseAllowlist, registriesFromConfig }, { userNamedTargets }] =
    await Promise.all([import("./allowlist.js"), import("./credentials.js")]);
  // Every host the user's files pair with a credential too (`//host:port/:_authToken`, yarn's
  // `npmRegistries` keys): the proxy of an install allowed to reach it by other means
  // (--allow-host, a trusted project's settings) sends the credential there.
  const files = userCredentialFiles(globalNpmrc, host, true);
  const held: AllowEntry[] = [];
  // And every `//host[:port]` the user's files and package-manager variables spell at all:
  // yarn reads flow-style YAML, merges and JSON the line reader above does not, and npm reads
  // `npm_config_//host:port/:_authToken` from the environment. Taking too many only keeps a
  // port from being forwarded.
  const texts = [
    ...files.map((f) => f.text),
    ...Object.entries(host.env)
      .filter(([name]) => /^(npm_config_|yarn_|pnpm_config_)/i.test(name))
      .map(([name, value]) => `${name}=${value ?? ""}`),
  ];
  const spelled = texts.flatMap(urlAuthorities);
  for (const target of [...userNamedTargets(files, host.env), ...spelled]) {
    try {
      held.push(parseAllowEntry(target, "your npm or yarn config"));
    } catch {
      // not a host the proxy could dial
    }
  }
  return [
    ...held,
    ...registriesFromConfig({
      projectNpmrc: null,
      userNpmrc: host.userNpmrc === null ? null : sanitizeNpmrc(host.userNpmrc).text,
      globalNpmrc:
        globalNpmrc === null
          ? null
          : { path: globalNpmrc.path, text: sanitizeNpmrc(globalNpmrc.text).text },
      pnpmAuth: sanitizedPnpmAuth(host),
      yarnrcYml: null,
      userYarnrcYml: host.userYarnrcYml,
      yarnrc: null,
      parseYaml: await yamlParser(host.userYarnrcYml),
      yarn: true,
      env: host.env,
    }),
    ...parseAllowlist(effective.network.allow, "network.allow / --allow-host"),
  ];
}

/**
 * The `host:port` of every `//authority` in a text (an entry without a port twice, for 443 and
 * 80; a `user:pass@` before the host skipped), as WHATWG URL parsing reads the host (`127.1`,
 * `0x7f.1` → `127.0.0.1`).
 */
export function urlAuthorities(text: string): string[] {
  const out = new Set<string>();
  for (const match of text.matchAll(
    /(https?:)?\/\/(?:[^\s/\\?#@"'`]*@)?(\[[0-9A-Fa-f:.]+\]|[^\s/\\?#@"'`,:;{}[\]()<>]+)(?::(\d{1,5}))?/g,
  )) {
    const scheme = match[1]?.toLowerCase();
    let hostname: string;
    try {
      hostname = new URL(`http://${match[2]}/`).hostname;
    } catch {
      continue;
    }
    const ports =
      match[3] !== undefined
        ? [match[3]]
        : scheme === "http:"
          ? ["80"]
          : scheme === "https:"
            ? ["443"]
            : ["443", "80"];
    for (const port of ports) out.add(`${hostname}:${Number(port)}`);
  }
  return [...out];
}

export interface RegistryRules {
  hook: RegistryHook;
  /** Credentials skipped and why, for --verbose. */
  notes: readonly string[];
  /** Where each held credential came from, for --verbose (never a value). */
  held: readonly string[];
  /** `//host/path/` of every npm-style credential: publish mode's placeholders inside. */
  credentialKeys: readonly string[];
  /** yarn berry: the `npmRegistries` keys of every held credential (publish mode's placeholders). */
  yarnCredentialKeys: readonly string[];
}

/** The command is pnpm's (pnpm 11+ reads the user's `auth.ini` too). */
function isPnpm(command: readonly string[]): boolean {
  return ["pnpm", "pnpx", "pnx"].includes(basename(command[0] ?? ""));
}

/** The user's pnpm `auth.ini` without its credentials (for the allowlist: registries only). */
function sanitizedPnpmAuth(host: Pick<HostInfo, "userPnpmAuth">): NpmGlobalConfig | null {
  const auth = host.userPnpmAuth;
  return auth == null ? null : { path: auth.path, text: sanitizeNpmrc(auth.text).text };
}

/**
 * The user's npm config files (userNpmrcFiles), pnpm's `auth.ini` for a pnpm run (it ranks
 * above `~/.npmrc` in pnpm 12), and their `~/.yarnrc.yml`.
 */
function userCredentialFiles(
  globalNpmrc: NpmGlobalConfig | null,
  host: Pick<HostInfo, "userNpmrc" | "userYarnrcYml" | "userPnpmAuth">,
  pnpm: boolean,
): CredentialFile[] {
  const files = userNpmrcFiles(globalNpmrc, host.userNpmrc);
  if (pnpm && host.userPnpmAuth != null)
    files.push({
      kind: "npmrc",
      label: host.userPnpmAuth.path,
      text: host.userPnpmAuth.text,
      project: false,
    });
  if (host.userYarnrcYml != null)
    files.push({
      kind: "yarnrc",
      label: "~/.yarnrc.yml",
      text: host.userYarnrcYml,
      project: false,
    });
  return files;
}

export function userNpmrcFiles(
  globalNpmrc: NpmGlobalConfig | null,
  userNpmrc: string | null,
): CredentialFile[] {
  const files: CredentialFile[] = [];
  if (globalNpmrc !== null)
    files.push({ kind: "npmrc", label: globalNpmrc.path, text: globalNpmrc.text, project: false });
  if (userNpmrc !== null)
    files.push({ kind: "npmrc", label: "~/.npmrc", text: userNpmrc, project: false });
  return files;
}

/**
 * The registry request rules and the credentials held on the host (credentials.ts,
 * requestpolicy.ts), for the proxy. A credential does not widen the allowlist: a host is reached
 * only when config names it as a registry (or the user allows it). The credential files are read here, once: the user's npm
 * config and `~/.yarnrc.yml` (gathered in host.ts), npm's global npmrc, and the project's
 * `.npmrc` and `.yarnrc.yml` (never through a link, never a FIFO).
 */
export async function registryRules(
  host: HostInfo,
  project: Project,
  globalNpmrc: NpmGlobalConfig | null,
  allow: readonly AllowEntry[],
  options: { publish: boolean; berry: boolean; command: readonly string[] },
): Promise<RegistryRules> {
  const [
    {
      credentialTargets,
      findCredentials,
      authorizationFor,
      publishRegistries,
      registryPaths,
      yarnPlaceholderKeys,
      uploadBases,
    },
    { registryHook },
  ] = await Promise.all([import("./credentials.js"), import("./requestpolicy.js")]);
  // Publish mode: the packages the command uploads, known before anything runs (or refused).
  const publishing = options.publish
    ? (await import("./publishtargets.js")).publishTargets(project.root, host.cwd, options.command)
    : undefined;
  // The user's files, then the project's (npm's and yarn's precedence each, lowest first).
  const files = userCredentialFiles(globalNpmrc, host, isPnpm(options.command));
  const projectNpmrc = readProjectFile(join(project.root, ".npmrc"));
  if (projectNpmrc !== null)
    files.push({ kind: "npmrc", label: "project .npmrc", text: projectNpmrc, project: true });
  const projectYarnrc = readProjectFile(join(project.root, ".yarnrc.yml"));
  if (projectYarnrc !== null)
    files.push({
      kind: "yarnrc",
      label: "project .yarnrc.yml",
      text: projectYarnrc,
      project: true,
    });

  const creds = findCredentials({ files, env: host.env, berry: options.berry });
  // pnpm 11+'s registries in YAML: where its publish may go (publishRegistries).
  const pnpmYaml = options.publish ? pnpmYamlConfigs(host, project.root) : [];
  if (publishing !== undefined)
    checkPublishConfigRegistries(publishing, (name) =>
      publishRegistries(files, host.env, name, { explicit: null, berry: options.berry, pnpmYaml }),
    );
  const certs = await clientCertificates(files, host);
  const targets = credentialTargets(creds);
  // Registries the config names (not hosts a user allowed by hand: a git host is no registry).
  const registryHosts: string[] = [];
  for (const entry of allow) {
    if (entry.wildcard || entry.source.startsWith("network.allow")) continue;
    for (const port of entry.port === null ? [443, 80] : [entry.port])
      registryHosts.push(`${entry.host}:${port}`);
  }
  const held = creds.berry
    ? [...creds.yarn.pinned.map((p) => p.credential), ...creds.yarn.registries.values()]
    : [...creds.npm.values()];
  const bases = new Map<string, string[]>();
  // Registry paths that move where the rules look for the API come from the user's own files
  // only: a project's `@x:registry=https://host/-/` would make `/-/whoami` a package document.
  // Read when a registry host is first asked about, not on every run's start.
  let userCreds: ReturnType<typeof findCredentials> | undefined;
  const hook = registryHook({
    mode: options.publish ? "publish" : "install",
    registryHosts,
    credentialHosts: targets,
    authorization: (url, method) => authorizationFor(creds, url, method),
    publishing: publishing?.names,
    publishVersions: publishing?.versions,
    publishTag: publishing?.tag,
    uploadBases: (url) => uploadBases(creds, url),
    registryBases: (url) => {
      const key = `${url.protocol}//${url.host}`;
      const known = bases.get(key);
      if (known !== undefined) return known;
      userCreds ??= findCredentials({
        files: files.filter((f) => !f.project),
        env: host.env,
        berry: options.berry,
      });
      const found = registryPaths(userCreds, url);
      bases.set(key, found);
      return found;
    },
    publishTo: (name) =>
      publishRegistries(files, host.env, name, {
        explicit: publishing?.registries[name] ?? null,
        berry: options.berry,
        pnpmYaml,
      }),
    publishAccess: publishing?.access,
    configAccess: options.publish ? configAccess(files) : [],
  });
  if (certs.lookup !== null) hook.clientCertificate = certs.lookup;
  return {
    hook,
    notes: [...creds.notes, ...certs.notes],
    // "https only": a key of the user's with no scheme is not sent over plain http unless the
    // user's own files name an http registry there; said so the user can tell why it was not.
    held: [
      ...held.flatMap((c) =>
        c === null ? [] : [c.httpsOnly ? `${c.source} (https only)` : c.source],
      ),
      ...certs.sources,
    ],
    credentialKeys: creds.berry ? [] : [...creds.npm.keys()],
    yarnCredentialKeys: yarnPlaceholderKeys(creds),
  };
}

/**
 * A package.json's `publishConfig.registry` that names another registry than config publishes
 * the package to stops the run before it starts, unless `--registry` says the same: package.json
 * is the project's, which any earlier sandboxed run (an install's postinstall) may have written,
 * and the managers obey it — it would send the package, with your token for that registry, where
 * the run chose.
 */
function checkPublishConfigRegistries(
  publishing: PublishTargets,
  fromConfig: (name: string) => readonly string[],
): void {
  if (publishing.registryFlag !== null) return;
  // Scheme and host as URLs compare them (case folded, default port dropped); the path exactly.
  const key = (url: string): string => {
    try {
      const parsed = new URL(url);
      return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
    } catch {
      return url;
    }
  };
  const same = (a: string, b: string): boolean => key(a) === key(b);
  for (const [name, registry] of Object.entries(publishing.registries)) {
    if (registry === null) continue;
    const configured = fromConfig(name);
    if (configured.some((c) => same(c, registry))) continue;
    throw new SafeNpmError(
      "USAGE",
      `${name}'s package.json sets publishConfig.registry to ${registry}, but your config publishes it to ${configured.join(" or ")}; package.json is the project's, and a run inside the sandbox may have written it`,
      {
        hint: `if ${registry} is where you mean to publish, say so: safe-npm publish --registry ${registry}`,
      },
    );
  }
}

/** The project's pnpm-workspace.yaml and pnpm's global config.yaml, as far as they exist. */
function pnpmYamlConfigs(host: HostInfo, root: string): string[] {
  const texts = [readProjectFile(join(root, "pnpm-workspace.yaml"))];
  try {
    texts.push(readRegularFile(join(pnpmConfigHome(host.env, host.home), "config.yaml"), true));
  } catch {
    // none, or not a regular file: no registry from it
  }
  return texts.filter((t): t is string => t !== null);
}

/**
 * npm's client certificates (clientcerts.ts), read now, on the host: the gateway presents them
 * upstream. A file that cannot be read stops the run (npm would fail on it the same way, later
 * and less clearly), naming the key and the file.
 */
async function clientCertificates(
  files: readonly CredentialFile[],
  host: HostInfo,
): Promise<{
  lookup: ((url: URL) => ClientCertificate | null) | null;
  notes: readonly string[];
  sources: string[];
}> {
  if (!files.some((f) => f.kind === "npmrc" && mayNameClientCert(f.text)))
    return { lookup: null, notes: [], sources: [] };
  const { findClientCerts, clientCertKeyFor } = await import("./clientcerts.js");
  const found = findClientCerts(files, host.env, host.home, host.cwd);
  const loaded = new Map<string, ClientCertificate>();
  for (const [regKey, entry] of found.byKey) {
    const read = (path: string, what: "certfile" | "keyfile"): string => {
      try {
        return readRegularFile(path, false);
      } catch (error) {
        throw new SafeNpmError(
          "BAD_CLIENT_CERT",
          `${entry.source.split(" ")[0]} ${regKey}:${what} names ${path}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
          {
            hint: `fix the path in ${regKey}:${what}, or remove the ${regKey} certfile and keyfile lines`,
          },
        );
      }
    };
    loaded.set(regKey, {
      cert: read(entry.certfile, "certfile"),
      key: read(entry.keyfile, "keyfile"),
    });
  }
  if (loaded.size === 0) return { lookup: null, notes: found.notes, sources: [] };
  return {
    lookup: (url) => {
      const key = clientCertKeyFor(loaded.keys(), url);
      return key === null ? null : (loaded.get(key) ?? null);
    },
    notes: found.notes,
    sources: [...found.byKey.values()].map((e) => `${e.source} (client certificate)`),
  };
}

/** A project file's text; null when missing. Never through a link, never a FIFO. */
export function readProjectFile(path: string): string | null {
  try {
    return readRegularFile(path, true);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * The `access` the config files set for a publish (npm's `access`, yarn berry's
 * `npmPublishAccess`): an upload may carry it without `--access`.
 */
function configAccess(files: readonly CredentialFile[]): string[] {
  const out = new Set<string>();
  for (const file of files) {
    if (file.kind === "npmrc") {
      for (const line of file.text.split(/\r?\n/)) {
        const match = /^\s*access\s*=\s*["']?([a-z]+)["']?\s*$/i.exec(line);
        if (match?.[1] !== undefined) out.add(match[1]);
      }
    } else {
      const match = /^npmPublishAccess:\s*["']?([a-z]+)["']?\s*$/im.exec(file.text);
      if (match?.[1] !== undefined) out.add(match[1]);
    }
  }
  return [...out];
}

/** The YAML parser for .yarnrc.yml files, loaded only when one of `texts` is there. */
async function yamlParser(
  ...texts: (string | null | undefined)[]
): Promise<((text: string) => Record<string, unknown> | null) | undefined> {
  if (texts.every((t) => t == null)) return undefined;
  return (await import("../sandbox/yarnrcparse.js")).parseYarnrcYml;
}
