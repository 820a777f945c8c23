// Pure helpers of the benchmark (bench/run.mjs): its command line, statistics and verdicts.
// Plain ESM, no I/O; unit-tested in test/unit/bench/lib.test.ts.

/** The sections `--only` can name; an install section is a manager's id (see run.mjs). */
export const SECTIONS = [
  "startup",
  "rss",
  "npm",
  "pnpm",
  "pnpm-latest",
  "yarn1",
  "yarn4",
  "yarn4-pnp",
  "bun",
  "gateway",
];

export const USAGE = `usage: node bench/run.mjs [options]   (or: npm run bench -- [options])

  --only LIST           comma-separated sections: ${SECTIONS.join(", ")};
                        a name also selects its variants (pnpm: pnpm and pnpm-latest,
                        yarn4: yarn4 and yarn4-pnp). Default: all.
  --rounds N            start-up rounds (default 21; at least 5)
  --warmup N            start-up warm-up rounds (default 2)
  --install-rounds N    rounds of each install comparison and of the gateway section
                        (default 5; at least 1)
  --registry URL        installs from this registry instead of the local fixture one: a
                        small real dependency set, so DNS and the network are measured too
  -h, --help            this text

Environment defaults: BENCH_ROUNDS, BENCH_WARMUP, BENCH_INSTALL_ROUNDS.
`;

/** A positive integer option value, at least `min`. */
function count(name, value, min) {
  if (value === undefined || !/^\d+$/.test(value) || Number(value) < min)
    throw new Error(`${name} wants a whole number ≥ ${min}, got ${value ?? "nothing"}`);
  return Number(value);
}

/**
 * The benchmark's options from its arguments (and BENCH_* defaults). Throws an Error naming the
 * bad argument; `help: true` asks for USAGE.
 */
export function parseBenchArgs(argv, env = {}) {
  const options = {
    help: false,
    rounds: count("BENCH_ROUNDS", env.BENCH_ROUNDS ?? "21", 5),
    warmup: count("BENCH_WARMUP", env.BENCH_WARMUP ?? "2", 0),
    installRounds: count("BENCH_INSTALL_ROUNDS", env.BENCH_INSTALL_ROUNDS ?? "5", 1),
    only: null,
    registry: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s) : [arg];
    const value = () => {
      if (inline !== undefined) return inline;
      i++;
      if (argv[i] === undefined) throw new Error(`${flag} needs a value`);
      return argv[i];
    };
    switch (flag) {
      case "-h":
      case "--help":
        options.help = true;
        break;
      case "--rounds":
        options.rounds = count(flag, value(), 5);
        break;
      case "--warmup":
        options.warmup = count(flag, value(), 0);
        break;
      case "--install-rounds":
        options.installRounds = count(flag, value(), 1);
        break;
      case "--only": {
        const names = value()
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        const unknown = names.filter((n) => !SECTIONS.includes(n));
        if (names.length === 0 || unknown.length > 0)
          throw new Error(
            `--only: unknown section ${unknown.join(", ") || "(none)"}; known: ${SECTIONS.join(", ")}`,
          );
        options.only = names;
        break;
      }
      case "--registry": {
        const url = value();
        let parsed;
        try {
          parsed = new URL(url);
        } catch {
          throw new Error(`--registry wants a URL, got ${url}`);
        }
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
          throw new Error(`--registry wants an http(s) URL, got ${url}`);
        options.registry = parsed.href.endsWith("/") ? parsed.href : `${parsed.href}/`;
        break;
      }
      default:
        throw new Error(`unknown argument ${arg} (see --help)`);
    }
  }
  return options;
}

/** Whether section `id` runs: no --only, or a name that is `id` or its family (`pnpm` → `pnpm-latest`). */
export function selected(only, id) {
  return only === null || only.some((name) => id === name || id.startsWith(`${name}-`));
}

export function median(xs) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The q-quantile (0…1) of xs, linear between the nearest ranks. */
export function quantile(xs, q) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/** "met", or "MISSED by N%" (one decimal under 10 %). */
export function verdict(value, target) {
  if (!Number.isFinite(value)) return "no result";
  if (value <= target) return "met";
  const by = ((value - target) / target) * 100;
  return `MISSED by ${by.toFixed(by < 10 ? 1 : 0)}%`;
}

/** A ratio with its target beside it: "1.07× (target ≤ 1.15: met)". */
export function ratioCell(value, target, digits = 2) {
  const shown = Number.isFinite(value) ? `${value.toFixed(digits)}×` : "—";
  return `${shown} (target ≤ ${target}: ${verdict(value, target)})`;
}
