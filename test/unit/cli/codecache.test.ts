import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseArgs } from "../../../src/cli/args.js";
import {
  asksDryRun,
  codeCacheDir,
  codeCacheName,
  mayBeInProject,
  packCodeCache,
  readCodeCache,
  scriptKey,
  unpackCodeCache,
  writeCodeCache,
} from "../../../src/cli/codecache.js";

let base: string;
let dir: string;
const uid = process.getuid?.() ?? 0;
const data = Buffer.from("compiled code, as V8 would produce it".repeat(20));

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "safe-npm-codecache-"));
  dir = join(base, "safe-npm", "code-cache");
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe("codeCacheDir and codeCacheName", () => {
  it("lives in safe-npm's cache dir: XDG_CACHE_HOME when absolute, else ~/.cache", () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: "/c", HOME: "/h" })).toBe("/c/safe-npm/code-cache");
    expect(codeCacheDir({ XDG_CACHE_HOME: "rel", HOME: "/h" })).toBe(
      "/h/.cache/safe-npm/code-cache",
    );
    expect(codeCacheDir({ HOME: "relative" })).toBeNull();
    expect(codeCacheDir({})).toBeNull();
  });

  it("names a different file for a changed bundle, node or architecture", () => {
    const name = codeCacheName("bundle", "v20.19.0", "x64");
    expect(name).toMatch(/^[0-9a-f]{40}\.bin$/);
    expect(codeCacheName("bundle", "v20.19.0", "x64")).toBe(name);
    expect(codeCacheName("bundle2", "v20.19.0", "x64")).not.toBe(name);
    expect(codeCacheName("bundle", "v22.0.0", "x64")).not.toBe(name);
    expect(codeCacheName("bundle", "v20.19.0", "arm64")).not.toBe(name);
  });
});

describe("packCodeCache and unpackCodeCache: each script's cache under its text's hash", () => {
  it("round-trips several entries, an empty one included", () => {
    const entries = new Map([
      [scriptKey("main"), Buffer.from("main's code")],
      [scriptKey("chunk"), Buffer.from("a chunk's code")],
      [scriptKey("empty"), Buffer.alloc(0)],
    ]);
    const back = unpackCodeCache(packCodeCache(entries));
    expect([...back.keys()]).toEqual([...entries.keys()]);
    for (const [key, value] of entries) expect(back.get(key)?.equals(value)).toBe(true);
    expect(scriptKey("main")).not.toBe(scriptKey("main "));
  });

  it("reads anything else as no entries at all: truncated, overlong, or a bad key", () => {
    const one = packCodeCache(new Map([[scriptKey("main"), Buffer.from("code")]]));
    expect(unpackCodeCache(undefined).size).toBe(0);
    expect(unpackCodeCache(one.subarray(0, one.length - 1)).size).toBe(0);
    expect(unpackCodeCache(Buffer.concat([one, Buffer.from("x")])).size).toBe(0);
    const badKey = Buffer.from(one);
    badKey.write("Z", 0, "latin1");
    expect(unpackCodeCache(badKey).size).toBe(0);
    const long = Buffer.from(one);
    long.writeUInt32BE(0xffffffff, 64);
    expect(unpackCodeCache(long).size).toBe(0);
  });
});

describe("writeCodeCache and readCodeCache", () => {
  it("round-trips, private to the user, and removes other bundles' caches", () => {
    writeCodeCache(dir, "old.bin", data, uid);
    writeCodeCache(dir, "new.bin", data, uid);
    expect(readCodeCache(dir, "new.bin", uid)).toEqual(data);
    expect(readdirSync(dir)).toEqual(["new.bin"]);
    expect(readCodeCache(dir, "old.bin", uid)).toBeUndefined();
  });

  it("refuses a file whose digest does not match (torn or corrupt)", () => {
    writeCodeCache(dir, "a.bin", data, uid);
    const file = join(dir, "a.bin");
    const bytes = readFileSync(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    writeFileSync(file, bytes, { mode: 0o600 });
    expect(readCodeCache(dir, "a.bin", uid)).toBeUndefined();
  });

  it("refuses a cache that belongs to someone else", () => {
    writeCodeCache(dir, "a.bin", data, uid);
    expect(readCodeCache(dir, "a.bin", uid + 1)).toBeUndefined();
  });

  it("refuses a file or a directory others may write", () => {
    writeCodeCache(dir, "a.bin", data, uid);
    chmodSync(join(dir, "a.bin"), 0o620);
    expect(readCodeCache(dir, "a.bin", uid)).toBeUndefined();
    chmodSync(join(dir, "a.bin"), 0o600);
    expect(readCodeCache(dir, "a.bin", uid)).toEqual(data);
    chmodSync(dir, 0o707);
    expect(readCodeCache(dir, "a.bin", uid)).toBeUndefined();
  });

  it("refuses a file or a directory reached through a link", () => {
    writeCodeCache(dir, "a.bin", data, uid);
    symlinkSync(join(dir, "a.bin"), join(dir, "b.bin"));
    expect(readCodeCache(dir, "b.bin", uid)).toBeUndefined();
    const linked = join(base, "linked");
    symlinkSync(dir, linked);
    expect(readCodeCache(linked, "a.bin", uid)).toBeUndefined();
  });

  it("refuses what is not a regular file, and a file too short to hold a digest", () => {
    mkdirSync(join(dir, "d.bin"), { recursive: true, mode: 0o700 });
    expect(readCodeCache(dir, "d.bin", uid)).toBeUndefined();
    writeFileSync(join(dir, "s.bin"), "short", { mode: 0o600 });
    expect(readCodeCache(dir, "s.bin", uid)).toBeUndefined();
    expect(readCodeCache(dir, "missing.bin", uid)).toBeUndefined();
  });

  it("neither reads nor writes below a directory holding a package.json (a project)", () => {
    writeCodeCache(dir, "a.bin", data, uid);
    expect(readCodeCache(dir, "a.bin", uid)).toEqual(data);
    writeFileSync(join(base, "package.json"), "{}");
    expect(mayBeInProject(dir)).toBe(true);
    expect(readCodeCache(dir, "a.bin", uid)).toBeUndefined();
    writeCodeCache(dir, "b.bin", data, uid);
    expect(readdirSync(dir)).toEqual(["a.bin"]);
  });

  it("judges the real path: a link out of a project does not hide it", () => {
    writeFileSync(join(base, "package.json"), "{}");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const outside = mkdtempSync(join(tmpdir(), "safe-npm-codecache-link-"));
    try {
      symlinkSync(dir, join(outside, "cc"));
      expect(mayBeInProject(join(outside, "cc"))).toBe(true);
      expect(mayBeInProject(outside)).toBe(false);
      expect(mayBeInProject(join(outside, "missing"))).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("writes nothing into a directory others may write, and leaves no temporary file", () => {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    writeCodeCache(dir, "a.bin", data, uid);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("asksDryRun", () => {
  // The launcher's scan must agree with the parser on where safe-npm's flags end.
  it.each([
    [["--dry-run", "install"]],
    [["--quiet", "--dry-run", "exec", "--", "true"]],
    [["--network", "full", "--dry-run", "install"]],
    [["--network=full", "--dry-run", "install"]],
    [["--config", "--dry-run", "install"]],
    [["--allow-host", "a.example", "--dry-run", "ci"]],
    [["install", "--dry-run"]],
    [["exec", "--", "npm", "--dry-run"]],
    [["--", "--dry-run"]],
    [["--verbose", "run", "build"]],
  ])("%j", (argv) => {
    const parsed = parseArgs(argv);
    const dry = "dryRun" in parsed && parsed.dryRun === true;
    expect(asksDryRun(argv)).toBe(dry);
  });
});
