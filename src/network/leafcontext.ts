/** The TLS context the gateway serves a leaf certificate with (ca.ts, ca-issue.ts). */
import tls from "node:tls";

/**
 * The context the gateway presents to the sandbox with a leaf. `ca: []` keeps node from loading
 * its whole root store into it (without `ca` it calls addRootCerts(): ~45 ms of CPU on the
 * first context of a process, lib/internal/tls/secure-context.js); a server that asks for no
 * client certificate never uses those roots.
 */
export function leafContext(key: string, cert: string): tls.SecureContext {
  return tls.createSecureContext({ key, cert, ca: [] });
}
