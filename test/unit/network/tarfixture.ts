/** Builds package tarballs (gzipped ustar) for the publish checks' tests. */
import { gzipSync } from "node:zlib";

export interface TarEntry {
  path: string;
  body: string;
  /** Tar type flag; "0" (a regular file) by default. */
  type?: string;
  /** Write the path into a pax header (`x`) instead of the ustar name field. */
  pax?: boolean;
}

function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

function block(data: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return padded;
}

export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body, "utf8");
    if (entry.pax === true) {
      const record = (len: number) => `${len} path=${entry.path}\n`;
      let len = record(0).length;
      while (record(len).length !== len) len = record(len).length;
      const pax = Buffer.from(record(len), "utf8");
      parts.push(header("PaxHeader/x", pax.length, "x"), block(pax));
      parts.push(header("innocent.txt", body.length, entry.type ?? "0"), block(body));
    } else {
      parts.push(header(entry.path, body.length, entry.type ?? "0"), block(body));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function tgz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(tar(entries));
}

/** A package tarball holding `package/package.json` for name@version, base64. */
export function packageTarball(name: string, version: string): string {
  return tgz([
    { path: "package/package.json", body: JSON.stringify({ name, version }) },
    { path: "package/index.js", body: "module.exports = 1;\n" },
  ]).toString("base64");
}
