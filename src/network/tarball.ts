/**
 * PURE: the `package.json` files a package tarball holds, read from its bytes (gzip, then tar),
 * so a publish upload can be compared with the package read on the host. Every entry whose path,
 * after its first component, is `package.json` counts: npm (pacote), pnpm, yarn and bun extract
 * a tarball with the first component stripped whatever its name (`package/` by convention), and
 * a later entry of the same path replaces an earlier one, so each must agree.
 *
 * Tar readers disagree at the edges (node-tar ignores the ustar `prefix` unless the magic is
 * `ustar\0` + `00`, takes an old-GNU `N` header for a long name, ignores a pax header over 1 MiB,
 * reads no body after a directory, skips only the header block of an entry it finds invalid), and
 * a tarball read one way here and another way by whoever installs it could carry an unchecked
 * package.json. So only what every reader reads alike is accepted, which is all that npm, pnpm,
 * yarn (1 and berry) and bun `pack` write: POSIX ustar headers (magic `ustar\0`, version `00`),
 * regular files, directories and links, and pax extended headers (`x`) with well-formed records,
 * each directly before its entry. Anything else (GNU or old magic, `L`/`K`/`N` long names, global
 * `g` headers, other types, a pax `size` other than the header's, a name a case-insensitive or
 * Windows file system would take for `package.json`, …) is refused, never guessed at.
 * node-tar's reading: https://github.com/isaacs/node-tar/blob/main/src/header.ts, parse.ts, pax.ts.
 */
import { gunzipSync } from "node:zlib";

/** The most a tarball may unpack to here (a gzip bomb must not exhaust the host's memory). */
export const MAX_UNPACKED = 256 * 1024 * 1024;

/** node-tar ignores (does not apply) an extended header larger than this (maxMetaEntrySize). */
const MAX_META = 1024 * 1024;

/** Regular file (`0`, or NUL from old writers), hard link, symbolic link, directory. */
const ENTRY_TYPES = new Set(["0", "\0", "1", "2", "5"]);

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
  /** The pending pax header's records: it applies to the entry right after it. */
  let pax: Map<string, string> | null = null;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    // Zero blocks end the archive for some readers, but node-tar (npm's, pacote's) takes a lone
    // one as a warning and reads on: every header after one is checked too, so no reader can
    // find a package.json this check did not see.
    if (header.every((b) => b === 0)) {
      if (pax !== null) return "a pax header is followed by no entry";
      offset += 512;
      continue;
    }
    const problem = headerProblem(header);
    if (problem !== null) return problem;
    const type = String.fromCharCode(header[156] ?? 0);
    const headerSize = octal(header.subarray(124, 136)) as number;
    const dataStart = offset + 512;
    const dataEnd = dataStart + headerSize;
    if (dataEnd > tar.length) return "a tar entry runs past the end";
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(headerSize / 512) * 512;
    if (type === "x") {
      // node-tar skips a header without a name as invalid, and reads its body as headers.
      if (cString(header.subarray(0, 100)) === "" && cString(header.subarray(345, 500)) === "")
        return "a pax header without a name";
      if (pax !== null) return "two pax headers for one entry";
      if (headerSize > MAX_META) return "a pax header is larger than tar readers apply";
      pax = paxRecords(data);
      if (pax === null) return "a pax header is malformed";
      const size = pax.get("size");
      if (size !== undefined && !/^[0-9]+$/.test(size)) return "a pax header's size is malformed";
      continue;
    }
    if (!ENTRY_TYPES.has(type))
      return `a tar entry of type ${describeType(type)}, which no package manager's pack writes`;
    const records = pax;
    pax = null;
    const paxSize = records?.get("size");
    if (paxSize !== undefined && Number(paxSize) !== headerSize)
      return "a pax size that differs from the tar header's";
    const link = type === "1" || type === "2";
    const linkpath = records?.get("linkpath") ?? cString(header.subarray(157, 257));
    if (link !== (linkpath !== "")) return "a tar link without a target, or a target on a non-link";
    const prefix = cString(header.subarray(345, 500));
    const short = cString(header.subarray(0, 100));
    const path = records?.get("path") ?? (prefix === "" ? short : `${prefix}/${short}`);
    const pathProblem = entryPathProblem(path, type);
    if (pathProblem !== null) return pathProblem;
    // Directories and links have no body for node-tar (it reads the next header there).
    if ((type === "5" || link) && headerSize !== 0) return `${path} in the tarball has a body`;
    const parts = path.replace(/\/$/, "").split("/");
    if (parts.length !== 2) continue;
    const base = parts[1] as string;
    if (base === "package.json") {
      if (type !== "0" && type !== "\0") return `${path} in the tarball is not a regular file`;
      out.push(data.toString("utf8"));
    } else if (
      base
        .toLowerCase()
        .replace(/:.*$/, "")
        .replace(/[. ]+$/, "") === "package.json"
    ) {
      // A case-insensitive file system (macOS, Windows), Windows' trailing dots and spaces, or
      // an NTFS stream name (`package.json::$DATA`) extracts it over package.json.
      return `${path} in the tarball, which some file systems take for package.json`;
    }
  }
  if (pax !== null) return "a pax header is followed by no entry";
  return out;
}

/** Why a header block is not one every tar reader reads alike, or null. */
function headerProblem(header: Buffer): string | null {
  if (!checksumOk(header)) return "a tar header's checksum is wrong";
  if (header.subarray(257, 265).toString("latin1") !== "ustar\u000000")
    return "a tar header that is not POSIX ustar (GNU or old tar), which tar readers read differently";
  if (octal(header.subarray(124, 136)) === null) return "a tar header's size is malformed";
  // node-tar cuts a text field at its first NUL but keeps what follows a newline after it.
  for (const [start, end] of [
    [0, 100],
    [157, 257],
    [345, 500],
  ] as const) {
    const field = header.subarray(start, end);
    const nul = field.indexOf(0);
    if (nul !== -1 && field.subarray(nul).some((b) => b !== 0))
      return "a tar header's name field holds bytes after its end";
  }
  return null;
}

/** Why an entry's path is not one every reader places alike, or null. */
function entryPathProblem(path: string, type: string): string | null {
  if (path === "") return "a tar entry without a path";
  if (path.includes("\\") || path.includes("\0"))
    return `${JSON.stringify(path)} in the tarball, which Windows readers split otherwise`;
  // A trailing slash marks a directory (node-tar turns a file with one into a directory).
  const trimmed = type === "5" ? path.replace(/\/$/, "") : path;
  const parts = trimmed.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".."))
    return `${JSON.stringify(path)} in the tarball is not a plain relative path`;
  return null;
}

function describeType(type: string): string {
  const known: Record<string, string> = {
    L: "L (GNU long name)",
    K: "K (GNU long link)",
    N: "N (old GNU long name)",
    g: "g (pax global header)",
    X: "X (old extended header)",
    "7": "7 (contiguous file)",
  };
  return known[type] ?? JSON.stringify(type);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString("utf8");
}

/**
 * A tar number field as octal text (NUL or space terminated). GNU base-256 (high bit set) is
 * refused: no pack writes it for the sizes a tarball here may hold.
 */
function octal(field: Buffer): number | null {
  if (((field[0] ?? 0) & 0x80) !== 0) return null;
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : null;
}

/**
 * The checksum, read both as the field's 8 bytes and as node-tar reads it (12 bytes from 148,
 * cut at the first NUL, parseInt): a header only one of them takes for valid would be skipped
 * (and its body read as headers) by node-tar alone.
 */
function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  const nodeTar = Number.parseInt(
    header.subarray(148, 160).toString("utf8").replace(/\0.*$/, "").trim(),
    8,
  );
  return octal(header.subarray(148, 156)) === sum && nodeTar === sum;
}

/**
 * `<length> <key>=<value>\n` records covering the data exactly. node-tar splits the text on
 * newlines and skips a line whose length is off, so a value holding a newline, a NUL, or bytes
 * after the last record would be read differently there: refused.
 */
function paxRecords(data: Buffer): Map<string, string> | null {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space === -1) return null;
    const lengthText = data.subarray(at, space).toString("latin1");
    if (!/^[1-9][0-9]*$/.test(lengthText)) return null;
    const length = Number(lengthText);
    if (length <= space - at || at + length > data.length || data[at + length - 1] !== 0x0a)
      return null;
    const record = data.subarray(space + 1, at + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq <= 0 || record.includes("\n") || record.includes("\0")) return null;
    out.set(record.slice(0, eq), record.slice(eq + 1));
    at += length;
  }
  return out;
}
