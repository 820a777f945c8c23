/** The local CA: created once with private permissions, reused, refused when unsafe; leaves verify. */
import { X509Certificate } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CA_FILE, openLocalCa } from "../../../src/network/ca.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "safe-npm-ca-test-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("the local CA", () => {
  it("is created on first need: dir 0700, one 0600 file holding key and certificate", async () => {
    const dir = join(root, "state", "safe-npm", "ca");
    const ca = await openLocalCa(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = join(dir, CA_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, "utf8");
    expect(text).toContain("BEGIN PRIVATE KEY");
    expect(text).toContain(ca.certificate.trim());
    // What goes inside is the certificate alone.
    expect(ca.certificate).not.toContain("PRIVATE KEY");
    const cert = new X509Certificate(ca.certificate);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
  });

  it("is reused by later runs", async () => {
    const dir = join(root, "ca");
    const first = await openLocalCa(dir);
    const second = await openLocalCa(dir);
    expect(second.certificate).toBe(first.certificate);
  });

  it("gives two concurrent first runs the same CA", async () => {
    const dir = join(root, "ca");
    const [a, b] = await Promise.all([openLocalCa(dir), openLocalCa(dir)]);
    expect(a.certificate).toBe(b.certificate);
  });

  it("is renewed when it is about to expire", async () => {
    const dir = join(root, "ca");
    const old = await openLocalCa(dir, new Date(Date.now() - 3640 * 24 * 3600 * 1000));
    const renewed = await openLocalCa(dir);
    expect(renewed.certificate).not.toBe(old.certificate);
    expect((await openLocalCa(dir)).certificate).toBe(renewed.certificate);
  });

  it("refuses a CA dir that is a link", async () => {
    const real = join(root, "elsewhere");
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(root, "ca"));
    await expect(openLocalCa(join(root, "ca"))).rejects.toMatchObject({
      code: "BAD_LOCAL_CA",
      message: expect.stringContaining("not a directory"),
    });
  });

  it("refuses a CA file that is a link (the key would be read from elsewhere)", async () => {
    const dir = join(root, "ca");
    mkdirSync(dir, { mode: 0o700 });
    const other = join(root, "other.pem");
    writeFileSync(other, "x", { mode: 0o600 });
    symlinkSync(other, join(dir, CA_FILE));
    await expect(openLocalCa(dir)).rejects.toMatchObject({
      code: "BAD_LOCAL_CA",
      message: expect.stringContaining("symbolic link"),
    });
  });

  it("refuses a dir or key others can read, naming the fix", async () => {
    const dir = join(root, "ca");
    await openLocalCa(dir);
    chmodSync(join(dir, CA_FILE), 0o644);
    await expect(openLocalCa(dir)).rejects.toMatchObject({
      code: "BAD_LOCAL_CA",
      hint: expect.stringContaining("chmod 600"),
    });
    chmodSync(join(dir, CA_FILE), 0o600);
    chmodSync(dir, 0o755);
    await expect(openLocalCa(dir)).rejects.toMatchObject({
      code: "BAD_LOCAL_CA",
      hint: expect.stringContaining("chmod 700"),
    });
  });

  it("refuses a file that is not a CA key and certificate", async () => {
    const dir = join(root, "ca");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, CA_FILE), "garbage\n", { mode: 0o600 });
    await expect(openLocalCa(dir)).rejects.toMatchObject({ code: "BAD_LOCAL_CA" });
  });
});

describe("leaf certificates", () => {
  it("name the host (DNS or IP) and verify against the CA", async () => {
    const ca = await openLocalCa(join(root, "ca"));
    const caCert = new X509Certificate(ca.certificate);
    const dns = new X509Certificate(await ca.leafFor("registry.example"));
    expect(dns.subjectAltName).toBe("DNS:registry.example");
    expect(dns.checkIssued(caCert)).toBe(true);
    expect(dns.verify(caCert.publicKey)).toBe(true);
    expect(dns.ca).toBe(false);
    expect(dns.checkHost("registry.example")).toBe("registry.example");
    expect(dns.checkHost("evil.example")).toBeUndefined();
    const ip = new X509Certificate(await ca.leafFor("127.0.0.1"));
    expect(ip.subjectAltName).toBe("IP Address:127.0.0.1");
    expect(ip.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(ip.verify(caCert.publicKey)).toBe(true);
  });

  it("are issued once per host per run", async () => {
    const ca = await openLocalCa(join(root, "ca"));
    const [a, b] = await Promise.all([ca.leafFor("r.example"), ca.leafFor("r.example")]);
    expect(a).toBe(b);
    expect(await ca.contextFor("r.example")).toBe(await ca.contextFor("r.example"));
  });

  it("serve a TLS handshake a client trusting only the CA accepts, issued and from the cache", async () => {
    const dir = join(root, "ca");
    const handshake = async (ca: Awaited<ReturnType<typeof openLocalCa>>) => {
      const context = await ca.contextFor("localhost");
      const server = tls.createServer({ SNICallback: (_name, done) => done(null, context) });
      server.on("secureConnection", (socket) => socket.end("ok"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as AddressInfo;
      try {
        return await new Promise<string>((resolve, reject) => {
          const socket = tls.connect({
            port,
            host: "127.0.0.1",
            servername: "localhost",
            ca: ca.certificate,
          });
          let text = "";
          socket.on("data", (d) => (text += d));
          socket.on("end", () => resolve(text));
          socket.on("error", reject);
        });
      } finally {
        server.close();
      }
    };
    expect(await handshake(await openLocalCa(dir))).toBe("ok");
    // The next run reads the leaf from disk.
    expect(await handshake(await openLocalCa(dir))).toBe("ok");
  });

  it("are not signed by a CA the user did not make", async () => {
    const mine = await openLocalCa(join(root, "a"));
    const theirs = await openLocalCa(join(root, "b"));
    const leaf = new X509Certificate(await mine.leafFor("r.example"));
    expect(leaf.verify(new X509Certificate(theirs.certificate).publicKey)).toBe(false);
  });

  it("are kept on disk (0600) and reused by the next run", async () => {
    const dir = join(root, "ca");
    const first = await (await openLocalCa(dir)).leafFor("r.example");
    const file = join(dir, "leaves", "r.example.pem");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "leaves")).mode & 0o777).toBe(0o700);
    expect(await (await openLocalCa(dir)).leafFor("r.example")).toBe(first);
  });

  it("are issued anew when the cached one is not this CA's, or names another host", async () => {
    const dir = join(root, "ca");
    const ca = await openLocalCa(dir);
    const other = await openLocalCa(join(root, "other"));
    await ca.leafFor("r.example");
    // Another CA's leaf planted under this name.
    await other.leafFor("r.example");
    const foreign = readFileSync(join(root, "other", "leaves", "r.example.pem"), "utf8");
    writeFileSync(join(dir, "leaves", "r.example.pem"), foreign, { mode: 0o600 });
    const fresh = new X509Certificate(await (await openLocalCa(dir)).leafFor("r.example"));
    expect(fresh.verify(new X509Certificate(ca.certificate).publicKey)).toBe(true);
    // A leaf for another host under this host's name.
    const mine = readFileSync(join(dir, "leaves", "r.example.pem"), "utf8");
    writeFileSync(join(dir, "leaves", "s.example.pem"), mine, { mode: 0o600 });
    const s = new X509Certificate(await (await openLocalCa(dir)).leafFor("s.example"));
    expect(s.subjectAltName).toBe("DNS:s.example");
  });
});
