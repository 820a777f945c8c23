// safe-npm benchmark (issue 6): `npm run bench` from the repository root (it builds first), or
// `node bench/run.mjs` against an existing dist/. Plain ESM, Node built-ins only.
//
// Every timed variant is started the same way (child_process.spawn, stdin/stdout ignored, stderr
// captured, wall clock from spawn to 'close') and the variants are interleaved in one loop whose
// order rotates each round, so machine noise and cache effects hit all of them alike.
// Medians over ROUNDS runs after WARMUP rounds. Missed targets are printed, never fatal: the exit
// status is non-zero only when something fails to run.
//
// Sections: 1. start-up (safe-npm exec -- true vs bare bwrap vs node -e 0); 2. and 3. `safe-npm ci`
// vs bare `npm ci` on a generated ~150-package tree served by a registry on 127.0.0.1 (see
// bench/registry.mjs), in --network full and in registry mode; 4. peak RSS.
//
// Environment: BENCH_ROUNDS (default 21, at least 5), BENCH_WARMUP (default 2),
// BENCH_CI_ROUNDS (rounds of the npm ci comparison; default min(BENCH_ROUNDS, 15), at least 5),
// BENCH_CI_WARMUP (default 1), BENCH_KEEP_NODE_ENV=1 (keep NODE_OPTIONS / NODE_EXTRA_CA_CERTS
// for the runs). A full `npm run bench` takes about 3 minutes on 2 cores; BENCH_ROUNDS=5 about 1.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repo, "dist", "cli.cjs");
const ROUNDS = Math.max(5, Number(process.env.BENCH_ROUNDS ?? 21));
const WARMUP = Math.max(1, Number(process.env.BENCH_WARMUP ?? 2));
const TARGET_RATIO = 1.25; // safe-npm ≤ 125 % of (node -e 0 + bare bwrap)
const TARGET_RSS_MB = 80;
// Node start-up knobs that would inflate every node run alike and so flatter the ratio
// (NODE_EXTRA_CA_CERTS alone adds ~80 ms to `node -e 0` on the reference machine).
// Removed from the timed runs' environment unless BENCH_KEEP_NODE_ENV=1.
const STRIPPED =
  process.env.BENCH_KEEP_NODE_ENV === "1"
    ? []
    : ["NODE_OPTIONS", "NODE_EXTRA_CA_CERTS"].filter((n) => process.env[n] !== undefined);

/** Runs a command, resolves with its wall time in ms; rejects on a non-zero exit. */
function timed(file, args, { cwd, env, fds = {}, detached = false, capture }) {
  // fds: { fd: Uint8Array | null } — extra descriptors as pipes; data is written (then closed),
  // null means "a pipe we read and discard" (safe-npm's ready byte on fd 3).
  const extra = Object.keys(fds).map(Number);
  const stdio = ["ignore", "ignore", "pipe"];
  for (let fd = 3; fd <= Math.max(2, ...extra); fd++) stdio.push("pipe");
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(file, args, { cwd, env, stdio, detached });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    for (const [fd, data] of Object.entries(fds)) {
      const stream = child.stdio[fd];
      stream.on("error", () => {});
      if (data === null) stream.resume();
      else stream.end(data);
    }
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (capture) capture.stderr = stderr; // capture: an object that receives the stderr text
      if (code === 0) resolve(ms);
      else reject(new Error(`${file} ${args.join(" ")} → ${code ?? signal}\n${stderr}`));
    });
  });
}

/** Splits a POSIX shell-quoted line as produced by safe-npm's shellQuote ('…' and '\''). */
function shellSplit(line) {
  const words = line.match(/(?:[^\s'\\]+|'[^']*'|\\.)+/g) ?? [];
  return words.map((w) => w.replace(/'([^']*)'|\\(.)|([^'\\]+)/g, (_, q, e, p) => q ?? e ?? p));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const verdict = (value, target) => {
  if (value <= target) return "met";
  const by = ((value - target) / target) * 100;
  return `MISSED by ${by.toFixed(by < 10 ? 1 : 0)}%`;
};

/** The q-quantile (0…1) of xs, linear between the nearest ranks. */
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};

// ---- 2 and 3: `safe-npm ci` vs bare `npm ci` ----------------------------------------------------
// A generated tree (bench/registry.mjs: ~150 installed packages, some nested, many shared, chains
// 11 deep, a few bins and `postinstall: node -e 0` scripts) served by a static registry on
// 127.0.0.1:<random port> in this process; the project's .npmrc names it, so registry mode's
// proxy allows exactly that. Nothing reaches any other registry: HOME is an empty dir in the temp
// dir (no ~/.npmrc, no user settings), the lockfile's every `resolved` URL is checked to point at
// the local registry, and both caches live in the temp dir:
// - bare npm: npm_config_cache=<temp>/npm-cache, warmed by the `npm install` that writes the
//   lockfile;
// - safe-npm: its private home under XDG_CACHE_HOME=<temp>/cache, warmed by a first untimed
//   `safe-npm --verbose ci` (which also shows what a cold install sends through the proxy).
// Five variants interleaved, order rotating per round: npm ci, safe-npm ci in full and registry
// mode, and `safe-npm exec -- true` in both modes (each mode's fixed cost, for the breakdown).
const CI_ROUNDS = Math.max(5, Number(process.env.BENCH_CI_ROUNDS ?? Math.min(ROUNDS, 15)));
const CI_WARMUP = Math.max(1, Number(process.env.BENCH_CI_WARMUP ?? 1));
const TARGET_CI_FULL = 1.05; // safe-npm --network full ci ≤ 105 % of npm ci
const TARGET_CI_REGISTRY = 1.1; // safe-npm ci (registry mode) ≤ 110 % of npm ci
const CI_ARGS = ["ci", "--no-audit", "--no-fund"];

async function npmCiComparison({ base, env: baseEnv, row, ms }) {
  const { generateFixture, startRegistry } = await import("./registry.mjs");
  const fixture = generateFixture();
  const registry = await startRegistry(fixture);
  try {
    const project = join(base, "ci-project");
    const home = join(base, "home");
    mkdirSync(project);
    mkdirSync(home);
    writeFileSync(
      join(project, "package.json"),
      `${JSON.stringify(
        {
          name: "bench-ci",
          version: "1.0.0",
          private: true,
          dependencies: fixture.dependencies,
          allowScripts: fixture.allowScripts,
        },
        null,
        2,
      )}\n`,
    );
    writeFileSync(
      join(project, ".npmrc"),
      `registry=${registry.url}\naudit=false\nfund=false\nupdate-notifier=false\n` +
        "omit-lockfile-registry-resolved=false\n",
    );
    const env = { ...baseEnv, HOME: home };
    const npmEnv = { ...env, npm_config_cache: join(base, "npm-cache") };
    const opts = { cwd: project, env };
    const target = new URL(registry.url).host;

    // The lockfile, once, outside the sandbox; it also fills bare npm's cache.
    const lockMs = await timed("npm", ["install", "--no-audit", "--no-fund"], {
      cwd: project,
      env: npmEnv,
    });
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8"));
    const entries = Object.entries(lock.packages ?? {}).filter(([path]) => path !== "");
    const foreign = entries.filter(([, p]) => !String(p.resolved).startsWith(registry.url));
    if (entries.length === 0 || foreign.length > 0)
      throw new Error(`lockfile names other sources: ${foreign.map(([path]) => path).join(", ")}`);
    const nested = entries.filter(([path]) => path.split("node_modules/").length > 2).length;
    const scripted = entries.filter(([, p]) => p.hasInstallScript).length;
    console.log(
      `\n2.–3. safe-npm ci vs npm ci (\`${CI_ARGS.join(" ")}\`), warm caches: ${entries.length} ` +
        `packages (${nested} nested copies, ${scripted} with postinstall \`node -e 0\`) from ` +
        `${registry.names} names / ${registry.versions} versions on ${registry.url}; lockfile by ` +
        `an untimed npm install (${(lockMs / 1000).toFixed(1)} s); ${CI_ROUNDS} rounds after ` +
        `${CI_WARMUP} warm-up, 5 variants interleaved`,
    );

    // safe-npm's first ci: cold private cache, registry mode, --verbose for the proxy's report.
    const before = registry.stats();
    const cold = {};
    const coldMs = await timed(process.execPath, [cli, "--verbose", ...CI_ARGS], {
      ...opts,
      capture: cold,
    });
    const after = registry.stats();
    const coldReport = (cold.stderr ?? "")
      .split("\n")
      .filter((l) => /^safe-npm: (allowed|blocked|refused) /.test(l))
      .map((l) => l.replace(/^safe-npm: /, ""));

    const safe = (args, capture) =>
      timed(process.execPath, [cli, ...args], { ...opts, ...(capture ? { capture } : {}) });
    const regOut = {};
    const variants = {
      "npm ci": () => timed("npm", CI_ARGS, { cwd: project, env: npmEnv }),
      "safe-npm --network full ci": () => safe(["--network", "full", ...CI_ARGS]),
      "safe-npm ci (registry mode)": () => safe(CI_ARGS, regOut),
      "safe-npm --network full exec -- true": () =>
        safe(["--network", "full", "exec", "--", "true"]),
      "safe-npm --network registry exec -- true": () =>
        safe(["--network", "registry", "exec", "--", "true"]),
    };
    const names = Object.keys(variants);
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    const traffic = Object.fromEntries(names.map((n) => [n, { requests: [], connections: [] }]));
    const blocked = new Set();
    for (let round = 0; round < CI_WARMUP + CI_ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length];
        const s0 = registry.stats();
        const t = await variants[name]();
        const s1 = registry.stats();
        if (round < CI_WARMUP) continue;
        samples[name].push(t);
        traffic[name].requests.push(s1.requests - s0.requests);
        traffic[name].connections.push(s1.connections - s0.connections);
        if (name === "safe-npm ci (registry mode)")
          for (const l of (regOut.stderr ?? "").split("\n"))
            if (/^safe-npm: blocked /.test(l)) blocked.add(l);
      }
    }
    const med = (n) => median(samples[n]);
    const paired = (f) => samples[names[0]].map((_, i) => f((n) => samples[n][i]));
    const [npmCi, full, reg, fullExec, regExec] = names;
    const short = (n) => n.replace(/ \(.*\)$/, "");
    const sampleRow = (n) => {
      const s = samples[n];
      row(
        n,
        ms(med(n)),
        `(min ${Math.min(...s).toFixed(0)}, max ${Math.max(...s).toFixed(0)}, n=${s.length})`,
      );
    };
    const ratioRows = (variant, target) => {
      const ratio = med(variant) / med(npmCi);
      row(
        `ratio ${short(variant)} / npm ci`,
        `${ratio.toFixed(3).padStart(7)} ×`,
        `target ≤ ${target} → ${verdict(ratio, target)}`,
      );
      const ratios = paired((x) => x(variant) / x(npmCi));
      row(
        "  per-round ratios (paired)",
        `${median(ratios).toFixed(3).padStart(7)} ×`,
        `median; middle half ${quantile(ratios, 0.25).toFixed(3)}–${quantile(ratios, 0.75).toFixed(3)}`,
      );
    };
    const diff = (label, f, note = "") => row(label, ms(median(paired(f))), note);
    const diffHeader = "   where it goes (medians of per-round differences):";

    console.log("\n2. --network full (both on the host's network)");
    for (const n of [npmCi, full, fullExec]) sampleRow(n);
    ratioRows(full, TARGET_CI_FULL);
    console.log(diffHeader);
    diff("  safe-npm --network full ci − npm ci", (x) => x(full) - x(npmCi));
    diff(
      "  safe-npm's fixed cost",
      (x) => x(fullExec),
      "(--network full exec -- true: node, policy, bwrap)",
    );
    diff(
      "  npm ci itself inside the sandbox",
      (x) => x(full) - x(npmCi) - x(fullExec),
      "(the rest)",
    );

    console.log(`\n3. registry mode (safe-npm ci's default; the proxy allows ${target})`);
    for (const n of [reg, regExec]) sampleRow(n);
    ratioRows(reg, TARGET_CI_REGISTRY);
    // Issue 5's own criterion: what registry mode costs over --network full, same tool.
    const overFull = med(reg) / med(full);
    row(
      "ratio registry mode / --network full",
      `${overFull.toFixed(3).padStart(7)} ×`,
      `target ≤ 1.1 → ${verdict(overFull, 1.1)}; paired median ${median(paired((x) => x(reg) / x(full))).toFixed(3)}`,
    );
    console.log(diffHeader);
    diff("  safe-npm ci (registry) − npm ci", (x) => x(reg) - x(npmCi));
    diff("  registry mode − full mode, ci", (x) => x(reg) - x(full));
    diff(
      "  proxy + bridge set-up and teardown",
      (x) => x(regExec) - x(fullExec),
      "(registry − full, exec -- true)",
    );
    const proxied = median(traffic[reg].requests);
    diff(
      "  traffic through the proxy",
      (x) => x(reg) - x(full) - (x(regExec) - x(fullExec)),
      proxied === 0 ? "(the rest; no request went through the proxy: noise)" : "(the rest)",
    );
    const perRun = (n) =>
      `${median(traffic[n].requests)} req / ${median(traffic[n].connections)} conn`;
    row(
      "registry hits per timed run (median)",
      [npmCi, full, reg].map((n) => `${short(n)}: ${perRun(n)}`).join(" · "),
    );
    row(
      "first safe-npm ci, cold cache (untimed)",
      `${(coldMs / 1000).toFixed(1)} s; registry saw ${after.requests - before.requests} ` +
        `requests on ${after.connections - before.connections} connections from the proxy`,
    );
    for (const line of coldReport) row("  proxy report (--verbose)", line);
    for (const line of blocked) row("  refused in timed runs", line);
  } finally {
    await registry.close();
  }
}

// ---- environment --------------------------------------------------------------------------
const bwrapVersion = spawnSync("bwrap", ["--version"], { encoding: "utf8" });
const fail = (message) => {
  console.error(`bench failed: ${message}`);
  process.exit(1);
};
if (bwrapVersion.status !== 0) fail("`bwrap --version` failed: is bubblewrap installed?");
if (!existsSync(cli)) fail(`${cli} is missing: run \`npm run build\` first`);
console.log(
  `environment: node ${process.version} · ${bwrapVersion.stdout.trim()} · ${availableParallelism()} CPUs · ` +
    `${process.arch} · uid ${process.getuid()} · ${ROUNDS} rounds after ${WARMUP} warm-up` +
    (STRIPPED.length > 0 ? ` · unset for the runs: ${STRIPPED.join(", ")}` : ""),
);

// ---- temp project: a bare package.json (safe-npm needs a project root). XDG_CACHE_HOME points
// inside the temp dir so the private home safe-npm creates is removed with it. -----------------
const base = mkdtempSync(join(tmpdir(), "safe-npm-bench-"));
let failed = false;
try {
  const project = join(base, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), '{ "name": "bench", "version": "0.0.0" }\n');
  const env = { ...process.env, XDG_CACHE_HOME: join(base, "cache") };
  for (const name of STRIPPED) delete env[name];
  // `npm run bench` exports npm's script variables; safe-npm would treat the runs as started from
  // a package.json script (extra env, .bin chain). Drop them: measure the plain command line.
  for (const name of Object.keys(env))
    if (/^npm_/i.test(name) || name === "INIT_CWD") delete env[name];
  const opts = { cwd: project, env };

  // ---- the exact bwrap argv safe-npm would run (dry-run, same stdin ⇒ same terminal mode) ---
  const dry = spawnSync(process.execPath, [cli, "--dry-run", "exec", "--", "true"], {
    ...opts,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (dry.status !== 0) throw new Error(`safe-npm --dry-run failed:\n${dry.stderr}`);
  const lines = dry.stdout.split("\n");
  const line = lines[lines.indexOf("bwrap command:") + 1] ?? "";
  // Trailing `N<(label)` words name the data descriptors safe-npm feeds through pipes.
  const fdWords = /(\s\d+<\([^)]*\))+$/.exec(line)?.[0] ?? "";
  const labels = {};
  for (const m of fdWords.matchAll(/(\d+)<\(([^)]*)\)/g)) labels[m[1]] = m[2];
  const [bwrap, ...bwrapArgs] = shellSplit(line.slice(0, line.length - fdWords.length));
  if (!bwrap?.endsWith("bwrap")) throw new Error(`no bwrap command in:\n${dry.stdout}`);
  // Equivalent data for the bare run: the real seccomp filter (same builder safe-npm uses);
  // small placeholders for --ro-bind-data/--file (sanitised ~/.npmrc, the sandbox marker) — a few
  // hundred bytes either way, so their content does not affect timing. Every other descriptor
  // from 3 up (fd 3: the sandbox's ready byte) is a pipe we drain, as safe-npm does.
  const { buildSeccompFilter } = await import(join(repo, "dist", "seccomp.js"));
  const fds = {};
  const seccompFd = bwrapArgs.includes("--seccomp")
    ? bwrapArgs[bwrapArgs.indexOf("--seccomp") + 1]
    : null;
  const maxFd = Math.max(3, ...Object.keys(labels).map(Number));
  for (let fd = 3; fd <= maxFd; fd++) {
    if (!(fd in labels)) fds[fd] = null;
    else if (String(fd) === seccompFd) fds[fd] = buildSeccompFilter(process.arch);
    else if (/marker/.test(labels[fd]))
      fds[fd] = JSON.stringify({ version: "bench", projectRoot: project, network: "full" });
    else fds[fd] = `# bench placeholder for ${labels[fd]}\n`;
  }

  // ---- timed variants, interleaved ------------------------------------------------------------
  const variants = {
    "safe-npm exec -- true": () => timed(process.execPath, [cli, "exec", "--", "true"], opts),
    "bare bwrap (same argv) true": () => timed(bwrap, bwrapArgs, { ...opts, fds, detached: true }),
    "node -e 0": () => timed(process.execPath, ["-e", "0"], opts),
    "safe-npm --version": () => timed(process.execPath, [cli, "--version"], opts),
    "safe-npm --dry-run exec -- true": () =>
      timed(process.execPath, [cli, "--dry-run", "exec", "--", "true"], opts),
  };
  // One untimed run first: it creates the private home that the bare bwrap argv binds.
  await variants["safe-npm exec -- true"]();
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length]; // rotate the order every round
      const ms = await variants[name]();
      if (round >= WARMUP) samples[name].push(ms);
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(samples[n])]));

  // ---- peak RSS of the safe-npm process -------------------------------------------------------
  // GNU time's %M is ru_maxrss from wait4(): the largest of node and its waited-for children
  // (bwrap, a few MB), i.e. safe-npm's node process. Without /usr/bin/time, a wrapper imports
  // dist/cli.cjs in-process and reports process.resourceUsage().maxRSS at exit.
  const rss = [];
  let rssMethod;
  const rssRuns = Math.max(5, Math.min(ROUNDS, 7));
  for (let i = 0; i < rssRuns; i++) {
    let r;
    if (existsSync("/usr/bin/time")) {
      rssMethod = "/usr/bin/time -f %M";
      r = spawnSync(
        "/usr/bin/time",
        ["-f", "RSSKB=%M", process.execPath, cli, "exec", "--", "true"],
        {
          ...opts,
          encoding: "utf8",
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
    } else {
      rssMethod = "process.resourceUsage().maxRSS in a wrapper importing dist/cli.cjs";
      const wrapper = join(base, "rss-wrapper.mjs");
      writeFileSync(
        wrapper,
        `process.on("exit", () => process.stderr.write("RSSKB=" + process.resourceUsage().maxRSS + "\\n"));\n` +
          `await import(${JSON.stringify(new URL(`file://${cli}`).href)});\n`,
      );
      r = spawnSync(process.execPath, [wrapper, "exec", "--", "true"], {
        ...opts,
        encoding: "utf8",
        stdio: ["ignore", "ignore", "pipe"],
      });
    }
    const kb = /RSSKB=(\d+)/.exec(r.stderr ?? "");
    if (r.status !== 0 || !kb) throw new Error(`peak RSS run failed:\n${r.stderr}`);
    rss.push(Number(kb[1]) / 1024);
  }

  // ---- table ----------------------------------------------------------------------------------
  const S = med["safe-npm exec -- true"];
  const B = med["bare bwrap (same argv) true"];
  const N = med["node -e 0"];
  const ratio = S / (B + N);
  const ms = (x) => `${x.toFixed(1).padStart(7)} ms`;
  const row = (label, value, note = "") => console.log(`  ${label.padEnd(44)}${value}  ${note}`);
  console.log("\n1. start-up, medians (interleaved)");
  for (const n of names) {
    const s = samples[n];
    row(
      n,
      ms(med[n]),
      `(min ${Math.min(...s).toFixed(1)}, max ${Math.max(...s).toFixed(1)}, n=${s.length})`,
    );
  }
  const fed = Object.entries(fds).map(([fd, d]) =>
    d === null
      ? `${fd}: pipe, drained`
      : `${fd}: ${labels[fd]} (${d.length} B${String(fd) === seccompFd ? ", real" : ", placeholder"})`,
  );
  row("  bare bwrap's descriptors", fed.join(" · "));
  row("node -e 0 + bare bwrap (sum of medians)", ms(B + N));
  row("safe-npm's own overhead (S − bwrap − node)", ms(S - B - N));
  row(
    "ratio safe-npm / (bare bwrap + node -e 0)",
    `${ratio.toFixed(2).padStart(7)} ×`,
    `target ≤ ${TARGET_RATIO} → ${verdict(ratio, TARGET_RATIO)}`,
  );
  // The breakdown uses paired differences (same round, back to back), which cancel most of the
  // noise that differences of medians carry; it is a guide, not an exact decomposition.
  const paired = (f) => median(samples[names[0]].map((_, i) => f((n) => samples[n][i])));
  const [s, b, n, v, d] = names;
  console.log("   where it goes (medians of per-round differences):");
  row("  safe-npm's own overhead, paired", ms(paired((x) => x(s) - x(b) - x(n))));
  row(
    "  start-up cost of safe-npm's modules",
    ms(paired((x) => x(v) - x(n))),
    "(--version − node -e 0)",
  );
  row(
    "  host/project/policy",
    ms(paired((x) => x(d) - x(v))),
    "(dry-run − --version; includes printing)",
  );
  row("  spawn + wait", ms(paired((x) => x(s) - x(d) - x(b))), "(exec − dry-run − bare bwrap)");

  // ---- 2 and 3: safe-npm ci vs npm ci on a generated ~150-package tree from a local registry --
  await npmCiComparison({ base, env, row, ms });

  console.log("\n4. peak RSS of the safe-npm process (exec -- true)");
  row(
    `median of ${rss.length} runs`,
    `${median(rss).toFixed(1).padStart(7)} MB`,
    `(max ${Math.max(...rss).toFixed(1)}) target ≤ ${TARGET_RSS_MB} MB → ${verdict(median(rss), TARGET_RSS_MB)}`,
  );
  row("method", rssMethod);
} catch (error) {
  failed = true;
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
