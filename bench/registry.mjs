// A fixture package tree and a small static npm registry for the benchmark (bench/run.mjs).
// Plain ESM, Node built-ins only; nothing here touches the network beyond 127.0.0.1.
//
//   const fixture = generateFixture();              // deterministic: same tree every run
//   const registry = await startRegistry(fixture);  // http://127.0.0.1:<random port>/
//   (or with { tls: { key, cert } }: https://localhost:<port>/)
//   … registry.stats() / registry.close()
//
// Or standalone, to poke at it: `node bench/registry.mjs` prints its URL and serves until Ctrl-C.
//
// The tree is generated, not copied from fixtures/: 155 names, 143 of them reachable from the
// project's 18 direct dependencies; 14 published in two majors that different dependents ask for
// (so npm nests some copies: ~150 packages installed); every seventh name scoped; shared
// dependencies; chains 11 packages deep; a few bins and a few trivial `postinstall: node -e 0`
// scripts. Tarballs are real gzipped ustar archives (package/…) built in memory; packuments carry
// dist.tarball, dist.integrity (sha512) and dist.shasum like the public registry's.
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

// ---- tar --------------------------------------------------------------------------------------

/** One 512-byte ustar header for a regular file. */
function tarHeader(name, size, mode = 0o644) {
  const h = Buffer.alloc(512);
  const put = (text, offset, length) => h.write(text, offset, length, "utf8");
  const octal = (n, length) => `${n.toString(8).padStart(length - 1, "0")}\0`.slice(0, length);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(size, 12), 124, 12);
  put(octal(499162500, 12), 136, 12); // npm pack's fixed mtime (1985-10-26)
  put("        ", 148, 8); // checksum placeholder: eight spaces while summing
  put("0", 156, 1); // regular file
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return h;
}

/** A .tgz of `files` ({ path: content }) under `package/`, as npm pack lays it out. */
export function packTarball(files) {
  const parts = [];
  for (const [path, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    const mode = path.startsWith("bin/") ? 0o755 : 0o644;
    parts.push(tarHeader(`package/${path}`, data.length, mode), data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

// ---- fixture ----------------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so the tree is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "ansi array async buffer cache chalk color debug deep diff emit env escape event fast fetch " +
  "glob graph hash http iter json lazy list lodash map merge mime minimatch ms object once " +
  "parse path pick queue range regex retry safe semver signal slice stream string strip style " +
  "supports tiny trim type uri util wrap"
).split(" ");

/**
 * The package tree: `packages` (name → [{ version, dependencies, bin?, postinstall? }]), the
 * project's own `dependencies` and an `allowScripts` policy naming the packages with scripts.
 * Names are a DAG by index — package i depends only on packages with a larger index — so there
 * are no cycles; most edges go 10–29 indices forward, which makes both chains and shared
 * dependencies.
 */
export function generateFixture({ names = 155, seed = 150, topLevel = 18 } = {}) {
  const random = prng(seed);
  const pick = (n) => Math.floor(random() * n);
  const list = [];
  for (let i = 0; i < names; i++) {
    const word = `${WORDS[i % WORDS.length]}-${WORDS[(i * 7 + 3) % WORDS.length]}`;
    // Every seventh name is scoped, as a real tree has @types/…, @babel/… and the like.
    list.push(i % 7 === 3 ? `@bench/${word}-${i}` : `bench-${word}-${i}`);
  }
  // Names published in two majors; dependents choose one, so both end up installed somewhere.
  const twoMajors = new Set();
  while (twoMajors.size < 14) twoMajors.add(topLevel + pick(names - topLevel));
  const majorsOf = (i) => (twoMajors.has(i) ? [1, 2] : [1]);
  const rangeFor = (j) => {
    const majors = majorsOf(j);
    return `^${majors[pick(majors.length)]}.0.0`;
  };
  const packages = new Map();
  for (let i = 0; i < names; i++) {
    const versions = [];
    for (const major of majorsOf(i)) {
      const dependencies = {};
      // The last 25 names are leaves; the others depend on 1–4 later names.
      const count = i >= names - 25 ? 0 : 1 + pick(4);
      for (let k = 0; k < count; k++) {
        // Mostly a little further on (chains up to a dozen deep), sometimes anywhere after
        // (shared dependencies).
        const j = random() < 0.7 ? i + 10 + pick(20) : i + 1 + pick(names - i - 1);
        if (j < names) dependencies[list[j]] = rangeFor(j);
      }
      // Every major also has a newer minor/patch, so ranges resolve to the latest of several.
      for (const version of [`${major}.0.0`, `${major}.${1 + pick(3)}.${pick(5)}`]) {
        versions.push({
          version,
          dependencies,
          bin: i % 23 === 5 ? list[i].replace(/^@bench\//, "") : undefined,
          postinstall: i % 29 === 11,
        });
      }
    }
    packages.set(list[i], versions);
  }
  const dependencies = {};
  for (let i = 0; i < topLevel; i++) dependencies[list[i]] = rangeFor(i);
  // npm 11's allowScripts policy for the project's package.json: the scripted packages are
  // approved, as a maintained project would have them, so npm runs them without a warning.
  const allowScripts = {};
  for (const [name, versions] of packages)
    if (versions.some((v) => v.postinstall)) allowScripts[name] = true;
  return { packages, dependencies, allowScripts };
}

/** The files of one package version. */
function packageFiles(name, { version, dependencies, bin, postinstall }) {
  const manifest = {
    name,
    version,
    description: `bench fixture ${name}`,
    main: "index.js",
    license: "MIT",
    ...(bin === undefined ? {} : { bin: { [bin]: "bin/cli.js" } }),
    ...(postinstall ? { scripts: { postinstall: "node -e 0" } } : {}),
    dependencies,
  };
  const deps = Object.keys(dependencies);
  const files = {
    "package.json": `${JSON.stringify(manifest, null, 2)}\n`,
    "index.js":
      `"use strict";\n${deps.map((d, k) => `const d${k} = require(${JSON.stringify(d)});\n`).join("")}` +
      `module.exports = function ${"f"}(x) {\n  return [${JSON.stringify(name)}, x${deps.map((_, k) => `, d${k}`).join("")}];\n};\n`,
    "lib/util.js": `"use strict";\n// ${name}@${version}\n${"exports.noop = () => {};\n".repeat(40)}`,
    "README.md": `# ${name}\n\n${`A fixture package for the safe-npm benchmark. `.repeat(30)}\n`,
    LICENSE: `MIT License\n\nCopyright (c) bench\n\n${"Permission is hereby granted, free of charge. ".repeat(20)}\n`,
  };
  if (bin !== undefined) files["bin/cli.js"] = `#!/usr/bin/env node\nrequire("../index.js")(0);\n`;
  return { manifest, files };
}

// ---- registry ---------------------------------------------------------------------------------

/**
 * Serves `fixture` on 127.0.0.1:<port> (0: a random free port) like a registry does: packuments
 * at /<name> (scoped: /@scope%2fname or /@scope/name), tarballs at /<name>/-/<base>-<v>.tgz, with
 * ETags (304 on If-None-Match) and the public registry's cache headers. Counts requests and TCP
 * connections, so the benchmark can tell what a warm `npm ci` still asks the registry for.
 */
export async function startRegistry(fixture, { port = 0, tls = null } = {}) {
  // `tls` ({ key, cert } for localhost): https, for the registry gateway's benchmark.
  const server = tls === null ? http.createServer() : https.createServer(tls);
  const address = await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server.address()));
  });
  const url =
    tls === null ? `http://127.0.0.1:${address.port}/` : `https://localhost:${address.port}/`;

  const docs = new Map(); // name → { body, etag }
  const tarballs = new Map(); // pathname → { body, etag }
  const etag = (buffer) => `"${createHash("sha1").update(buffer).digest("hex")}"`;
  let installed = 0;
  for (const [name, versions] of fixture.packages) {
    const base = name.replace(/^@[^/]+\//, "");
    const doc = { _id: name, name, "dist-tags": {}, versions: {}, time: {} };
    let latest = "0.0.0";
    for (const entry of versions) {
      const { manifest, files } = packageFiles(name, entry);
      const tgz = packTarball(files);
      const path = `/${name}/-/${base}-${entry.version}.tgz`;
      tarballs.set(path, { body: tgz, etag: etag(tgz) });
      doc.versions[entry.version] = {
        ...manifest,
        _id: `${name}@${entry.version}`,
        dist: {
          tarball: new URL(path.slice(1), url).href,
          integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
          shasum: createHash("sha1").update(tgz).digest("hex"),
          fileCount: Object.keys(files).length,
          unpackedSize: Object.values(files).reduce((n, f) => n + Buffer.byteLength(f), 0),
        },
      };
      doc.time[entry.version] = "2024-01-01T00:00:00.000Z";
      if (compareVersions(entry.version, latest) > 0) latest = entry.version;
      installed++;
    }
    doc["dist-tags"].latest = latest;
    const body = Buffer.from(JSON.stringify(doc));
    docs.set(name, { body, etag: etag(body) });
  }

  const stats = { requests: 0, packuments: 0, tarballs: 0, notModified: 0, notFound: 0 };
  let connections = 0;
  const sockets = new Set();
  server.on("connection", (socket) => {
    connections++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("request", (req, res) => {
    stats.requests++;
    const pathname = decodeURIComponent(new URL(req.url ?? "/", url).pathname);
    const tarball = tarballs.get(pathname);
    const doc = tarball === undefined ? docs.get(pathname.slice(1)) : undefined;
    const hit = tarball ?? doc;
    if (hit === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      stats.notFound++;
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":"Not found"}\n');
      return;
    }
    if (tarball !== undefined) stats.tarballs++;
    else stats.packuments++;
    const headers = {
      etag: hit.etag,
      "cache-control":
        tarball !== undefined ? "public, immutable, max-age=31557600" : "public, max-age=300",
      "content-type": tarball !== undefined ? "application/octet-stream" : "application/json",
    };
    if (req.headers["if-none-match"] === hit.etag) {
      stats.notModified++;
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "content-length": hit.body.length });
    res.end(req.method === "HEAD" ? undefined : hit.body);
  });

  return {
    url,
    port: address.port,
    /** Package versions published (packuments hold two or four each). */
    versions: installed,
    names: docs.size,
    /** Counters since start: requests by kind, and TCP connections accepted. */
    stats: () => ({ ...stats, connections }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function compareVersions(a, b) {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fixture = generateFixture();
  const registry = await startRegistry(fixture, { port: Number(process.argv[2] ?? 0) });
  console.log(`${registry.url} · ${registry.names} names, ${registry.versions} versions`);
  console.log(`project dependencies: ${JSON.stringify(fixture.dependencies)}`);
}
