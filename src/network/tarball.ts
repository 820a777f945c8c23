/**
 * PURE: the `package.json` files a package tarball holds, read from its bytes (gzip, then tar),
 * so a publish upload can be compared with the package read on the host. Every entry whose path,
 * after its first component, is `package.json` counts: npm (pacote), pnpm, yarn and bun extract
 * a tarball with the first component stripped whatever its name (`package/` by convention), and
 * a later entry of the same path replaces an earlier one, so each must agree.
 *
 * Understood: ustar and GNU headers, the ustar `prefix`, GNU long names (`L`), and pax extended
 * headers (`x`: `path`, `size`); a global pax header (`g`) is skipped. Anything malformed is an
 * error, never a guess.
 */
import { gunzipSync } from "node:zlib";

/** The most a tarball may unpack to here (a gzip bomb must not exhaust the host's memory). */
export const MAX_UNPACKED = 256 * 1024 * 1024;

/** The text of each entry that is the package's `package.json`, in order; or why it cannot be read. */
export function tarballManifests(gzipped: Buffer, maxUnpacked = MAX_UNPACKED): string[] | string {
  let tar: Buffer;
  try {
    tar = gunzipSync(gzipped, { maxOutputLength: maxUnpacked });
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
      ? `it unpacks to more than ${maxUnpacked} bytes`
      : "it is not gzip";
  }
  const out: string[] = [];
  let offset = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let paxSize: number | null = null;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    // Zero blocks end the archive for some readers, but node-tar (npm's, pacote's) takes a lone
    // one as a warning and reads on: every header after one is checked too, so no reader can
    // find a package.json this check did not see.
    if (header.every((b) => b === 0)) {
      offset += 512;
      continue;
    }
    if (!checksumOk(header)) return "a tar header's checksum is wrong";
    const type = String.fromCharCode(header[156] ?? 0);
    const headerSize = octal(header.subarray(124, 136));
    if (headerSize === null) return "a tar header's size is malformed";
    const size = paxSize ?? headerSize;
    const dataStart = offset + 512;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) return "a tar entry runs past the end";
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = cString(data);
      continue;
    }
    if (type === "x") {
      const pax = paxRecords(data);
      if (pax === null) return "a pax header is malformed";
      paxPath = pax.get("path") ?? null;
      const paxSizeText = pax.get("size");
      paxSize = paxSizeText === undefined ? null : Number(paxSizeText);
      if (paxSize !== null && !(Number.isSafeInteger(paxSize) && paxSize >= 0))
        return "a pax header's size is malformed";
      continue;
    }
    if (type === "g") continue;
    const prefix = cString(header.subarray(345, 500));
    const short = cString(header.subarray(0, 100));
    const path = paxPath ?? longName ?? (prefix === "" ? short : `${prefix}/${short}`);
    longName = null;
    paxPath = null;
    paxSize = null;
    // Regular files ("0", NUL, and "7" contiguous) only: a link named package.json is refused.
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.length === 2 && parts[1] === "package.json") {
      if (type !== "0" && type !== "\0" && type !== "7")
        return `${path} in the tarball is not a regular file`;
      out.push(data.toString("utf8"));
    }
  }
  return out;
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString("utf8");
}

/** A tar number field: octal text (NUL or space terminated), or GNU base-256 (high bit set). */
function octal(field: Buffer): number | null {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    return Number.isSafeInteger(value) ? value : null;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : null;
}

function checksumOk(header: Buffer): boolean {
  const stored = octal(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  return stored === sum;
}

/** `<length> <key>=<value>\n` records. */
function paxRecords(data: Buffer): Map<string, string> | null {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break;
    const space = data.indexOf(0x20, at);
    if (space === -1) return null;
    const length = Number(data.subarray(at, space).toString("latin1"));
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > data.length)
      return null;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq === -1) return null;
    out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}
