/**
 * The per-user local CA of the registry gateway: the proxy terminates TLS for registry hosts with
 * leaf certificates this CA signs, and only its certificate goes into the sandbox. The key stays
 * on the host, in `$XDG_STATE_HOME/safe-npm/ca/local-ca.pem` (key and certificate in one 0600
 * file, so that two first runs at once cannot pair one's key with the other's certificate).
 *
 * Opening an existing CA needs node:crypto only. Making certificates needs @peculiar/x509 (in
 * ca-issue.ts), whose code takes a few hundred milliseconds to load on a busy machine: leaves
 * are kept on disk beside the CA (`leaves/`, 0600, a week), so it loads only when the CA or a
 * leaf must be made.
 */
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { isIP } from "node:net";
import { dirname, join } from "node:path";
import type tls from "node:tls";
import { SafeNpmError } from "../errors.js";
import { leafContext } from "./leafcontext.js";

export const CA_FILE = "local-ca.pem";
const DAY = 24 * 60 * 60 * 1000;
/** The CA is replaced when less than 30 days of its ten years remain. */
const CA_RENEW_BEFORE = 30 * DAY;

export interface LocalCa {
  /** The CA certificate (PEM): the only part that goes into the sandbox. */
  certificate: string;
  /** `<dir>/local-ca.pem` (key and certificate; never bound inside). */
  path: string;
  /** A server context for `host` (a DNS name or an IP address), issued once per run. */
  contextFor(host: string): Promise<tls.SecureContext>;
  /** The leaf certificate `contextFor(host)` presents (PEM), for tests and diagnostics. */
  leafFor(host: string): Promise<string>;
}

/**
 * Opens the CA in `dir`, creating dir (0700) and CA on first need. Refuses a dir or file that
 * is a link, not owned by this user, or readable by others: the key would not be ours alone.
 */
export async function openLocalCa(dir: string, now: Date = new Date()): Promise<LocalCa> {
  const uid = process.getuid?.() ?? 0;
  checkDir(dir, uid);
  const path = join(dir, CA_FILE);
  let pem = readCaFile(path, uid);
  let ca = pem === null ? null : parseCa(pem, path);
  if (ca === null || ca.notAfter.getTime() - now.getTime() < CA_RENEW_BEFORE) {
    const { createCa } = await import("./ca-issue.js");
    pem = await createCa(now);
    // First run: link() creates the name only if no concurrent run did; then use theirs.
    // Renewal: rename() replaces the old one.
    const tmp = join(dir, `.${CA_FILE}.${process.pid}.${randomBytes(4).toString("hex")}`);
    writeFileSync(tmp, pem, { mode: 0o600, flag: "wx" });
    try {
      if (ca === null) {
        try {
          linkSync(tmp, path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
          pem = readCaFile(path, uid);
        }
      } else {
        renameSync(tmp, path);
      }
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // renamed away
      }
    }
    ca = pem === null ? null : parseCa(pem, path);
    if (ca === null) throw badCa(path, "it disappeared while being created");
  }
  return issuer(ca, path, now, uid);
}

interface ParsedCa {
  certificate: string;
  key: string;
  notAfter: Date;
}

function issuer(ca: ParsedCa, path: string, now: Date, uid: number): LocalCa {
  let module: Promise<typeof import("./ca-issue.js")> | null = null;
  const leaves = new Map<string, Promise<{ cert: string; context: tls.SecureContext }>>();
  let keys: Promise<unknown> | null = null;
  const caCert = new X509Certificate(ca.certificate);
  const cacheDir = join(dirname(path), "leaves");
  const leaf = (host: string) => {
    let entry = leaves.get(host);
    if (entry === undefined) {
      const file = join(cacheDir, `${host.replace(/[^a-z0-9.-]/gi, "_")}.pem`);
      const cached = cachedLeaf(caCert, file, host, now, uid);
      if (cached !== null) {
        entry = Promise.resolve(cached);
      } else {
        module ??= import("./ca-issue.js");
        entry = module.then(async ({ leafKeys, issueLeaf }) => {
          // One leaf key per run: no reason to vary it between hosts.
          keys ??= leafKeys();
          const issued = await issueLeaf(ca, host, keys as ReturnType<typeof leafKeys>, now);
          cacheLeaf(cacheDir, file, `${issued.key}${issued.cert}`);
          return issued;
        });
      }
      leaves.set(host, entry);
    }
    return entry;
  };
  return {
    certificate: ca.certificate,
    path,
    contextFor: async (host) => (await leaf(host)).context,
    leafFor: async (host) => (await leaf(host)).cert,
  };
}

/**
 * A leaf from the disk cache (`<ca dir>/leaves/<host>.pem`, key and certificate, 0600): loading
 * @peculiar/x509 to issue one costs more than a whole run's other start-up. Used only when it
 * is ours, signed by this CA, names `host`, matches its key and has a day left; else null.
 */
function cachedLeaf(
  caCert: X509Certificate,
  file: string,
  host: string,
  now: Date,
  uid: number,
): { cert: string; context: tls.SecureContext } | null {
  try {
    const text = readCaFile(file, uid);
    if (text === null) return null;
    const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(text)?.[0];
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
    if (key === undefined || pem === undefined) return null;
    const cert = new X509Certificate(pem);
    const bare = host.replace(/^\[|\]$/g, "");
    const names = isIP(bare) === 0 ? cert.checkHost(bare) : cert.checkIP(bare);
    if (
      names === undefined ||
      !cert.checkIssued(caCert) ||
      !cert.verify(caCert.publicKey) ||
      new Date(cert.validTo).getTime() - now.getTime() < DAY ||
      !cert.checkPrivateKey(createPrivateKey(key))
    ) {
      return null;
    }
    return { cert: pem, context: leafContext(key, pem) };
  } catch {
    return null;
  }
}

/** Best effort: a leaf that cannot be cached is issued again next run. */
function cacheLeaf(dir: string, file: string, pem: string): void {
  try {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") return;
    }
    const st = lstatSync(dir);
    if (st.isSymbolicLink() || !st.isDirectory()) return;
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(tmp, pem, { mode: 0o600, flag: "wx" });
    renameSync(tmp, file);
  } catch {
    // not cached
  }
}

function parseCa(pem: string, path: string): ParsedCa {
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)?.[0];
  const certificate = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (key === undefined || certificate === undefined) {
    throw badCa(path, "it holds no key or certificate");
  }
  try {
    const cert = new X509Certificate(certificate);
    // The pair must match, and be a CA.
    if (!cert.ca || !cert.checkPrivateKey(createPrivateKey(key))) {
      throw new Error("key and certificate do not match");
    }
    return { certificate: `${certificate}\n`, key: `${key}\n`, notAfter: new Date(cert.validTo) };
  } catch (error) {
    throw badCa(path, (error as Error).message);
  }
}

function checkDir(dir: string, uid: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw badCa(dir, `cannot create it (${(error as NodeJS.ErrnoException).code})`);
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw badCa(dir, "it is not a directory");
  if (st.uid !== uid) throw badCa(dir, `it belongs to uid ${st.uid}, not to you`);
  if ((st.mode & 0o077) !== 0) {
    throw badCa(dir, `others can reach it (mode ${(st.mode & 0o777).toString(8)})`, "chmod 700");
  }
}

/** The CA file's text, or null when there is none. Never through a link, never a FIFO. */
function readCaFile(path: string, uid: number): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw badCa(path, code === "ELOOP" ? "it is a symbolic link" : `cannot read it (${code})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw badCa(path, "it is not a regular file");
    if (st.uid !== uid) throw badCa(path, `it belongs to uid ${st.uid}, not to you`);
    if ((st.mode & 0o077) !== 0) {
      throw badCa(path, `others can read it (mode ${(st.mode & 0o777).toString(8)})`, "chmod 600");
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

function badCa(path: string, why: string, fix?: string): SafeNpmError {
  return new SafeNpmError("BAD_LOCAL_CA", `safe-npm's local CA at ${path} cannot be used: ${why}`, {
    hint: fix
      ? `${fix} ${path}, or remove it to let safe-npm create a new one`
      : `remove ${path} to let safe-npm create a new one (it holds nothing but safe-npm's own CA)`,
  });
}
