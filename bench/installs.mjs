// The install comparison of the benchmark (bench/run.mjs): for each package manager, the
// manager's frozen install run by safe-npm (registry mode, the default for installs) against
// the same manager run bare, warm and cold, interleaved. Plain ESM, Node built-ins only.
//
// Per manager, in <base>/<id>/:
// - project/: package.json (the fixture's dependencies, `packageManager`, the fields that let
//   dependency scripts run), .npmrc (and .yarnrc.yml for yarn 4) naming the registry, and the
//   lockfile an untimed bare install writes first;
// - bare-home/: HOME (and every XDG dir) of the bare runs, so their caches live there and no
//   ~/.npmrc or user config is read; "cold" removes it first;
// - safe-cache/: XDG_CACHE_HOME of the safe-npm runs, holding the project's private home (its
//   caches); "cold" removes safe-cache/safe-npm/homes first. safe-npm's own HOME is an empty
//   directory (no ~/.npmrc, no user settings).
// Before every timed run the install's output (node_modules, PnP files, install state) is
// removed, untimed. The managers are this repository's devDependencies (npm: the host's), put
// first on PATH under their usual names as the e2e tests do.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median, quantile, ratioCell, selected } from "./lib.mjs";
import { timedRun } from "./timedrun.mjs";

export const TARGET_INSTALL = 1.15; // safe-npm <manager> install ≤ 115 % of the bare manager's

/** A small real dependency tree for --registry (about 100 packages, no install scripts). */
const REAL_DEPENDENCIES = {
  chalk: "4.1.2",
  commander: "11.1.0",
  debug: "4.3.4",
  express: "4.19.2",
  glob: "10.3.10",
  lodash: "4.17.21",
  minimist: "1.2.8",
  semver: "7.6.0",
  uuid: "9.0.1",
  yargs: "17.7.2",
};

const version = (repo, pkg) =>
  JSON.parse(readFileSync(join(repo, "node_modules", pkg, "package.json"), "utf8")).version;

const berryRc = (registry, linker) =>
  [
    `nodeLinker: ${linker}`,
    `npmRegistryServer: "${registry.replace(/\/$/, "")}"`,
    // A registry on 127.0.0.1 speaks plain HTTP; berry refuses that unless whitelisted.
    `unsafeHttpWhitelist: ["${new URL(registry).hostname}"]`,
    "enableTelemetry: false",
    "enableGlobalCache: true",
    "",
  ].join("\n");

/** The managers, by the ids `--only` knows (bench/lib.mjs SECTIONS). */
export function managers(repo) {
  const nm = (...p) => join(repo, "node_modules", ...p);
  const berry = (linker) => ({
    tool: "yarn",
    bin: nm("@yarnpkg", "cli-dist", "bin", "yarn.js"),
    version: version(repo, "@yarnpkg/cli-dist"),
    lockfile: "yarn.lock",
    lock: ["install"],
    install: ["install", "--immutable"],
    files: (registry) => ({ ".yarnrc.yml": berryRc(registry, linker) }),
    // Yarn 4 runs no dependency scripts unless allowed.
    allow: (names) => ({
      dependenciesMeta: Object.fromEntries(names.map((n) => [n, { built: true }])),
    }),
    output: [
      "node_modules",
      ".pnp.cjs",
      ".pnp.loader.mjs",
      ".yarn/install-state.gz",
      ".yarn/unplugged",
    ],
  });
  // pnpm 10 reads its allowlist of dependency scripts from package.json; pnpm 11 and later
  // only from pnpm-workspace.yaml, as `allowBuilds`.
  const pnpm = (bin, v) => ({
    tool: "pnpm",
    bin,
    version: v,
    lockfile: "pnpm-lock.yaml",
    lock: ["install"],
    install: ["install", "--frozen-lockfile"],
    files: (_registry, names) =>
      Number.parseInt(v, 10) >= 11
        ? {
            "pnpm-workspace.yaml": `allowBuilds:\n${names.map((n) => `  ${JSON.stringify(n)}: true\n`).join("")}`,
          }
        : {},
    allow: (names) =>
      Number.parseInt(v, 10) >= 11 ? {} : { pnpm: { onlyBuiltDependencies: names } },
    output: ["node_modules"],
  });
  return [
    {
      id: "npm",
      tool: "npm",
      bin: null,
      version: null,
      lockfile: "package-lock.json",
      lock: ["install", "--no-audit", "--no-fund"],
      install: ["ci", "--no-audit", "--no-fund"],
      files: () => ({}),
      allow: (names) => ({ allowScripts: Object.fromEntries(names.map((n) => [n, true])) }),
      output: ["node_modules"],
    },
    { id: "pnpm", ...pnpm(nm("pnpm", "bin", "pnpm.cjs"), version(repo, "pnpm")) },
    {
      id: "pnpm-latest",
      ...pnpm(nm("pnpm-latest", "pnpm"), version(repo, "pnpm-latest")),
      // pnpm 11+ records a `packageManager` pin in the lockfile by resolving pnpm itself from
      // the registry, which the local one does not publish; a frozen install then refuses the
      // lockfile. The runs name the tool, so no pin is needed.
      pin: false,
    },
    {
      id: "yarn1",
      tool: "yarn",
      bin: nm("yarn", "bin", "yarn.js"),
      version: version(repo, "yarn"),
      lockfile: "yarn.lock",
      lock: ["install", "--non-interactive", "--no-progress"],
      install: ["install", "--frozen-lockfile", "--non-interactive", "--no-progress"],
      files: () => ({}),
      allow: () => ({}),
      output: ["node_modules"],
    },
    { id: "yarn4", ...berry("node-modules") },
    { id: "yarn4-pnp", ...berry("pnp") },
    {
      id: "bun",
      tool: "bun",
      bin: nm("bun", "bin", "bun.exe"),
      version: version(repo, "bun"),
      lockfile: "bun.lock",
      lock: ["install"],
      install: ["install", "--frozen-lockfile"],
      files: () => ({}),
      allow: (names) => ({ trustedDependencies: names }),
      output: ["node_modules"],
    },
  ];
}

/** Runs a command; resolves with its wall time in ms; rejects with its stderr on failure. */
const run = async (file, args, options) => (await timedRun(file, args, options)).ms;

const fresh = (dir) => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
};

/**
 * One manager: lockfile, warm-up, then `rounds` rounds of four interleaved variants (bare and
 * safe-npm, warm and cold; the order rotates per round). Returns the samples, or throws.
 */
async function compare(m, { base, cli, env: baseEnv, registry, rounds, log }) {
  const dir = join(base, m.id);
  const project = join(dir, "project");
  const bareHome = join(dir, "bare-home");
  const safeCache = join(dir, "safe-cache");
  const safeHome = join(dir, "safe-home");
  const binDir = join(dir, "pm-bin");
  for (const d of [project, bareHome, safeCache, safeHome, binDir])
    mkdirSync(d, { recursive: true });
  if (m.bin !== null) symlinkSync(m.bin, join(binDir, m.tool));
  const PATH = `${binDir}:${baseEnv.PATH ?? ""}`;

  const { dependencies, scripted } = registry;
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify(
      {
        name: `bench-${m.id}`,
        version: "1.0.0",
        private: true,
        ...(m.version === null || m.pin === false
          ? {}
          : { packageManager: `${m.tool}@${m.version}` }),
        dependencies,
        ...m.allow(scripted),
      },
      null,
      2,
    )}\n`,
  );
  const files = {
    ".npmrc":
      `registry=${registry.url}\naudit=false\nfund=false\nupdate-notifier=false\n` +
      "omit-lockfile-registry-resolved=false\n",
    ...m.files(registry.url, scripted),
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(project, name), text);
  // safe-npm dials a loopback registry only when the user's own config names it.
  writeFileSync(join(safeHome, ".npmrc"), `registry=${registry.url}\n`);

  // HOME and the XDG dirs of each side: nothing of the user's is read or written.
  const xdg = (home) => ({
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    XDG_CACHE_HOME: join(home, ".cache"),
  });
  const bareEnv = { ...baseEnv, PATH, ...xdg(bareHome) };
  const safeEnv = { ...baseEnv, PATH, ...xdg(safeHome), XDG_CACHE_HOME: safeCache };
  const clean = () => {
    for (const rel of m.output) rmSync(join(project, rel), { recursive: true, force: true });
  };
  const bare = (cold) => {
    clean();
    if (cold) fresh(bareHome);
    return run(m.tool, m.install, { cwd: project, env: bareEnv });
  };
  const safe = (cold) => {
    clean();
    if (cold) rmSync(join(safeCache, "safe-npm", "homes"), { recursive: true, force: true });
    return run(process.execPath, [cli, "--quiet", m.tool, ...m.install], {
      cwd: project,
      env: safeEnv,
    });
  };

  // The lockfile, once, bare (it also fills the bare cache); it must name no other registry.
  const lockMs = await run(m.tool, m.lock, { cwd: project, env: bareEnv });
  const lock = readFileSync(join(project, m.lockfile), "utf8");
  const foreign = ["registry.npmjs.org", "registry.yarnpkg.com", "registry.npmjs.com"].filter(
    (h) => h !== new URL(registry.url).hostname && lock.includes(h),
  );
  if (foreign.length > 0) throw new Error(`${m.lockfile} names ${foreign.join(", ")}`);
  // One untimed safe-npm install: it creates the private home and shows that the run works.
  await safe(false);

  const variants = {
    "bare warm": () => bare(false),
    "safe-npm warm": () => safe(false),
    "bare cold": () => bare(true),
    "safe-npm cold": () => safe(true),
  };
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length];
      samples[name].push(await variants[name]());
    }
    log(`  ${m.id}: round ${round + 1}/${rounds}`);
  }
  clean();
  return { samples, lockMs };
}

/**
 * Runs the selected managers' comparisons and prints one block per manager and a summary
 * table. A manager that fails is reported and skipped; returns whether all ran.
 */
export async function installComparison({ repo, base, cli, env, registryUrl, only, rounds }) {
  const chosen = managers(repo).filter((m) => selected(only, m.id));
  if (chosen.length === 0) return true;
  let registry;
  let close = async () => {};
  if (registryUrl === null) {
    const { generateFixture, startRegistry } = await import("./registry.mjs");
    const fixture = generateFixture();
    const local = await startRegistry(fixture);
    close = () => local.close();
    registry = {
      url: local.url,
      dependencies: fixture.dependencies,
      scripted: Object.keys(fixture.allowScripts ?? {}),
      about: `the generated tree (${local.names} names / ${local.versions} versions, a few \`postinstall: node -e 0\`) on ${local.url}`,
    };
  } else {
    registry = {
      url: registryUrl,
      dependencies: REAL_DEPENDENCIES,
      scripted: [],
      about: `${Object.keys(REAL_DEPENDENCIES).length} real direct dependencies from ${registryUrl} (DNS and the network included)`,
    };
  }
  console.log(
    `\n2. installs: safe-npm <manager> <frozen install> (registry mode) vs the bare manager; ` +
      `${registry.about}; ${rounds} rounds of 4 interleaved variants per manager after an ` +
      "untimed lockfile install (bare) and warm-up (safe-npm); cold = caches removed first",
  );
  const rows = [];
  let ok = true;
  try {
    for (const m of chosen) {
      const label = `${m.id}${m.version === null ? "" : ` ${m.version}`}`;
      try {
        const { samples, lockMs } = await compare(m, {
          base,
          cli,
          env,
          registry,
          rounds,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const med = (n) => median(samples[n]);
        const paired = (a, b) => median(samples[a].map((x, i) => x / samples[b][i]));
        const spread = (a, b) => {
          const r = samples[a].map((x, i) => x / samples[b][i]);
          return `${quantile(r, 0.25).toFixed(2)}–${quantile(r, 0.75).toFixed(2)}`;
        };
        console.log(
          `\n  ${label}: \`${m.tool} ${m.install.join(" ")}\` (lockfile by \`${m.tool} ${m.lock.join(" ")}\`, ${(lockMs / 1000).toFixed(1)} s)`,
        );
        for (const temp of ["warm", "cold"]) {
          const s = `safe-npm ${temp}`;
          const b = `bare ${temp}`;
          console.log(
            `    ${temp}: bare ${(med(b) / 1000).toFixed(2)} s, safe-npm ${(med(s) / 1000).toFixed(2)} s → ` +
              `${ratioCell(med(s) / med(b), TARGET_INSTALL)}; paired ${paired(s, b).toFixed(2)}× (middle half ${spread(s, b)})`,
          );
        }
        rows.push({
          label,
          warm: [med("bare warm"), med("safe-npm warm")],
          cold: [med("bare cold"), med("safe-npm cold")],
        });
      } catch (error) {
        ok = false;
        console.log(`\n  ${label}: FAILED — ${String(error.message ?? error).trim()}`);
        rows.push({ label, warm: null, cold: null });
      }
    }
  } finally {
    await close();
  }
  const cell = (pair) =>
    pair === null
      ? "failed | | "
      : `${(pair[0] / 1000).toFixed(2)} s | ${(pair[1] / 1000).toFixed(2)} s | ${ratioCell(pair[1] / pair[0], TARGET_INSTALL)}`;
  console.log(
    "\n  summary (medians; markdown):\n" +
      "  | manager | bare warm | safe-npm warm | ratio warm | bare cold | safe-npm cold | ratio cold |\n" +
      "  |---|---|---|---|---|---|---|",
  );
  for (const r of rows) console.log(`  | ${r.label} | ${cell(r.warm)} | ${cell(r.cold)} |`);
  return ok;
}
