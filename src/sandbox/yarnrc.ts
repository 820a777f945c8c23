/**
 * The copy of the user's `~/.yarnrc.yml` that enters a private home: only the keys that say
 * where packages come from, so that yarn berry inside asks the registries the user's own yarn
 * asks (without it, yarn falls back to registry.yarnpkg.com, and a private package name goes to
 * the public registry). An ALLOWLIST: `npmRegistryServer`, `npmScopes.<scope>.npmRegistryServer`
 * and `.npmPublishRegistry`, the keys of `npmRegistries` (never their credentials),
 * `unsafeHttpWhitelist`, and `httpsCaFilePath` turned into the gateway's bundle. Everything else
 * — credentials, `yarnPath`, `plugins`, `injectEnvironmentFiles`, proxies, TLS switches — stays
 * out. Written as JSON, which is YAML. Pure.
 *
 * `${VAR}` references are expanded here with the host's environment, as yarn would on the host
 * (credentials.ts `yarnEnvReplace`): inside, the environment is rebuilt from an allowlist. A
 * value naming a secret-looking variable, or one that cannot be expanded, is dropped. The file is
 * parsed apart (yarnrcparse.ts), as it is only there to read when the user has one.
 */
import { type Env, yarnEnvReplace } from "../network/credentials.js";
import { stripUrlCredentials } from "./npmrc.js";

export interface YarnrcCopyOptions {
  /** The host's environment, for `${VAR}` references. */
  env: Env;
  /** The gateway's CA bundle inside, when it is on: `httpsCaFilePath` names it. */
  cafile?: string | undefined;
  /** `npmRegistries` keys whose `npmAuthToken` is `placeholder` (`safe-npm publish`). */
  placeholders?: readonly string[] | undefined;
  placeholder: string;
  /** A variable never to expand into the copy (policy.ts isSecretName). */
  isSecret: (name: string) => boolean;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string value expanded as yarn would, without credentials; null when it cannot be kept. */
function expandValue(value: unknown, options: YarnrcCopyOptions): string | null {
  if (typeof value !== "string") return null;
  for (const [, name] of value.matchAll(/\$\{([\d\w_]+)/g))
    if (name !== undefined && options.isSecret(name)) return null;
  const expanded = yarnEnvReplace(value, options.env);
  // Yarn inside expands the copy again: a reference left in it would be read from the sandbox.
  if (expanded === null || expanded.includes("${")) return null;
  return stripUrlCredentials(expanded);
}

/** A mapping key kept as it is: no reference, no credentials. */
function plainKey(key: string): boolean {
  return !key.includes("${") && stripUrlCredentials(key) === key && !key.includes("@");
}

/** `http://host/path/` and `//host/path` → `//host/path`, to match a placeholder key. */
function registryKey(key: string): string {
  return key.replace(/^https?:/, "").replace(/\/+$/, "");
}

/**
 * The copy's text from the parsed file (null: none, or it does not parse), or null when nothing
 * is to be mounted: nothing is kept and no placeholder is asked.
 */
export function yarnrcCopy(
  parsed: Readonly<Record<string, unknown>> | null,
  options: YarnrcCopyOptions,
): string | null {
  const placeholders = options.placeholders ?? [];
  const out: Record<string, unknown> = {};
  if (parsed !== null) {
    const server = expandValue(parsed.npmRegistryServer, options);
    if (server !== null) out.npmRegistryServer = server;
    if (isMapping(parsed.npmScopes)) {
      const scopes: Record<string, Record<string, string>> = {};
      for (const [scope, config] of Object.entries(parsed.npmScopes)) {
        if (!plainKey(scope) || !isMapping(config)) continue;
        const kept: Record<string, string> = {};
        for (const key of ["npmRegistryServer", "npmPublishRegistry"]) {
          const value = expandValue(config[key], options);
          if (value !== null) kept[key] = value;
        }
        if (Object.keys(kept).length > 0) scopes[scope] = kept;
      }
      if (Object.keys(scopes).length > 0) out.npmScopes = scopes;
    }
    if (isMapping(parsed.npmRegistries)) {
      const covered = new Set(placeholders.map(registryKey));
      const registries: Record<string, Record<string, string>> = {};
      for (const key of Object.keys(parsed.npmRegistries))
        if (plainKey(key) && !covered.has(registryKey(key))) registries[key] = {};
      if (Object.keys(registries).length > 0) out.npmRegistries = registries;
    }
    if (Array.isArray(parsed.unsafeHttpWhitelist)) {
      const hosts = parsed.unsafeHttpWhitelist
        .map((h) => expandValue(h, options))
        .filter((h): h is string => h !== null);
      if (hosts.length > 0) out.unsafeHttpWhitelist = hosts;
    }
    // Yarn's httpsCaFilePath replaces node's CA list: only a file that set one gets the bundle.
    if (options.cafile !== undefined && parsed.httpsCaFilePath !== undefined)
      out.httpsCaFilePath = options.cafile;
  }
  if (placeholders.length > 0) {
    const registries = isMapping(out.npmRegistries) ? out.npmRegistries : {};
    for (const key of placeholders) registries[key] = { npmAuthToken: options.placeholder };
    out.npmRegistries = registries;
  }
  if (Object.keys(out).length === 0) return null;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/**
 * The project's `.yarnrc.yml` with every `npmAuthToken` / `npmAuthIdent` value (at any depth:
 * top level, scopes, registries) replaced by `placeholder`, as JSON (which yarn reads as YAML),
 * from the document a real YAML parser made (yarnrcparse.ts): block scalars, values on the
 * next line, escaped keys and anchors are what yarn reads too. The gateway adds the real
 * credential on the host, over the placeholder — which keeps `npmAlwaysAuth` satisfied.
 * `removed`: how many were replaced (none: no copy is needed).
 */
export function projectYarnrcWithoutCredentials(
  parsed: Readonly<Record<string, unknown>>,
  placeholder: string,
): { text: string; removed: number } {
  let removed = 0;
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (key === "npmAuthToken" || key === "npmAuthIdent") {
        removed++;
        out[key] = placeholder;
      } else out[key] = walk(inner);
    }
    return out;
  };
  const text = `${JSON.stringify(walk(parsed), null, 2)}\n`;
  return { text, removed };
}
