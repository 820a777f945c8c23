/**
 * PURE: whether a request path may carry a registry credential. A credential is bound to its
 * registry's path (`//host/npm/registry/`), matched on the path as the WHATWG URL parser leaves
 * it; the server behind may read the same bytes as another path. Tomcat (Artifactory) drops
 * `;params` from each segment before it resolves dot segments, so `/npm/registry/..;/..;/api/x`
 * is `/api/x` there (Orange Tsai, "Breaking Parser Logic", Black Hat 2018:
 * https://i.blackhat.com/us-18/Wed-August-8/us-18-Orange-Tsai-Breaking-Parser-Logic-Take-Your-Path-Normalization-Off-And-Pop-0days-Out-2.pdf).
 * Other servers decode `%5C` to a separator, decode twice, fold Unicode look-alikes of `.`, or
 * strip trailing dots and spaces (IIS).
 *
 * No package manager sends any of that: package names and versions are URL-safe ASCII
 * (validate-package-name, semver), tarball names are `<name>-<version>.tgz`. So a credential
 * path must, once each segment is percent-decoded, hold only RFC 3986 path characters other than
 * `;` and `%`, and no segment made only of dots (or dots and white space). Case is not checked:
 * folding it keeps a path's depth, and the credential walk is case-sensitive, so a path that
 * differs only in case goes without the credential rather than to another place.
 */

/** Characters a decoded segment may hold: RFC 3986 `pchar` minus `;`, `%` (and `/` of `%2f`). */
const SAFE = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;

/** Why `pathname` (URL.pathname, still percent-encoded) may not carry a credential, or null. */
export function credentialPathRefusal(pathname: string): string | null {
  if (pathname.includes(";")) return `a ";" in the path (${SERVERS})`;
  for (const segment of pathname.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return "a malformed path";
    }
    if (decoded.includes(";")) return `an encoded ";" in the path (${SERVERS})`;
    if (decoded.includes("%")) return "a path encoded twice";
    if (decoded.includes("\\")) return "a backslash in the path, which some servers read as /";
    if (!SAFE.test(decoded)) return "a character in the path that no registry request holds";
    if (decoded.split("/").some((part) => part !== "" && /^\.+$/.test(part)))
      return "a dot segment in the path";
  }
  return null;
}

/**
 * A tarball's place in a registry: `…/<name>/-/<name>-<version>.tgz`, or with a scope after the
 * `-` as GitLab and Verdaccio serve scoped ones (`…/@scope/name/-/@scope/name-1.0.0.tgz`). Takes
 * the path's percent-decoded, non-empty segments. The `-` segment is what servers route
 * tarballs by; a bare `.tgz` suffix is not (a server that ignores a suffix would read
 * `/api/security/apiKey.tgz` as its API).
 */
export function isTarballPath(decoded: readonly string[]): boolean {
  const last = decoded.at(-1) ?? "";
  if (!/\.tgz$/i.test(last)) return false;
  // One `-` segment, and nothing else that starts like the registry's API (`-rev`, `-`).
  if (decoded.filter((s) => s.startsWith("-")).length !== 1) return false;
  const dash = decoded.length - 2;
  if (decoded[dash] === "-") return true;
  return decoded[dash - 1] === "-" && /^@[^/]+$/.test(decoded[dash] ?? "");
}

const SERVERS = "Tomcat, so Artifactory, drops ;… from a segment before resolving ..";
