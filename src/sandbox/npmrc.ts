/**
 * Reads npmrc files the way npm does and writes the copy that enters the sandbox: an ALLOWLIST of
 * keys that name registries, TLS, proxies and harmless preferences; every other key goes —
 * credentials, and keys that make npm (or pnpm, yarn 1) run a program (`script-shell`,
 * `node-options`, `git`, `editor`, `init-module`, …) or read config from elsewhere (`userconfig`,
 * `globalconfig`, `prefix`). Pure.
 *
 * The parser follows npm's `ini` package (`decode`/`unsafe`, npm/ini lib/ini.js), which
 * @npmcli/config uses for every file: lines split on any run of CR/LF; lines starting with
 * optional spaces and `#` or `;` are comments; `[section]` opens a nested object (not top-level
 * config for npm); `key = value` with both sides trimmed; a side wrapped in "…" is a JSON string
 * and one wrapped in '…' is taken literally (then JSON-decoded if it parses); otherwise an
 * unescaped `;` or `#` starts a comment, `\;` `\#` `\\` escape them; `key[]=` makes an array; a
 * key without `=` is `true`. There is no line continuation. `${VAR}` references are expanded by
 * npm when it loads the file, with its own environment: inside, that is the sandbox's.
 *
 * The output is written from the parsed pairs, never copied line by line, so that what npm reads
 * from it is exactly the kept pairs whatever the input's formatting.
 */

/** Keys kept as they are (after URL credentials are stripped from their values). */
const SAFE_KEYS = new Set([
  // where packages come from, and how to reach it
  "registry",
  "ca",
  "cafile",
  "strict-ssl",
  "proxy",
  "https-proxy",
  "noproxy",
  "maxsockets",
  "fetch-retries",
  "fetch-retry-factor",
  "fetch-retry-mintimeout",
  "fetch-retry-maxtimeout",
  "fetch-timeout",
  "prefer-offline",
  "prefer-online",
  "offline",
  "always-auth",
  // node-gyp's headers (a path; see PATH_KEYS)
  "nodedir",
  // output and behaviour switches with no program or path behind them
  "audit",
  "audit-level",
  "fund",
  "update-notifier",
  "loglevel",
  "progress",
  "color",
  "unicode",
  "save",
  "save-exact",
  "save-prefix",
  "engine-strict",
  "legacy-peer-deps",
  "strict-peer-deps",
  "package-lock",
  "lockfile-version",
  "ignore-scripts",
  "omit",
  "include",
  "install-strategy",
  "install-links",
  "prefer-dedupe",
  "init-author-name",
  "init-author-url",
  "init-license",
  "init-version",
  // pnpm's layout switches, read from the same files
  "auto-install-peers",
  "strict-peer-dependencies",
  "shamefully-hoist",
  "node-linker",
  "hoist",
  "hoist-pattern",
  "public-hoist-pattern",
  "link-workspace-packages",
  "prefer-workspace-packages",
  "save-workspace-protocol",
  "resolution-mode",
  "dedupe-peer-dependents",
  "package-import-method",
  "side-effects-cache",
  "prefer-frozen-lockfile",
]);

/** `@scope:registry`: a scoped registry. */
const SCOPED_REGISTRY = /^@[a-z0-9][a-z0-9._~-]*:registry$/i;

/** Keys whose value may be given as `key[]=` lines (npm's list types among SAFE_KEYS). */
const ARRAY_KEYS = new Set(["ca", "omit", "include", "hoist-pattern", "public-hoist-pattern"]);

/** Keys whose value is a host path: inside, one under the home would name a file the sandbox made. */
const PATH_KEYS = new Set(["cafile", "nodedir"]);

/** Keys whose value is a URL that may carry `user:password@`. */
const URL_KEYS = new Set(["registry", "proxy", "https-proxy"]);

export interface NpmrcEntry {
  /** The `[section]` the entry is in, or null at the top level. */
  section: string | null;
  /** The key as npm sees it, without a `[]` array suffix. */
  key: string;
  /** `key[]=value`: one element of an array. */
  array: boolean;
  /** A key without `=` is `true` for npm. */
  value: string | true;
}

/** The entries of an npmrc file in order, as npm's `ini.decode` reads them. */
export function parseNpmrc(text: string): NpmrcEntry[] {
  const entries: NpmrcEntry[] = [];
  let section: string | null = null;
  for (const line of text.split(/[\r\n]+/)) {
    if (line === "" || /^\s*[;#]/.test(line) || /^\s*$/.test(line)) continue;
    const match = /^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$/.exec(line);
    if (match === null) continue;
    if (match[1] !== undefined) {
      section = iniUnsafe(match[1]);
      continue;
    }
    const raw = iniUnsafe(match[2] ?? "");
    const array = raw.length > 2 && raw.endsWith("[]");
    const key = array ? raw.slice(0, -2) : raw;
    const value = match[3] !== undefined ? iniUnsafe(match[4] ?? "") : true;
    entries.push({ section, key, array, value });
  }
  return entries;
}

/** npm/ini's `unsafe`: trims, decodes a quoted side, else cuts an inline comment and unescapes. */
export function iniUnsafe(input: string): string {
  const val = input.trim();
  const quoted =
    val.length > 0 &&
    ((val.startsWith('"') && val.endsWith('"')) || (val.startsWith("'") && val.endsWith("'")));
  if (quoted) {
    const inner = val.startsWith("'") ? val.slice(1, -1) : val;
    try {
      const parsed: unknown = JSON.parse(inner);
      // ini keeps whatever JSON.parse returns; npm then treats a non-string as that value.
      return typeof parsed === "string" ? parsed : String(parsed);
    } catch {
      return inner;
    }
  }
  let escaped = false;
  let out = "";
  for (const c of val) {
    if (escaped) {
      out += "\\;#".includes(c) ? c : `\\${c}`;
      escaped = false;
    } else if (c === ";" || c === "#") {
      break;
    } else if (c === "\\") {
      escaped = true;
    } else {
      out += c;
    }
  }
  if (escaped) out += "\\";
  return out.trim();
}

export interface SanitizedNpmrc {
  text: string;
  /** Keys removed and why, for --verbose and --dry-run. */
  removed: string[];
}

export interface SanitizeOptions {
  /** The user's home: path values under it would name the sandbox's own home inside. */
  home?: string;
  /**
   * The registry gateway's CA bundle inside: a `cafile` names it instead (it holds the
   * certificates of the user's cafile, and the gateway's CA besides).
   */
  cafile?: string;
}

export function sanitizeNpmrc(text: string, options: SanitizeOptions = {}): SanitizedNpmrc {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const entry of parseNpmrc(text)) {
    const shown = `${entry.section === null ? "" : `[${entry.section}] `}${entry.key}${entry.array ? "[]" : ""}`;
    const verdict = judge(entry, options);
    if (typeof verdict === "object") {
      removed.push(`${shown} (${verdict.reason})`);
      continue;
    }
    if (verdict !== entry.value) removed.push(`${shown} (credentials in URL)`);
    const key = `${entry.key}${entry.array ? "[]" : ""}`;
    // A key alone is `true` for npm, as in the input.
    kept.push(verdict === true ? key : `${key}=${iniValue(verdict)}`);
  }
  return { text: kept.length === 0 ? "" : `${kept.join("\n")}\n`, removed };
}

/** The value to keep, or why the entry goes. */
function judge(entry: NpmrcEntry, options: SanitizeOptions): string | true | { reason: string } {
  const { key, value } = entry;
  if (entry.section !== null) return { reason: "inside a [section]" };
  if (!SAFE_KEYS.has(key) && !SCOPED_REGISTRY.test(key)) {
    return { reason: isCredentialKey(key) ? "credential" : "not an allowed key" };
  }
  if (entry.array && !ARRAY_KEYS.has(key)) return { reason: "not a list" };
  if (key === "cafile" && options.cafile !== undefined) return options.cafile;
  if (value === true) return true;
  if (PATH_KEYS.has(key) && options.home !== undefined && pathUnder(value, options.home)) {
    return { reason: "a path in the home, which the sandbox replaces" };
  }
  return URL_KEYS.has(key) || SCOPED_REGISTRY.test(key) ? stripUrlCredentials(value) : value;
}

/** Only for the reason shown: every key outside the allowlist goes either way. */
function isCredentialKey(key: string): boolean {
  const last = key.slice(key.lastIndexOf(":") + 1).toLowerCase();
  return /^(_auth|_authtoken|_password|username|email|certfile|keyfile|cert|key|otp|tokenhelper)$|token|secret|password|passwd|credential/.test(
    last,
  );
}

function pathUnder(value: string, home: string): boolean {
  const path = value.startsWith("~") ? `${home}${value.slice(1)}` : value;
  // npm resolves a relative path against its working directory; not one to trust either.
  if (!path.startsWith("/")) return true;
  const normalized = path.replace(/\/+$/, "");
  return normalized === home || normalized.startsWith(`${home}/`) || path.includes("${");
}

/** A value npm's `ini` reads back exactly: plain when nothing in it is special, else a JSON string. */
function iniValue(value: string): string {
  return /^[A-Za-z0-9_@%+:,./~*!?&()-]*$/.test(value) ? value : JSON.stringify(value);
}

/** `https://user:pass@host/` → `https://host/` (proxies and registries may carry them). */
export function stripUrlCredentials(value: string): string {
  // Up to the last `@` of the authority: a password may itself contain `@`. For http(s), ws(s)
  // and ftp, WHATWG URL parsing (node's, npm's) takes any number of slashes or backslashes
  // after the scheme, none included: `http:user:pass@proxy` carries credentials too.
  return value
    .replace(/\b((?:https?|wss?|ftp):[\\/]*)[^/\\?#\s]*@/gi, "$1")
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, "$1");
}

/** Keys that hold a registry credential, top-level or under a nerf-dart `//host/path/:` prefix. */
const CREDENTIAL_KEY =
  /(^|:)(_authtoken|_auth|_password|password|username|email|certfile|keyfile|otp|tokenhelper)$/i;

/**
 * Every entry of an npmrc but its credentials (the project's `.npmrc` inside: its other keys are
 * the project's to set), written from the parsed pairs like sanitizeNpmrc. Entries inside a
 * `[section]` go too: they are no config for npm, and could hold anything.
 */
export function withoutCredentials(
  text: string,
  cafile?: string,
): SanitizedNpmrc & { cafileReplaced: boolean } {
  const removed: string[] = [];
  const kept: string[] = [];
  let cafileReplaced = false;
  for (const entry of parseNpmrc(text)) {
    const key = `${entry.key}${entry.array ? "[]" : ""}`;
    if (entry.section !== null) {
      removed.push(`[${entry.section}] ${key} (inside a [section])`);
    } else if (entry.key === "cafile" && cafile !== undefined) {
      // The registry gateway's bundle, which holds this file's certificates (bun and pnpm 11+
      // read the project's cafile over ~/.npmrc's, and no variable for it).
      kept.push(`cafile=${cafile}`);
      cafileReplaced = true;
    } else if (CREDENTIAL_KEY.test(entry.key)) {
      removed.push(`${key} (credential)`);
    } else if (entry.value === true) {
      kept.push(key);
    } else {
      const value =
        URL_KEYS.has(entry.key) || SCOPED_REGISTRY.test(entry.key)
          ? stripUrlCredentials(entry.value)
          : entry.value;
      if (value !== entry.value) removed.push(`${key} (credentials in URL)`);
      kept.push(`${key}=${iniValue(value)}`);
    }
  }
  return { text: kept.length === 0 ? "" : `${kept.join("\n")}\n`, removed, cafileReplaced };
}

/**
 * Whether an npmrc text may name a client certificate: a loose test run before the parse is
 * loaded. npm's ini parser also takes a quoted key (`"//host/:keyfile"=…`, where a JSON escape
 * such as `\u0066` may spell it) and npm expands `${VAR}` in keys, so a key (what precedes a
 * line's first `=`, as the parser splits it) holding either counts too; `_authToken=${TOKEN}`
 * does not.
 */
export function mayNameClientCert(text: string): boolean {
  return /certfile|keyfile/.test(text) || /^[^=\r\n]*(\$\{|\\u)/m.test(text);
}
