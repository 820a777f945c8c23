/**
 * PURE: which requests a registry host accepts from inside the sandbox, and the hook the proxy
 * asks (gateway-hook.ts). A registry is the one host an install can always reach, so it is the
 * way out left: a script could publish a package (readable by anyone afterwards), move a
 * dist-tag, mint a token with a credential it found, or change owners and access. During
 * installs only reading is let through; `safe-npm publish` adds the upload of the package it
 * publishes, and nothing else.
 *
 * The paths come from the registry API the managers use (npm-registry-fetch, libnpmpublish,
 * libnpmaccess, npm-profile; @npmcli/arborist's audit report; yarn 1's and yarn berry's npm
 * plugins; pnpm's @pnpm/audit; bun's install and audit): reads are GETs of package documents
 * (`/<name>`, `/@scope%2fname`, `/@scope/name`) and tarballs (`/<name>/-/<file>.tgz`, or any other
 * URL a package document names, such as GitHub Packages' `/download/@scope/name/…`), below the
 * registry's path; the registry's own API lives under a `-` segment (`/-/whoami`,
 * `/-/npm/v1/tokens`, `/-/package/<name>/dist-tags`, `/<name>/-rev/<rev>`).
 */
import type { RegistryDecision, RegistryHook, RegistryRequest } from "./gateway-hook.js";
import { credentialPathRefusal, isTarballPath } from "./pathbound.js";
import { tarballManifests } from "./tarball.js";

export type RequestMode = "install" | "publish";

/** Audit endpoints, relative to the registry: POSTs of the dependency list, no credential needed. */
const AUDIT_PATHS = [
  // npm 7+ (arborist's audit report), pnpm 12, bun audit, yarn berry 4 `yarn npm audit`
  "-/npm/v1/security/advisories/bulk",
  // pnpm 10, older npm's fallback, yarn berry 2–3
  "-/npm/v1/security/audits/quick",
  // pnpm 10, yarn 1 `yarn audit`
  "-/npm/v1/security/audits",
];

/** Read-only API endpoints a reading command may call: search, ping, the signing keys. */
const READ_API = ["-/v1/search", "-/ping", "-/npm/v1/keys"];

/**
 * A package version's attestations (`-/npm/v1/attestations/<name>@<version>`, the name's scope
 * as its own segment or encoded): read by pnpm 12 for every package it installs (its publish
 * time, for `minimumReleaseAge` and the trust check) and by `npm audit signatures`. Refusing it
 * reported every pnpm 12 install as a run with refused requests.
 */
const ATTESTATIONS = /^-\/npm\/v1\/attestations\/(@[^/]+\/)?[^/@][^/]*@[^/]+$/;

export interface PolicyContext {
  mode: RequestMode;
  /**
   * Publish mode: the package names being published (publishtargets.ts, read on the host before
   * the run). Only these may be uploaded; none when empty.
   */
  publishing?: readonly string[] | undefined;
  /**
   * Publish mode: the registry paths (each ending in `/`) an upload to this URL's host may go
   * under — the path of the registry its credential is paired with. Default `/`.
   */
  uploadBases?: ((url: URL) => readonly string[]) | undefined;
  /**
   * Publish mode: the registries (URLs) the command publishes a package to, by name
   * (credentials.ts publishRegistries): an upload goes under one of them or nowhere.
   */
  publishTo?: ((name: string) => readonly string[]) | undefined;
  /**
   * The paths (each ending in `/`) of the registries the user's own config names on this URL's
   * host: a registry whose own path holds a `-` segment before more of it (GitLab's group-level
   * `/api/v4/groups/<id>/-/packages/npm/`) is judged below it.
   */
  registryBases?: ((url: URL) => readonly string[]) | undefined;
}

/** The decision for one request, before any credential: `null` when allowed, else the reason. */
export function refusal(method: string, url: URL, context: PolicyContext): string | null {
  const upper = method.toUpperCase();
  // Below the registry's own path when that path holds a `-` segment: its API starts there.
  // Only a `-` segment with more of the registry's path after it (`…/-/packages/npm/`): one that
  // ends the path would put the API itself (`/-/`) below it.
  const base = (context.registryBases?.(url) ?? [])
    .filter((b) => {
      const parts = b.split("/").filter((s) => s !== "");
      const dash = parts.findIndex((s) => s.startsWith("-"));
      return url.pathname.startsWith(b) && dash !== -1 && dash < parts.length - 1;
    })
    .sort((a, b) => b.length - a.length)[0];
  const pathname = base === undefined ? url.pathname : url.pathname.slice(base.length - 1);
  const segments = pathname.split("/").filter((s) => s !== "");
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    return "a malformed path";
  }
  // An encoded slash is only ever a scoped name's (`@scope%2fname`): anything else could be
  // decoded by the registry into a path of its API.
  if (
    decoded.some(
      (s) =>
        (s.includes("/") && !/^@[^/]+\/[^/]+$/.test(s)) ||
        s.split("/").some((part) => part === ".." || part === "."),
    )
  )
    return "a malformed path";
  // The registry API lives under a `-` segment; anything starting with `-` is API, not a name.
  const api = decoded.findIndex((s) => s.startsWith("-"));
  const tail = api === -1 ? "" : decoded.slice(api).join("/");
  // The only `-` segment, right before the file (or before its scope).
  const tarball =
    api !== -1 && decoded[api] === "-" && api >= decoded.length - 3 && isTarballPath(decoded);

  if (upper === "GET" || upper === "HEAD") {
    if (url.searchParams.has("write")) return "reading a package document to change it";
    if (api === -1 || tarball) return null;
    if (READ_API.includes(tail) || ATTESTATIONS.test(tail)) return null;
    return `${upper} ${apiName(tail)} is not needed to install`;
  }
  if (upper === "POST") {
    if (AUDIT_PATHS.includes(tail)) return null;
    return `POST ${apiName(tail)} is not needed to install`;
  }
  if (upper === "PUT" && context.mode === "publish" && api === -1) {
    const name = packageName(decoded);
    if (name === null) return `PUT ${url.pathname} is not a package upload`;
    // `?write=true` and the like belong to deprecate, owner and dist-tag edits, not to publish.
    if (url.search !== "") return `PUT ${url.pathname}${url.search} is not a package upload`;
    // Only the forms the managers send (`/name`, `/@scope%2fname`, `/@scope/name`): a trailing
    // slash, an empty segment or another encoding of the name may be another document to the
    // registry, or the same one under a path no check here expects.
    // And directly under the registry's own path: the same host may serve other repositories
    // or its own API at other paths (`/somewhere/else/<name>`), where the credential is not
    // the user's intent.
    const bases = context.uploadBases?.(url) ?? ["/"];
    if (!bases.some((base) => uploadPathExact(url.pathname, base, name)))
      return `PUT ${url.pathname} is not the upload path of ${name} (${bases.map((b) => `${b}${escapedName(name)}`).join(" or ")})`;
    const allowed = context.publishing ?? [];
    if (!allowed.includes(name)) {
      return `publishing ${name}, which is not the package being published (${allowed.join(", ") || "none"})`;
    }
    // To the registry the command publishes it to, not another the user holds a token for (a
    // prepublishOnly putting a private package on a public registry).
    const targets = context.publishTo?.(name);
    if (targets !== undefined && !targets.some((target) => uploadsTo(url, target, name)))
      return `publishing ${name} to ${url.protocol}//${url.host}${url.pathname}, which is not where this command publishes it (${targets.join(" or ")}; --registry or publishConfig.registry choose another)`;
    return null;
  }
  if (upper === "PUT" && api === -1 && packageName(decoded) !== null) return "publishing a package";
  if (upper === "PUT" && tail.startsWith("-rev")) return "unpublishing a version";
  if (upper === "DELETE") return "unpublishing or deleting";
  return `${upper} ${apiName(tail)} is not needed to install`;
}

/** `host:port` as the proxy names targets (credentials.ts's credentialTargets). */
function targetKey(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** A short name for what an API path does, for the refusal reason. */
function apiName(tail: string): string {
  if (tail === "") return "a package document";
  if (/^-\/package\/.*\/dist-tags/.test(tail)) return "dist-tags";
  if (
    /^-\/package\/.*\/(access|collaborators|visibility)/.test(tail) ||
    /^-\/(team|org)\b/.test(tail)
  )
    return "access and owners";
  if (/^-\/npm\/v1\/tokens/.test(tail)) return "tokens";
  if (/^-\/(user|v1\/login|whoami)/.test(tail)) return "login";
  if (/^-rev\//.test(tail)) return "a package revision";
  return `/${tail}`;
}

/**
 * Whether `pathname` is `base` followed by the name exactly as the managers write it: npm and
 * pnpm (libnpmpublish, npm-package-arg's escapedName), yarn 1 and yarn berry send
 * `@scope%2fname`; `%2F` and `@scope/name` are the same document to the registries.
 */
function uploadPathExact(pathname: string, base: string, name: string): boolean {
  if (!name.startsWith("@")) return pathname === `${base}${name}`;
  const [scope, bare] = name.split("/");
  return [`${scope}%2f${bare}`, `${scope}%2F${bare}`, `${scope}/${bare}`].some(
    (form) => pathname === `${base}${form}`,
  );
}

/** Whether `url` is the upload of `name` to the registry at `target` (its scheme, host, path). */
function uploadsTo(url: URL, target: string, name: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    return false;
  }
  if (parsed.protocol !== url.protocol || parsed.host !== url.host) return false;
  const base = parsed.pathname.endsWith("/") ? parsed.pathname : `${parsed.pathname}/`;
  return uploadPathExact(url.pathname, base, name);
}

function escapedName(name: string): string {
  return name.replace("/", "%2f");
}

/** The package a document path names (`name`, `@scope/name`, `@scope%2fname`), or null. */
function packageName(decoded: readonly string[]): string | null {
  const last = decoded.at(-1);
  const before = decoded.at(-2);
  if (last === undefined) return null;
  if (last.startsWith("@") && last.includes("/")) return last.split("/").length === 2 ? last : null;
  if (before?.startsWith("@")) return `${before}/${last}`;
  return last.startsWith("@") ? null : last;
}

export interface HookInput {
  mode: RequestMode;
  /** Canonical `host:port` of the registries (from the config that names them). */
  registryHosts: Iterable<string>;
  /** Canonical `host:port` of the registries safe-npm holds a credential for. */
  credentialHosts: Iterable<string>;
  /** The `Authorization` value for a request, or null (credentials.ts's authorizationFor). */
  authorization: (url: URL, method: string) => string | null;
  publishing?: readonly string[] | undefined;
  /** Publish mode: the registry paths an upload may go under (PolicyContext's). */
  uploadBases?: ((url: URL) => readonly string[]) | undefined;
  /** Publish mode: the registries each package is published to (PolicyContext's). */
  publishTo?: ((name: string) => readonly string[]) | undefined;
  /** The registry paths config names on a URL's host (PolicyContext's). */
  registryBases?: ((url: URL) => readonly string[]) | undefined;
  /** Publish mode: the version each package uploads, by name (its package.json, read on the host). */
  publishVersions?: Readonly<Record<string, string>> | undefined;
  /**
   * Publish mode: the `access` an upload may set, by name (`--access`, else publishConfig.access),
   * besides those in `configAccess`; absent or null is always accepted.
   */
  publishAccess?: Readonly<Record<string, string | null>> | undefined;
  /** Publish mode: `access` values the user's config sets (npmrc `access`, `npmPublishAccess`). */
  configAccess?: readonly string[] | undefined;
  /** Publish mode: the dist-tag the command sets (`--tag`), else `latest`. */
  publishTag?: string | undefined;
}

/** The largest upload document read whole to be checked (the tarball is in it, base64). */
export const MAX_PUBLISH_BODY = 256 * 1024 * 1024;

/**
 * Uploads of one package forwarded per run while the registry refuses them (a 2FA prompt and its
 * retry, a typo in the code): enough for a person, few enough that a script cannot keep trying.
 */
export const MAX_UPLOAD_ATTEMPTS = 3;

/**
 * The hook the proxy asks for every request to a registry host it sees in clear: refused with a
 * reason, or forwarded with the credential added on the host wherever the manager would have
 * sent it (every allowed request whose URL matches, as npm 7+ does). In publish mode the one
 * write let through is the upload of the package being published.
 */
export function registryHook(input: HookInput): RegistryHook {
  const credentialHosts = new Set(input.credentialHosts);
  const hosts = new Set([...input.registryHosts, ...credentialHosts]);
  const context: PolicyContext = {
    mode: input.mode,
    publishing: input.publishing,
    uploadBases: input.uploadBases,
    publishTo: input.publishTo,
    registryBases: input.registryBases,
  };
  // One accepted upload per package per run: a script before the real upload (prepublishOnly)
  // cannot publish twice, nor put another version or document after it. An upload the registry
  // answered with an error (npm's 2FA flow: 401 + `www-authenticate: OTP`, then the same PUT
  // with `npm-otp`) does not use it up, up to MAX_UPLOAD_ATTEMPTS forwarded bodies; one with no
  // answer does (a script hanging up before the answer must not get another try); one in
  // flight holds it, so two at once never both go up. The proxy asks per request, so the
  // count lives here; only a body that passed decideBody counts.
  const uploads = new Map<
    string,
    { attempts: number; inFlight: boolean; accepted: boolean; unanswered: boolean }
  >();
  const state = (name: string) => {
    let found = uploads.get(name);
    if (found === undefined) {
      found = { attempts: 0, inFlight: false, accepted: false, unanswered: false };
      uploads.set(name, found);
    }
    return found;
  };
  const used = (name: string): string | null => {
    const s = uploads.get(name);
    if (s === undefined) return null;
    if (s.accepted) return `a second upload of ${name} in one run (the registry accepted one)`;
    if (s.unanswered)
      return `a second upload of ${name} in one run (one went up and no answer came back, so the registry may have stored it; publish again to retry)`;
    if (s.inFlight) return `an upload of ${name} while another is on its way`;
    if (s.attempts >= MAX_UPLOAD_ATTEMPTS)
      return `another upload of ${name}: the registry refused ${s.attempts} in this run (publish again once the cause is fixed)`;
    return null;
  };
  const refuse = (reason: string): RegistryDecision => ({
    action: "refuse",
    reason: `safe-npm: refused ${reason}`,
  });
  const uploadName = (request: RegistryRequest): string | null =>
    request.method.toUpperCase() === "PUT" && context.mode === "publish"
      ? packageName(
          request.url.pathname
            .split("/")
            .filter((s) => s !== "")
            .map((s) => decodeURIComponent(s)),
        )
      : null;
  return {
    hosts,
    credentialHosts,
    decide(request: RegistryRequest): RegistryDecision {
      const reason = refusal(request.method, request.url, context);
      if (reason !== null) return refuse(reason);
      // On a host a credential is held for, a path the server may resolve elsewhere than the
      // WHATWG parser did is refused outright, not sent on without it: no manager sends one,
      // and the refusal shows in the report.
      const bound = credentialHosts.has(targetKey(request.url))
        ? credentialPathRefusal(request.url.pathname)
        : null;
      if (bound !== null) return refuse(`${bound}: the registry's credential is bound to its path`);
      const name = uploadName(request);
      const spent = name === null ? null : used(name);
      if (spent !== null) return refuse(spent);
      const authorization = input.authorization(request.url, request.method) ?? undefined;
      return {
        action: "forward",
        ...(authorization === undefined ? {} : { authorization }),
        ...(name === null ? {} : { inspectBody: { maxBytes: MAX_PUBLISH_BODY } }),
      };
    },
    decideBody(request: RegistryRequest, body: Buffer): RegistryDecision {
      const name = uploadName(request);
      if (name === null) return refuse(`${request.method} ${request.url.pathname} with a body`);
      // Counted once the body passes: a refused document must not use up the real publish.
      const spent = used(name);
      if (spent !== null) return refuse(spent);
      const access = input.publishAccess?.[name];
      const reason = publishBodyRefusal(
        name,
        body,
        input.publishTag ?? "latest",
        input.publishVersions?.[name],
        [...(access == null ? [] : [access]), ...(input.configAccess ?? [])],
      );
      if (reason !== null) return refuse(reason);
      const s = state(name);
      s.attempts++;
      s.inFlight = true;
      let settled = false;
      const settle = (status: number | null): void => {
        if (settled) return;
        settled = true;
        s.inFlight = false;
        if (status !== null && status >= 200 && status < 300) s.accepted = true;
        // No answer (the client hung up, the connection broke): the body may have gone up
        // whole and been stored, so it uses up the run's one upload. Only a refusal the
        // registry answered frees it.
        if (status === null) s.unanswered = true;
      };
      const authorization = input.authorization(request.url, request.method) ?? undefined;
      return authorization === undefined
        ? { action: "forward", settle }
        : { action: "forward", authorization, settle };
    },
  };
}

/**
 * PURE: why an upload body is not the publish of one version of `name` with its tarball, or null.
 * The document libnpmpublish (npm, pnpm), yarn berry and bun send: `versions` holding exactly
 * one version, `_attachments` exactly that version's tarball, `dist-tags` at most the tag given,
 * pointing at it. Anything else the same PUT could carry is an edit of the package document:
 * deprecating versions, replacing maintainers, moving tags. The tarball must be what it says: a
 * gzipped tar whose package.json names this package and version (not another package's code
 * under this name), and `access` "public" (or any value but "restricted", which only narrows)
 * only where the command or the user's config asked for it (`allowedAccess`), or absent.
 */
export function publishBodyRefusal(
  name: string,
  body: Buffer,
  tag: string,
  expectedVersion?: string,
  allowedAccess: readonly string[] = [],
): string | null {
  let doc: unknown;
  const text = body.toString("utf8");
  try {
    doc = JSON.parse(text);
  } catch {
    return `an upload of ${name} that is not JSON`;
  }
  // JSON.parse keeps a repeated key's last value; a registry's parser may keep the first, and
  // would then store what this check never saw.
  const repeated = duplicateKey(text);
  if (repeated !== null)
    return `an upload of ${name} that names the key ${JSON.stringify(repeated)} twice in one object`;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(doc)) return `an upload of ${name} that is not a package document`;
  if (doc.name !== name || (doc._id !== undefined && doc._id !== name))
    return `an upload to ${name} of a document naming ${String(doc.name)}`;
  for (const key of ["maintainers", "deprecated", "_rev", "users", "time", "owners"])
    if (key in doc) return `an upload of ${name} that changes its ${key}`;
  const versions = isObject(doc.versions) ? Object.entries(doc.versions) : [];
  const [only] = versions;
  if (versions.length !== 1 || only === undefined)
    return `an upload of ${name} with ${versions.length} versions (a publish has one)`;
  const [version, manifest] = only;
  if (!isObject(manifest) || manifest.version !== version || (manifest.name ?? name) !== name)
    return `an upload of ${name} whose version ${version} does not describe itself`;
  // The version is the one package.json held on the host before the run: a script cannot take
  // the run's one upload with another (a `6.6.6` put before the real publish).
  if (expectedVersion !== undefined && version !== expectedVersion)
    return `an upload of ${name}@${version}: its package.json held ${expectedVersion} before the run, so the version changed during the publish (a script inside must not choose what is published); bump the version before safe-npm publish (npm version patch, outside)`;
  if ("deprecated" in manifest) return `an upload of ${name}@${version} that deprecates it`;
  const attachments = isObject(doc._attachments) ? Object.entries(doc._attachments) : [];
  const [file] = attachments;
  const base = name.split("/").pop() ?? name;
  if (
    attachments.length !== 1 ||
    file === undefined ||
    (file[0] !== `${name}-${version}.tgz` && file[0] !== `${base}-${version}.tgz`) ||
    !isObject(file[1]) ||
    typeof file[1].data !== "string" ||
    file[1].data === ""
  )
    return `an upload of ${name}@${version} without exactly its tarball`;
  const tags = isObject(doc["dist-tags"]) ? Object.entries(doc["dist-tags"]) : [];
  if (doc["dist-tags"] !== undefined && !isObject(doc["dist-tags"]))
    return `an upload of ${name} with malformed dist-tags`;
  if (tags.some(([t, v]) => t !== tag || v !== version))
    return `an upload of ${name} that moves dist-tags other than ${tag} → ${version}`;
  // "restricted" only narrows who can read the package (yarn berry sends it for scoped names
  // unless told otherwise): always fine. "public" or anything else must have been asked for.
  if (
    doc.access != null &&
    doc.access !== "restricted" &&
    !allowedAccess.includes(String(doc.access))
  )
    return `an upload of ${name} that sets access ${JSON.stringify(doc.access)}, which the command did not ask for (${allowedAccess.length === 0 ? "no --access" : allowedAccess.join(", ")})`;
  // The tarball holds this package at this version: base64 that decodes, gzip, a tar whose
  // package.json files all name it.
  const data = file[1].data;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data))
    return `an upload of ${name}@${version} whose tarball is not base64`;
  const manifests = tarballManifests(Buffer.from(data, "base64"));
  if (typeof manifests === "string")
    return `an upload of ${name}@${version} whose tarball cannot be read: ${manifests}`;
  if (manifests.length === 0)
    return `an upload of ${name}@${version} whose tarball holds no package.json`;
  for (const text of manifests) {
    let inner: unknown;
    try {
      inner = JSON.parse(text);
    } catch {
      return `an upload of ${name}@${version} whose tarball's package.json is not JSON`;
    }
    const twice = duplicateKey(text);
    if (twice !== null)
      return `an upload of ${name}@${version} whose tarball's package.json names the key ${JSON.stringify(twice)} twice`;
    if (!isObject(inner) || inner.name !== name || inner.version !== version)
      return `an upload of ${name}@${version} whose tarball holds ${isObject(inner) ? `${String(inner.name)}@${String(inner.version)}` : "something else"}`;
  }
  return null;
}

/**
 * PURE: a key that appears twice in one object of the JSON `text` (compared decoded, so `"a"`
 * and `"\\u0061"` are the same), or null. Strings are skipped with indexOf: an upload's tarball is
 * one base64 string of up to 256 MiB. Malformed text gives null (JSON.parse refuses it).
 */
export function duplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return null;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      }
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c) expectKey = stack.at(-1) != null;
  }
  return null;
}
