// How many connections each package manager opens through the registry-mode proxy, and why.
//
//   npm run build && node bench/tunnels.mjs [--runs N] [--only npm,pnpm10,…] [--modes direct,bridge,safe,bridge-uncached]
//     [--http] [--lookup-delay MS] [--env K=V]… [--log]
//
// The bench tree (bench/registry.mjs) behind a TLS front on https://localhost:<port>/ (a
// throw-away certificate trusted with NODE_EXTRA_CA_CERTS / cafile), so managers speak CONNECT
// as they do to the public registry and the proxy resolves a name. Per manager, cold (empty
// cache, no lockfile), three ways:
//   direct  the manager talks to the registry itself (no proxy): its own connection count;
//   bridge  the manager run by dist/network/bridge.cjs on the host, with exactly the proxy
//           variables it gets inside, through dist/network/proxy.js: tunnels, lookups;
//   safe    `safe-npm --verbose install` (registry mode), the proxy's report;
//   bridge-uncached  as bridge, but the proxy looks the host up for every dial (as it did
//           before src/network/resolver.ts), for before/after.
// Counts are what matter; times are medians of --runs runs (default 1).
// With --http the registry is plain http://localhost:<port>/ (forwarded requests, no tunnels).
import { spawn } from "node:child_process";
import dns from "node:dns";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateFixture, startRegistry } from "./registry.mjs";
import { makeCertificates, startFront } from "./tlsfixture.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i === -1 ? fallback : args[i + 1];
};
const RUNS = Number(opt("--runs", "1"));
const ONLY = opt("--only", "")?.split(",").filter(Boolean) ?? [];
const MODES = (opt("--modes", "direct,bridge,safe") ?? "").split(",");
const PLAIN = args.includes("--http");
// --lookup-delay MS: every system lookup the proxy makes takes MS longer, as a query to a
// real resolver does (/etc/hosts answers localhost at once).
const DELAY = Number(opt("--lookup-delay", "0"));
// --env K=V (repeatable): extra variables for every run, e.g. a manager setting to try.
const EXTRA = Object.fromEntries(
  args.flatMap((a, i) => (args[i - 1] === "--env" ? [a.split(/=(.*)/s).slice(0, 2)] : [])),
);

const work = mkdtempSync(join(tmpdir(), "safe-npm-tunnels-"));
const node = process.execPath;
const bin = (...p) => join(root, "node_modules", ...p);

// ---- the registry behind a TLS front ---------------------------------------------------------
const fixture = generateFixture();
const registry = await startRegistry(fixture);
const tls = makeCertificates(work, "tunnels CA");
const front = await startFront(registry.url, PLAIN ? null : tls, { keepAliveTimeout: 30_000 });
const url = front.url;
const ca = tls.caPath;

// ---- the managers -----------------------------------------------------------------------------
const berryRc = (linker) =>
  `nodeLinker: ${linker}\nenableTelemetry: false\nnpmRegistryServer: "${url}"\n` +
  `httpsCaFilePath: "@CA@"\nenableGlobalCache: true\nenableImmutableInstalls: false\n`;
const version = (pkg) => JSON.parse(readFileSync(bin(pkg, "package.json"), "utf8")).version;
const MANAGERS = {
  npm: { tool: "npm", bin: null, args: ["install", "--no-audit", "--no-fund"], files: {} },
  pnpm10: {
    tool: "pnpm",
    bin: bin("pnpm", "bin", "pnpm.cjs"),
    pm: `pnpm@${version("pnpm")}`,
    args: ["install"],
    files: {},
  },
  // No packageManager field: pnpm 12 would fetch itself from registry.npmjs.org.
  pnpm12: {
    tool: "pnpm",
    bin: bin("pnpm-latest", "pnpm"),
    args: ["install"],
    files: {},
  },
  yarn1: {
    tool: "yarn",
    bin: bin("yarn", "bin", "yarn.js"),
    pm: `yarn@${version("yarn")}`,
    args: ["install", "--no-lockfile"],
    files: { ".yarnrc": `registry "${url}"\ncafile "@CA@"\n` },
  },
  yarn4: {
    tool: "yarn",
    bin: bin("@yarnpkg", "cli-dist", "bin", "yarn.js"),
    pm: `yarn@${version("@yarnpkg/cli-dist")}`,
    args: ["install"],
    files: { ".yarnrc.yml": berryRc("node-modules") },
  },
  "yarn4-pnp": {
    tool: "yarn",
    bin: bin("@yarnpkg", "cli-dist", "bin", "yarn.js"),
    pm: `yarn@${version("@yarnpkg/cli-dist")}`,
    args: ["install"],
    files: { ".yarnrc.yml": berryRc("pnp") },
  },
  bun: {
    tool: "bun",
    bin: bin("bun", "bin", "bun.exe"),
    pm: `bun@${version("bun")}`,
    args: ["install"],
    files: { "bunfig.toml": `[install]\nregistry = "${url}"\ncafile = "@CA@"\n` },
  },
};

function project(name) {
  const dir = mkdtempSync(join(work, `${name}-`));
  const home = join(dir, "home");
  const proj = join(dir, "project");
  mkdirSync(home);
  mkdirSync(proj);
  writeFileSync(
    join(proj, "package.json"),
    JSON.stringify({
      name: "tunnels",
      version: "1.0.0",
      private: true,
      ...(MANAGERS[name].pm ? { packageManager: MANAGERS[name].pm } : {}),
      dependencies: fixture.dependencies,
    }),
  );
  // The manager first on PATH under its usual name, as a user has it.
  const binDir = join(dir, "bin");
  mkdirSync(binDir);
  if (MANAGERS[name].bin) symlinkSync(MANAGERS[name].bin, join(binDir, MANAGERS[name].tool));
  // The CA inside the project: safe-npm passes neither NODE_EXTRA_CA_CERTS nor /tmp through.
  const projectCa = join(proj, "ca.pem");
  writeFileSync(projectCa, readFileSync(ca));
  writeFileSync(
    join(proj, ".npmrc"),
    `registry=${url}\ncafile=${projectCa}\naudit=false\nfund=false\nupdate-notifier=false\n`,
  );
  // safe-npm dials a loopback registry only when the user's own config names it.
  writeFileSync(join(home, ".npmrc"), `registry=${url}\n`);
  for (const [file, text] of Object.entries(MANAGERS[name].files))
    writeFileSync(join(proj, file), text.replaceAll("@CA@", projectCa));
  return { home, proj, binDir };
}

function env(home, binDir) {
  return {
    PATH: `${binDir}:${process.env.PATH}`,
    HOME: home,
    NODE_EXTRA_CA_CERTS: ca,
    SSL_CERT_FILE: ca,
    COREPACK_ENABLE_STRICT: "0",
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    XDG_CONFIG_HOME: join(home, ".config"),
    ...EXTRA,
  };
}

function run(cmd, cwd, environment) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd[0], cmd.slice(1), {
      cwd,
      env: environment,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // A manager that cannot reach the registry retries for minutes: count that as a failure.
    const timer = setTimeout(() => child.kill("SIGTERM"), 180_000);
    child.on("close", () => clearTimeout(timer));
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) =>
      resolve({ code, out, ms: Number(process.hrtime.bigint() - start) / 1e6 }),
    );
  });
}

const { startProxy } = await import(join(root, "dist", "network", "proxy.js"));
const { parseAllowlist } = await import(join(root, "dist", "network", "allowlist.js"));
const { createResolver } = await import(join(root, "dist", "network", "resolver.js"));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = [];
for (const name of Object.keys(MANAGERS)) {
  if (ONLY.length > 0 && !ONLY.includes(name)) continue;
  // Runs interleaved (every mode once per round), so load on the machine hits all modes alike.
  const samplesOf = new Map(MODES.map((mode) => [mode, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const mode of MODES) {
      const samples = samplesOf.get(mode);
      const { home, proj, binDir } = project(name);
      const cmd = [MANAGERS[name].tool, ...MANAGERS[name].args];
      const f0 = { connections: front.connections(), requests: front.requests() };
      let result;
      let stats = null;
      if (mode === "direct") {
        result = await run(cmd, proj, env(home, binDir));
      } else if (mode === "bridge" || mode === "bridge-uncached") {
        let lookups = 0;
        const uncached = {
          resolve: () => Promise.reject(new Error("unused")),
          forget: () => {},
          lookup: (host, options, callback) => {
            lookups++;
            setTimeout(() => dns.lookup(host, options, callback), DELAY);
          },
          stats: () => ({ lookups, failures: 0 }),
        };
        const proxy = await startProxy({
          allow: parseAllowlist([`localhost:${port}`]),
          resolver:
            mode === "bridge-uncached"
              ? uncached
              : createResolver({
                  lookup: async (host) => {
                    await new Promise((resolve) => setTimeout(resolve, DELAY));
                    return dns.promises.lookup(host, { all: true });
                  },
                }),
        });
        const bridge = [
          node,
          join(root, "dist", "network", "bridge.cjs"),
          proxy.socketPath,
          "0",
          "--",
        ];
        result = await run([...bridge, ...cmd], proj, env(home, binDir));
        stats = proxy.stats();
        await proxy.close();
      } else {
        result = await run(
          [node, join(root, "dist", "cli.cjs"), "--verbose", ...cmd],
          proj,
          env(home, binDir),
        );
      }
      const tunnels = stats?.hosts.reduce((n, h) => n + h.connections, 0);
      const report = /allowed (\d+) to/.exec(result.out);
      const inside = /(\d+) connections? from the sandbox, (\d+) name lookups?/.exec(result.out);
      samples.push({
        // pnpm 12 installs everything, then exits 1 for the tree's unapproved postinstalls.
        ok: result.code === 0 || result.out.includes("ERR_PNPM_IGNORED_BUILDS"),
        ms: result.ms,
        front: front.connections() - f0.connections,
        requests: front.requests() - f0.requests,
        proxied: tunnels ?? (report ? Number(report[1]) : null),
        clients: stats?.clients ?? (inside ? Number(inside[1]) : null),
        lookups: stats?.lookups ?? (inside ? Number(inside[2]) : null),
      });
      if (args.includes("--log"))
        writeFileSync(join(tmpdir(), `tunnels-${name}-${mode}.log`), result.out);
      if (result.code !== 0) console.error(`${name} ${mode} failed:\n${result.out.slice(-1500)}`);
    }
  }
  for (const [mode, samples] of samplesOf) {
    const m = (k) => median(samples.map((s) => s[k] ?? Number.NaN));
    rows.push({
      manager: name,
      mode,
      ok: samples.every((s) => s.ok),
      "registry conns": m("front"),
      requests: m("requests"),
      "proxied conns": m("proxied"),
      "client conns": m("clients"),
      lookups: m("lookups"),
      "wall ms": Math.round(m("ms")),
    });
    console.table(rows.slice(-1));
  }
}
console.log(`\n${PLAIN ? "http" : "https"} registry ${url}; ${RUNS} run(s) each, medians`);
console.table(rows);
front.close();
await registry.close();
rmSync(work, { recursive: true, force: true });
