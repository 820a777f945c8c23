// The registry gateway's section of the benchmark (bench/run.mjs, `--only gateway`): `npm ci`
// with an empty cache (every tarball fetched) from the bench registry served over https on
// 127.0.0.1, run by safe-npm three ways, interleaved:
//   gateway  `safe-npm npm ci` (registry mode, the default: the proxy terminates TLS with the
//            local CA, decides every request and forwards it over its upstream pool);
//   full     `safe-npm --network full npm ci` (npm talks to the registry itself);
//   tunnel   `safe-npm --network registry exec -- npm ci` (registry mode without the gateway:
//            `exec` keeps opaque CONNECT tunnels, as every install did before it).
// The registry's certificate comes from a throw-away CA (openssl) that the project's .npmrc
// names as `cafile`, in the project so that npm inside the sandbox can read it in full mode; the
// host side of the gateway trusts it through the same `cafile`. Plain ESM, Node built-ins only.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median, quantile, ratioCell } from "./lib.mjs";
import { timedRun as run } from "./timedrun.mjs";
import { makeCertificates } from "./tlsfixture.mjs";

export const TARGET_GATEWAY = 1.1; // gateway ≤ 110 % of --network full

/**
 * Runs the comparison and prints it. Returns false when something failed to run (reported),
 * true otherwise — a missed target is printed, never a failure.
 */
export async function gatewayComparison({ base, cli, env: baseEnv, rounds }) {
  const dir = join(base, "gateway");
  const pki = join(dir, "pki");
  const project = join(dir, "project");
  const bareHome = join(dir, "bare-home");
  const safeHome = join(dir, "safe-home");
  const safeCache = join(dir, "safe-cache");
  for (const d of [pki, project, bareHome, safeHome, safeCache]) mkdirSync(d, { recursive: true });
  const { generateFixture, startRegistry } = await import("./registry.mjs");
  let certs;
  try {
    certs = makeCertificates(pki, "bench CA");
  } catch (error) {
    console.log(`\n4. registry gateway: FAILED — openssl could not make a certificate: ${error}`);
    return false;
  }
  const fixture = generateFixture();
  const registry = await startRegistry(fixture, { tls: { key: certs.key, cert: certs.cert } });
  try {
    // The CA in the project: npm inside reads it there in full mode.
    writeFileSync(join(project, "bench-ca.pem"), certs.ca);
    writeFileSync(
      join(project, "package.json"),
      `${JSON.stringify(
        {
          name: "bench-gateway",
          version: "1.0.0",
          private: true,
          dependencies: fixture.dependencies,
          allowScripts: Object.fromEntries(
            Object.keys(fixture.allowScripts ?? {}).map((n) => [n, true]),
          ),
        },
        null,
        2,
      )}\n`,
    );
    writeFileSync(
      join(project, ".npmrc"),
      `registry=${registry.url}\ncafile=${join(project, "bench-ca.pem")}\n` +
        "audit=false\nfund=false\nupdate-notifier=false\n",
    );
    // A registry on this machine's loopback is dialled only when the user's own files name it.
    writeFileSync(join(safeHome, ".npmrc"), `registry=${registry.url}\n`);
    const xdg = (home) => ({
      HOME: home,
      XDG_CONFIG_HOME: join(home, ".config"),
      XDG_DATA_HOME: join(home, ".local", "share"),
      XDG_STATE_HOME: join(home, ".local", "state"),
      XDG_CACHE_HOME: join(home, ".cache"),
    });
    const bareEnv = { ...baseEnv, ...xdg(bareHome) };
    const safeEnv = { ...baseEnv, ...xdg(safeHome), XDG_CACHE_HOME: safeCache };
    const npmCi = ["npm", "ci", "--no-audit", "--no-fund"];
    // Empty cache: the private homes (npm's cache lives there) and node_modules go first.
    const clean = () => {
      rmSync(join(project, "node_modules"), { recursive: true, force: true });
      rmSync(join(safeCache, "safe-npm", "homes"), { recursive: true, force: true });
    };
    const safe = (...args) => {
      clean();
      return run(process.execPath, [cli, "--quiet", ...args], { cwd: project, env: safeEnv });
    };
    const variants = {
      gateway: () => safe(...npmCi),
      full: () => safe("--network", "full", ...npmCi),
      tunnel: () => safe("--network", "registry", "exec", "--", ...npmCi),
    };

    // The lockfile, bare; then one untimed run of each (the local CA and its leaf are made by
    // the first gateway run, as on any machine after the first install).
    await run("npm", ["install", "--no-audit", "--no-fund"], { cwd: project, env: bareEnv });
    for (const name of Object.keys(variants)) await variants[name]();
    // The gateway must really see the requests in clear: its report counts requests, a tunnel's
    // counts connections. More requests than connections from the sandbox shows termination.
    clean();
    const { stderr } = await run(process.execPath, [cli, "--verbose", ...npmCi], {
      cwd: project,
      env: safeEnv,
    });
    const requests = Number(/allowed (\d+) to localhost:/.exec(stderr)?.[1] ?? 0);
    const connections = Number(/(\d+) connections? from the sandbox/.exec(stderr)?.[1] ?? 0);
    if (!(requests > connections && connections > 0))
      throw new Error(
        `the gateway did not terminate TLS (${requests} requests over ${connections} connections):\n${stderr}`,
      );
    const before = registry.stats();
    const names = Object.keys(variants);
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length];
        samples[name].push((await variants[name]()).ms);
      }
      process.stderr.write(`  gateway: round ${round + 1}/${rounds}\n`);
    }
    clean();
    const after = registry.stats();
    const fetched = (after.tarballs - before.tarballs) / (rounds * names.length);

    const med = (n) => median(samples[n]);
    const ratios = (a, b) => samples[a].map((x, i) => x / samples[b][i]);
    const spread = (r) => `${quantile(r, 0.25).toFixed(2)}–${quantile(r, 0.75).toFixed(2)}`;
    console.log(
      `\n4. registry gateway: \`safe-npm npm ci\` with an empty cache from the bench registry over ` +
        `https (${registry.url}, ${fetched.toFixed(0)} tarballs per run; the gateway saw ${requests} ` +
        `requests over ${connections} connections from npm), ${rounds} rounds of 3 ` +
        "interleaved variants",
    );
    const label = {
      gateway: "gateway (registry mode, TLS terminated)",
      full: "--network full",
      tunnel: "registry mode, opaque tunnels (exec)",
    };
    for (const n of names) {
      const s = samples[n];
      console.log(
        `  ${label[n].padEnd(44)}${(med(n) / 1000).toFixed(2).padStart(6)} s  ` +
          `(min ${(Math.min(...s) / 1000).toFixed(2)}, max ${(Math.max(...s) / 1000).toFixed(2)})`,
      );
    }
    for (const [a, b] of [
      ["gateway", "full"],
      ["tunnel", "full"],
    ]) {
      const r = ratios(a, b);
      console.log(
        `  ${`${a} / ${b}`.padEnd(44)}${ratioCell(med(a) / med(b), TARGET_GATEWAY)}; ` +
          `paired ${median(r).toFixed(2)}× (middle half ${spread(r)})`,
      );
    }
    return true;
  } catch (error) {
    console.log(`\n4. registry gateway: FAILED — ${String(error.message ?? error).trim()}`);
    return false;
  } finally {
    await registry.close();
  }
}
