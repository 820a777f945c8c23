// safe-npm benchmark: `npm run bench [-- options]` from the repository root (it builds first),
// or `node bench/run.mjs [options]` against an existing dist/. Plain ESM, Node built-ins only.
// `--help` lists the options (bench/lib.mjs): `--only startup,npm,pnpm,…`, round counts,
// `--registry URL`.
//
// Every timed variant is started the same way (child_process.spawn, stdin/stdout ignored, stderr
// captured, wall clock from spawn to 'close') and the variants are interleaved in one loop whose
// order rotates each round, so machine noise and cache effects hit all of them alike. Medians,
// and medians of per-round (paired) ratios. Missed targets are printed, never fatal: the exit
// status is non-zero only when something fails to run.
//
// Sections: 1. start-up (safe-npm exec -- true vs bare bwrap vs node -e 0); 2. installs, per
// package manager (bench/installs.mjs: npm, pnpm 10 and latest, yarn 1, yarn 4 node_modules and
// PnP, bun; warm and cold) against the bare manager, from a registry on 127.0.0.1 (bench/
// registry.mjs) or the one --registry names; 3. peak RSS; 4. the registry gateway (bench/
// gateway.mjs: `npm ci`, empty cache, over https: the gateway vs --network full vs tunnels).
//
// Nothing of the user's is read or written: every run gets an empty HOME and XDG dirs in a
// temporary directory (no ~/.npmrc, no user settings, no real caches), removed at the end.
// BENCH_KEEP_NODE_ENV=1 keeps NODE_OPTIONS / NODE_EXTRA_CA_CERTS for the runs. On 2 cores,
// `--only startup` takes about a minute, one manager's installs 1–3 minutes at 5 rounds.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gatewayComparison } from "./gateway.mjs";
import { installComparison } from "./installs.mjs";
import { median, parseBenchArgs, quantile, selected, USAGE, verdict } from "./lib.mjs";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repo, "dist", "cli.cjs");
let options;
try {
  options = parseBenchArgs(process.argv.slice(2), process.env);
} catch (error) {
  console.error(`bench: ${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const ROUNDS = options.rounds;
const WARMUP = options.warmup;
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
    `${process.arch} · uid ${process.getuid()} · start-up: ${ROUNDS} rounds after ${WARMUP} warm-up · ` +
    `installs: ${options.installRounds} rounds` +
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
  const home = join(base, "home");
  mkdirSync(home);
  const baseEnv = { ...process.env };
  for (const name of STRIPPED) delete baseEnv[name];
  // `npm run bench` exports npm's script variables; safe-npm would treat the runs as started from
  // a package.json script (extra env, .bin chain). Drop them, and the managers' own settings:
  // measure the plain command line.
  for (const name of Object.keys(baseEnv))
    if (/^(npm_|yarn_|pnpm_|bun_|xdg_)/i.test(name) || name === "INIT_CWD") delete baseEnv[name];
  // An empty HOME, XDG dirs in the temp dir: no ~/.npmrc, no user settings, no real cache.
  const env = {
    ...baseEnv,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local", "state"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    XDG_CACHE_HOME: join(base, "cache"),
  };
  const opts = { cwd: project, env };
  const ms = (x) => `${x.toFixed(1).padStart(7)} ms`;
  const row = (label, value, note = "") => console.log(`  ${label.padEnd(44)}${value}  ${note}`);

  if (selected(options.only, "startup")) {
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
    const { buildSeccompFilter } = await import(join(repo, "dist", "sandbox", "seccomp.js"));
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
      "bare bwrap (same argv) true": () =>
        timed(bwrap, bwrapArgs, { ...opts, fds, detached: true }),
      "node -e 0": () => timed(process.execPath, ["-e", "0"], opts),
      "safe-npm --version": () => timed(process.execPath, [cli, "--version"], opts),
      "safe-npm --dry-run exec -- true": () =>
        timed(process.execPath, [cli, "--dry-run", "exec", "--", "true"], opts),
    };
    // One untimed run first: it creates the private home that the bare bwrap argv binds.
    await variants["safe-npm exec -- true"]();
    // The folders safe-npm pins in place for the run (made for it and removed after, such as
    // .yarn above .yarn/releases) are bind sources of the argv: the bare run needs them to exist.
    for (let i = 0; i + 2 < bwrapArgs.length; i++) {
      const src = bwrapArgs[i + 1];
      if (bwrapArgs[i] === "--bind" && src.startsWith(`${project}/`) && !existsSync(src))
        mkdirSync(src, { recursive: true });
    }
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

    // ---- table ----------------------------------------------------------------------------------
    const S = med["safe-npm exec -- true"];
    const B = med["bare bwrap (same argv) true"];
    const N = med["node -e 0"];
    const ratio = S / (B + N);
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
    const pairedRatios = samples[names[0]].map(
      (_, i) =>
        samples["safe-npm exec -- true"][i] /
        (samples["bare bwrap (same argv) true"][i] + samples["node -e 0"][i]),
    );
    row(
      "  per-round ratios (paired)",
      `${median(pairedRatios).toFixed(2).padStart(7)} ×`,
      `median; middle half ${quantile(pairedRatios, 0.25).toFixed(2)}–${quantile(pairedRatios, 0.75).toFixed(2)}`,
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
  }

  // ---- 2: installs per package manager, warm and cold (bench/installs.mjs) -------------------
  const installsOk = await installComparison({
    repo,
    base,
    cli,
    env: baseEnv,
    registryUrl: options.registry,
    only: options.only,
    rounds: options.installRounds,
  });
  if (!installsOk) failed = true;

  if (selected(options.only, "rss")) {
    // ---- peak RSS of the safe-npm process -------------------------------------------------------
    // GNU time's %M is ru_maxrss from wait4(): the largest of node and its waited-for children
    // (bwrap, a few MB), i.e. safe-npm's node process. Without /usr/bin/time, a wrapper imports
    // dist/cli.cjs in-process and reports process.resourceUsage().maxRSS at exit.
    const rss = [];
    let rssMethod;
    const rssRuns = 7;
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

    console.log("\n3. peak RSS of the safe-npm process (exec -- true)");
    row(
      `median of ${rss.length} runs`,
      `${median(rss).toFixed(1).padStart(7)} MB`,
      `(max ${Math.max(...rss).toFixed(1)}) target ≤ ${TARGET_RSS_MB} MB → ${verdict(median(rss), TARGET_RSS_MB)}`,
    );
    row("method", rssMethod);
  }

  // ---- 4: the registry gateway against --network full, empty cache, over https ---------------
  if (selected(options.only, "gateway")) {
    const ok = await gatewayComparison({ base, cli, env: baseEnv, rounds: options.installRounds });
    if (!ok) failed = true;
  }
} catch (error) {
  failed = true;
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
