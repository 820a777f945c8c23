/**
 * The publish check's tar reading: it must find every package.json that node-tar (npm, pacote,
 * yarn) or another reader would extract, so anything read differently elsewhere is refused.
 * Each trick below is a hand-made tarball; the control reads it with npm's own node-tar and
 * shows that the extraction holds another package.json than the one a naive reading sees.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { tarballManifests } from "../../../src/network/tarball.js";
import { PACKS } from "./packs.js";

interface Header {
  name: string;
  size: number;
  type?: string;
  magic?: string;
  prefix?: string;
  linkname?: string;
  /** Bytes written over the header after the checksum is computed: [offset, latin1 text]. */
  raw?: [number, string][];
  /** A checksum field other than the computed one, as text. */
  checksum?: (sum: number) => string;
  /** Base-256 size (GNU): the high bit set. */
  base256?: boolean;
}

function header(h: Header): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, "utf8");
  b.write("0000644\0", 100);
  b.write("0000000\0", 108);
  b.write("0000000\0", 116);
  if (h.base256) {
    b[124] = 0x80;
    b.writeUInt32BE(h.size, 132);
  } else b.write(`${h.size.toString(8).padStart(11, "0")}\0`, 124);
  b.write("00000000000\0", 136);
  b.write(h.type ?? "0", 156, "latin1");
  if (h.linkname !== undefined) b.write(h.linkname, 157, 100, "utf8");
  b.write(h.magic ?? "ustar\u000000", 257, 8, "latin1");
  if (h.prefix !== undefined) b.write(h.prefix, 345, 155, "utf8");
  for (const [at, text] of h.raw ?? []) b.write(text, at, "latin1");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(h.checksum?.(sum) ?? `${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return b;
}

function entry(h: Omit<Header, "size"> & { size?: number }, body: string | Buffer = ""): Buffer {
  const data = Buffer.from(body);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header({ size: data.length, ...h }), data, pad]);
}

/** A pax record with its own length. */
function record(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (`${len}${body}`.length !== len) len = Buffer.byteLength(`${len}${body}`);
  return `${len}${body}`;
}

const manifest = (name: string, version: string) => JSON.stringify({ name, version });
const GOOD = manifest("victim", "1.0.0");
const EVIL = manifest("other-pkg", "6.6.6");
const tgz = (...parts: Buffer[]) => gzipSync(Buffer.concat([...parts, Buffer.alloc(1024)]));
const good = entry({ name: "package/package.json" }, GOOD);

/** npm beside this node (its node-tar is not a dependency of safe-npm). */
const NPM = [
  join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "package.json"),
  "/usr/lib/node_modules/npm/package.json",
].find((p) => existsSync(p));

/** What npm's node-tar (the one npm and pacote extract with) takes for package/package.json. */
function nodeTar(gz: Buffer): string | null {
  const require = createRequire(NPM as string);
  const tar = require("tar") as {
    Parser: new (options: { onReadEntry: (entry: ReadEntry) => void }) => { end(b: Buffer): void };
  };
  interface ReadEntry {
    path: string;
    on(event: "data", listener: (chunk: Buffer) => void): void;
  }
  let found: string | null = null;
  // The parser is synchronous on a whole buffer: every entry and its body are read by end().
  new tar.Parser({
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on("data", (c) => {
        chunks.push(c);
        if (String(entry.path).split("/").slice(1).join("/") === "package.json")
          found = Buffer.concat(chunks).toString("utf8");
      });
    },
  }).end(gunzipSync(gz));
  return found;
}

describe("tarballManifests: what every manager's pack writes is read", () => {
  it.each(Object.entries(PACKS))("%s pack", (_name, b64) => {
    const found = tarballManifests(Buffer.from(b64, "base64"));
    expect(Array.isArray(found), String(found)).toBe(true);
    expect((found as string[]).map((t) => JSON.parse(t).name)).toEqual([
      "@acme/some-fairly-long-package-name",
    ]);
  });

  it("a pax path, a ustar prefix, directories and a later duplicate are all read", () => {
    const pax = record("path", "package/package.json");
    const found = tarballManifests(
      tgz(
        entry({ name: "package/", type: "5" }),
        good,
        entry({ name: "PaxHeader/x", type: "x" }, pax),
        entry({ name: "innocent.txt" }, EVIL),
        entry({ name: "package.json", prefix: "other" }, EVIL),
      ),
    );
    expect(found).toEqual([GOOD, EVIL, EVIL]);
  });
});

describe("tarballManifests: tar read differently by node-tar or another reader is refused", () => {
  const cases: [string, Buffer, RegExp][] = [
    [
      // node-tar ignores the prefix without `ustar\0` + `00`: it extracts package/package.json
      "GNU magic with a prefix (node-tar drops the prefix)",
      tgz(good, entry({ name: "package/package.json", magic: "ustar  \0", prefix: "zzz" }, EVIL)),
      /not POSIX ustar/,
    ],
    [
      "ustar magic with another version and a prefix",
      tgz(good, entry({ name: "package/package.json", magic: "ustar\u0000  ", prefix: "z" }, EVIL)),
      /not POSIX ustar/,
    ],
    [
      "old GNU N long name (node-tar takes it like L)",
      tgz(
        good,
        entry({ name: "././@LongLink", type: "N" }, "package/package.json\0"),
        entry({ name: "package/readme" }, EVIL),
      ),
      /type N/,
    ],
    [
      "GNU L long name",
      tgz(
        good,
        entry({ name: "././@LongLink", type: "L", magic: "ustar  \0" }, "package/package.json\0"),
        entry({ name: "package/readme", magic: "ustar  \0" }, EVIL),
      ),
      /not POSIX ustar/,
    ],
    [
      "a pax global header (its size applies to every later entry in node-tar)",
      tgz(entry({ name: "g", type: "g" }, record("size", "0")), good),
      /type g/,
    ],
    [
      "a pax size unlike the header's",
      tgz(
        entry({ name: "PaxHeader/x", type: "x" }, record("size", "0")),
        entry({ name: "package/readme" }, entry({ name: "package/package.json" }, EVIL)),
      ),
      /pax size that differs/,
    ],
    [
      "a pax header before a pax header",
      tgz(
        entry({ name: "PaxHeader/a", type: "x" }, record("path", "package/readme")),
        entry({ name: "PaxHeader/b", type: "x" }, record("path", "package/package.json")),
        entry({ name: "x" }, EVIL),
      ),
      /two pax headers/,
    ],
    [
      "a pax value holding a newline (node-tar splits records on newlines)",
      tgz(
        entry({ name: "PaxHeader/a", type: "x" }, record("path", "package/x\n9 a=b")),
        entry({ name: "package/package.json" }, EVIL),
      ),
      /pax header is malformed/,
    ],
    [
      "bytes after a NUL in the pax records",
      tgz(
        entry(
          { name: "PaxHeader/a", type: "x" },
          `${record("comment", "x")}\0\n${record("path", "package/package.json")}`,
        ),
        entry({ name: "package/readme" }, EVIL),
      ),
      /pax header is malformed/,
    ],
    [
      "a pax header without a name (node-tar skips it and reads its body as headers)",
      tgz(entry({ name: "", type: "x" }, entry({ name: "package/package.json" }, EVIL))),
      /pax header without a name/,
    ],
    [
      "a pax header larger than node-tar applies",
      tgz(
        entry(
          { name: "PaxHeader/a", type: "x" },
          record("comment", "x".repeat(1024 * 1024)) + record("path", "package/readme"),
        ),
        entry({ name: "package/package.json" }, EVIL),
      ),
      /larger than tar readers apply/,
    ],
    [
      "a directory with a body (node-tar reads the body as headers)",
      tgz(
        good,
        entry({ name: "package/lib", type: "5" }, entry({ name: "package/package.json" }, EVIL)),
      ),
      /has a body/,
    ],
    [
      "a file whose name ends in / (a directory to node-tar)",
      tgz(good, entry({ name: "package/lib/" }, entry({ name: "package/package.json" }, EVIL))),
      /not a plain relative path/,
    ],
    [
      "a file with a link target (node-tar skips it as invalid)",
      tgz(
        good,
        entry(
          { name: "package/readme", linkname: "x" },
          entry({ name: "package/package.json" }, EVIL),
        ),
      ),
      /target on a non-link/,
    ],
    [
      "bytes after the NUL of the name (node-tar keeps them past a newline)",
      tgz(good, entry({ name: "package/readme", raw: [[20, "\0\nx"]] }, EVIL)),
      /holds bytes after its end/,
    ],
    [
      "a checksum node-tar reads otherwise (its 12-byte field runs into the type)",
      tgz(
        good,
        entry(
          {
            name: "package/x",
            checksum: (sum) => sum.toString(8).padStart(8, "0"),
            type: "0",
          },
          entry({ name: "package/package.json" }, EVIL),
        ),
      ),
      /checksum/,
    ],
    [
      "a base-256 size",
      tgz(good, entry({ name: "package/x", base256: true, size: 0 })),
      /size is malformed/,
    ],
    [
      "PACKAGE.JSON (the same file on a case-insensitive file system)",
      tgz(good, entry({ name: "package/PACKAGE.JSON" }, EVIL)),
      /some file systems take for package.json/,
    ],
    [
      "package.json. (Windows drops the trailing dot)",
      tgz(good, entry({ name: "package/package.json." }, EVIL)),
      /some file systems take for package.json/,
    ],
    [
      "package.json::$DATA (the file itself on NTFS)",
      tgz(good, entry({ name: "package/package.json::$DATA" }, EVIL)),
      /some file systems take for package.json/,
    ],
    [
      "package.json followed by a space (Windows drops it)",
      tgz(good, entry({ name: "package/Package.json " }, EVIL)),
      /some file systems take for package.json/,
    ],
    [
      "./package/package.json (node-tar strips ./ before the first component)",
      tgz(good, entry({ name: "./package/package.json" }, EVIL)),
      /not a plain relative path/,
    ],
    [
      "package//package.json",
      tgz(good, entry({ name: "package//package.json" }, EVIL)),
      /not a plain relative path/,
    ],
    [
      "a backslash (a separator on Windows)",
      tgz(good, entry({ name: "package\\package.json" }, EVIL)),
      /Windows/,
    ],
    [
      "a contiguous file (type 7)",
      tgz(good, entry({ name: "package/package.json", type: "7" }, EVIL)),
      /type 7/,
    ],
    [
      "a link named package.json",
      tgz(entry({ name: "package/package.json", type: "2", linkname: "/etc/passwd" })),
      /not a regular file/,
    ],
  ];
  it.each(cases)("%s", (_what, gz, reason) => {
    const found = tarballManifests(gz);
    expect(typeof found, JSON.stringify(found)).toBe("string");
    expect(found).toMatch(reason);
  });

  it.skipIf(NPM === undefined)(
    "control: node-tar extracts other-pkg@6.6.6 from the tricks aimed at it",
    () => {
      const aimed = [
        "GNU magic with a prefix (node-tar drops the prefix)",
        "old GNU N long name (node-tar takes it like L)",
        "a pax size unlike the header's",
        "a pax header without a name (node-tar skips it and reads its body as headers)",
        "a directory with a body (node-tar reads the body as headers)",
        "a file whose name ends in / (a directory to node-tar)",
        "a file with a link target (node-tar skips it as invalid)",
        "a checksum node-tar reads otherwise (its 12-byte field runs into the type)",
      ];
      for (const what of aimed) {
        const gz = cases.find(([w]) => w === what)?.[1];
        expect(gz, what).toBeDefined();
        expect(nodeTar(gz as Buffer), what).toBe(EVIL);
      }
      expect(nodeTar(tgz(good))).toBe(GOOD);
    },
  );
});
