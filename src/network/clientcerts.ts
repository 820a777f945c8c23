/**
 * PURE: npm's client certificates (mutual TLS) for a registry, found the way npm finds them:
 * `//host[:port]/path/:certfile` and `:keyfile` in the user's npmrc files (npm-registry-fetch's
 * `getAuth` reads them per registry, since npm 9; the old top-level `cert` / `key` are no longer
 * used for registry requests). The files stay on the host: the gateway presents them on its
 * own upstream connection, and the copy of ~/.npmrc inside names neither key (npmrc.ts).
 *
 * Only the user's own files count (global and user npmrc): a project's `.npmrc` could otherwise
 * name any key file the user can read and have it used on a connection to a host of its choosing.
 * See https://docs.npmjs.com/cli/v10/configuring-npm/npmrc#auth-related-configuration
 */
import { isAbsolute, resolve } from "node:path";
import { npmEnvReplace } from "../host/host.js";
import { parseNpmrc } from "../sandbox/npmrc.js";
import type { CredentialFile, Env } from "./credentials.js";

export interface ClientCertFiles {
  /** Absolute paths: `~/` expanded, a relative one from the working directory. */
  certfile: string;
  keyfile: string;
  /** Which file and key, for messages (never a value). */
  source: string;
}

export interface ClientCertConfig {
  /** nerf-dart key (`//host[:port]/path/`) → its files. */
  byKey: ReadonlyMap<string, ClientCertFiles>;
  /** What was skipped and why. */
  notes: readonly string[];
}

export function findClientCerts(
  files: readonly CredentialFile[],
  env: Env,
  home: string,
  cwd: string,
): ClientCertConfig {
  const values = new Map<string, { value: string; file: CredentialFile }>();
  const notes: string[] = [];
  for (const file of files) {
    if (file.kind !== "npmrc") continue;
    for (const entry of parseNpmrc(file.text)) {
      if (entry.section !== null || typeof entry.value !== "string" || entry.array) continue;
      const key = npmEnvReplace(entry.key, env);
      if (!/^\/\/.+:(certfile|keyfile)$/.test(key)) continue;
      if (file.project) {
        notes.push(
          `${file.label} ${key} is not used: a client certificate comes from your own ~/.npmrc only (move it there)`,
        );
        continue;
      }
      // Later files win, key by key, as @npmcli/config merges them.
      values.set(key, { value: npmEnvReplace(entry.value, env), file });
    }
  }
  const byKey = new Map<string, ClientCertFiles>();
  const registries = new Set([...values.keys()].map((key) => key.slice(0, key.lastIndexOf(":"))));
  for (const regKey of registries) {
    const cert = values.get(`${regKey}:certfile`);
    const key = values.get(`${regKey}:keyfile`);
    if (cert === undefined || key === undefined || !cert.value || !key.value) {
      // npm sends neither without both.
      notes.push(
        `${(cert ?? key)?.file.label} ${regKey}:${cert === undefined ? "keyfile" : "certfile"} has no ${cert === undefined ? "certfile" : "keyfile"} beside it: no client certificate is presented to ${regKey}`,
      );
      continue;
    }
    // npm-registry-fetch reads the value with fs.readFileSync as it is (no config type
    // resolves it): a relative path is read from npm's working directory, which is safe-npm's.
    const expand = (path: string): string =>
      path.startsWith("~/")
        ? `${home}/${path.slice(2)}`
        : isAbsolute(path)
          ? path
          : resolve(cwd, path);
    byKey.set(regKey, {
      certfile: expand(cert.value),
      keyfile: expand(key.value),
      source: `${cert.file.label} ${regKey}:certfile/keyfile`,
    });
  }
  return { byKey, notes };
}

/**
 * The nerf-dart key whose certificate an https URL gets: the URL's `//host[:port]/path`, walked
 * up one segment at a time (as npm-registry-fetch's regFromURI), or null. Never for plain http.
 */
export function clientCertKeyFor(keys: Iterable<string>, url: URL): string | null {
  if (url.protocol !== "https:") return null;
  const known = new Set(keys);
  let regKey = `//${url.host}${url.pathname}`;
  while (regKey.length > 2) {
    if (known.has(regKey)) return regKey;
    regKey = regKey.replace(/([^/]+|\/)$/, "");
  }
  return null;
}
