/**
 * Makes the copy of the user's ~/.npmrc that enters the sandbox: registries, scoped registries,
 * cafile, nodedir and proxies stay; every credential goes. Pure.
 */

/**
 * Last key segment (after the `//host/path/:` nerf-dart prefix) that carries a credential or a
 * pointer to one (client certificate and key files).
 */
const CREDENTIAL_KEYS = new Set([
  "_authtoken",
  "_auth",
  "_password",
  "username",
  "email",
  "certfile",
  "keyfile",
  "cert",
  "key",
  "otp",
  "tokenhelper",
]);

/** Anything that names a secret, whatever npm calls it next year. */
const SECRET_WORDS = /token|secret|password|passwd|credential|_auth$/i;

export interface SanitizedNpmrc {
  text: string;
  /** Keys removed, for --verbose. */
  removed: string[];
}

export function sanitizeNpmrc(text: string): SanitizedNpmrc {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) {
      kept.push(line);
      continue;
    }
    const eq = trimmed.indexOf("=");
    const key = (eq === -1 ? trimmed : trimmed.slice(0, eq)).trim();
    const value = eq === -1 ? "" : trimmed.slice(eq + 1).trim();
    const lastSegment = key.slice(key.lastIndexOf(":") + 1).toLowerCase();
    if (CREDENTIAL_KEYS.has(lastSegment) || SECRET_WORDS.test(lastSegment)) {
      removed.push(key);
      continue;
    }
    const cleanValue = stripUrlCredentials(value);
    if (cleanValue !== value) removed.push(`${key} (credentials in URL)`);
    kept.push(eq === -1 ? line : `${key}=${cleanValue}`);
  }
  return { text: kept.join("\n"), removed };
}

/** `https://user:pass@host/` → `https://host/` (proxies and registries may carry them). */
export function stripUrlCredentials(value: string): string {
  // Up to the last `@` of the authority: a password may itself contain `@`.
  return value.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, "$1");
}
