/**
 * The per-user local CA of the registry gateway: the proxy terminates TLS for registry hosts with
 * leaf certificates this CA signs, and only its certificate goes into the sandbox. The key stays
 * on the host, in `$XDG_STATE_HOME/safe-npm/ca/local-ca.pem` (key and certificate in one 0600
 * file, so that two first runs at once cannot pair one's key with the other's certificate).
 * Leaves are ECDSA P-256, made per host on first use with WebCrypto keys and cached for the run.
 *
 * Loaded only when a registry hook needs the gateway (a lazy chunk: @peculiar/x509 and its
 * dependencies are not on the common start-up path).
 */
import "./reflect-shim.js";
import { randomBytes, type webcrypto, X509Certificate } from "node:crypto";
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
import { join } from "node:path";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { SafeNpmError } from "../errors.js";

export const CA_FILE = "local-ca.pem";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 24 * 60 * 60 * 1000;
/** The CA lives ten years and is replaced when less than 30 days remain. */
const CA_LIFETIME = 3650 * DAY;
const CA_RENEW_BEFORE = 30 * DAY;
/** Leaves live one week (a run is shorter); backdated an hour against clock skew. */
const LEAF_LIFETIME = 7 * DAY;
const BACKDATE = 60 * 60 * 1000;

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
  let ca = pem === null ? null : await parseCa(pem, path);
  if (ca === null || ca.cert.notAfter.getTime() - now.getTime() < CA_RENEW_BEFORE) {
    const fresh = await createCa(now);
    pem = fresh.pem;
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
    ca = pem === null ? null : await parseCa(pem, path);
    if (ca === null) throw badCa(path, "it disappeared while being created");
  }
  return issuer(ca, path, now);
}

interface ParsedCa {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
}

function issuer(ca: ParsedCa, path: string, now: Date): LocalCa {
  const certificate = ca.cert.toString("pem");
  const leaves = new Map<string, Promise<{ cert: string; context: tls.SecureContext }>>();
  // One leaf key per run: WebCrypto key generation is cheap, but there is no reason to vary it.
  let leafKeys: Promise<webcrypto.CryptoKeyPair> | null = null;
  const leaf = (host: string) => {
    let entry = leaves.get(host);
    if (entry === undefined) {
      leafKeys ??= crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
      entry = issueLeaf(ca, host, leafKeys, now);
      leaves.set(host, entry);
    }
    return entry;
  };
  return {
    certificate,
    path,
    contextFor: async (host) => (await leaf(host)).context,
    leafFor: async (host) => (await leaf(host)).cert,
  };
}

async function issueLeaf(
  ca: ParsedCa,
  host: string,
  keys: Promise<webcrypto.CryptoKeyPair>,
  now: Date,
): Promise<{ cert: string; context: tls.SecureContext }> {
  const { publicKey, privateKey } = await keys;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${isIP(host) === 0 ? host : "safe-npm registry gateway"}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter: new Date(now.getTime() + LEAF_LIFETIME),
    signingKey: ca.key,
    publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: isIP(host) === 0 ? "dns" : "ip", value: host },
      ]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  const key = pemOf("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", privateKey));
  const pem = cert.toString("pem");
  return { cert: pem, context: tls.createSecureContext({ key, cert: pem }) };
}

async function createCa(now: Date): Promise<{ pem: string }> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    // The name says whose it is: a user who finds it in a trust store knows where it came from.
    name: `CN=safe-npm local CA (${process.env.USER ?? "user"}), O=safe-npm`,
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter: new Date(now.getTime() + CA_LIFETIME),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      // pathLen 0: it signs leaves only.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const key = pemOf("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { pem: `${key}${cert.toString("pem")}\n` };
}

async function parseCa(pem: string, path: string): Promise<ParsedCa> {
  const keyMatch = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  const certMatch = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (keyMatch === null || certMatch === null) throw badCa(path, "it holds no key or certificate");
  try {
    const der = Buffer.from((keyMatch[1] ?? "").replace(/\s+/g, ""), "base64");
    const key = await crypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"]);
    const cert = new x509.X509Certificate(certMatch[0]);
    // The pair must match: node's own parser checks the key against the certificate.
    const native = new X509Certificate(certMatch[0]);
    if (!native.ca || !native.checkPrivateKey(await privateKeyObject(der))) {
      throw new Error("key and certificate do not match");
    }
    return { cert, key };
  } catch (error) {
    throw badCa(path, (error as Error).message);
  }
}

async function privateKeyObject(der: Buffer) {
  const { createPrivateKey } = await import("node:crypto");
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
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

/** A positive 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, non-negative). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function pemOf(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64.endsWith("\n") ? b64 : `${b64}\n`}-----END ${label}-----\n`;
}
