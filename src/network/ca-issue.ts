/**
 * Certificates for the local CA (ca.ts): the CA itself, and leaves per host. ECDSA P-256 keys
 * from WebCrypto, certificates from @peculiar/x509 — the heavy part, loaded only here.
 */
import "./reflect-shim.js";
import { randomBytes, type webcrypto } from "node:crypto";
import { isIP } from "node:net";
import type tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { leafContext } from "./leafcontext.js";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 24 * 60 * 60 * 1000;
const CA_LIFETIME = 3650 * DAY;
/** Leaves live one week (a run is shorter); backdated an hour against clock skew. */
const LEAF_LIFETIME = 7 * DAY;
const BACKDATE = 60 * 60 * 1000;

/** A new CA: its PKCS#8 key then its certificate, as one PEM text. */
export async function createCa(now: Date): Promise<string> {
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
  return `${key}${cert.toString("pem")}\n`;
}

export function leafKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

/** A leaf for `host` (DNS name or IP address) signed by the CA, and a server context with it. */
export async function issueLeaf(
  ca: { certificate: string; key: string },
  host: string,
  keys: Promise<webcrypto.CryptoKeyPair>,
  now: Date,
): Promise<{ cert: string; key: string; context: tls.SecureContext }> {
  const { publicKey, privateKey } = await keys;
  // IPv6 targets come bracketed (`[::1]`); the certificate names the address.
  const name = host.replace(/^\[|\]$/g, "");
  const caCert = new x509.X509Certificate(ca.certificate);
  const der = Buffer.from(
    ca.key.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, ""),
    "base64",
  );
  const signingKey = await crypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"]);
  const ip = isIP(name) !== 0;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${ip ? "safe-npm registry gateway" : name}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - BACKDATE),
    notAfter: new Date(now.getTime() + LEAF_LIFETIME),
    signingKey,
    publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: ip ? "ip" : "dns", value: name }]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const key = pemOf("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", privateKey));
  const pem = cert.toString("pem");
  return { cert: pem, key, context: leafContext(key, pem) };
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
