/**
 * Run-class commands (`exec`, `run`) pay nothing for the registry gateway: they neither load
 * its modules — the local CA (ca.ts), certificate issuing with @peculiar/x509 (ca-issue.ts), the
 * gateway's host-side set-up — nor open or create the CA. Observed, not timed: the host process
 * runs with a preload that records every module it required, and the CA's directory is looked
 * for afterwards. The control, an install (`npm ci` of a project with no dependencies: nothing
 * is fetched) from an https registry, shows that both observations do see the gateway when it
 * starts; from http:// registries only, an install makes no CA either.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliPath } from "./paths.js";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

/** Writes the files of every module the process required, one a line, when it exits. */
const PRELOAD = `const fs = require("node:fs");
const out = process.env.SAFE_NPM_TEST_MODULES;
const before = new Set(process.moduleLoadList);
process.on("exit", () => fs.writeFileSync(out, JSON.stringify({
  files: Object.keys(require.cache),
  builtins: process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith("NativeModule ")).map((m) => m.slice(13)),
})));
`;

/** The bundle's lazy chunks of the gateway (dist/chunks/<module>-<hash>.cjs). */
const GATEWAY_CHUNKS = ["ca", "ca-issue", "gateway-setup"];

describe.skipIf(unavailable !== "")("the registry gateway's start-up cost", () => {
  let world: World;
  let project: string;
  let caDir: string;
  let count = 0;
  beforeAll(() => {
    world = makeWorld({ projectInHome: false });
    writeFileSync(join(world.dir, "preload.cjs"), PRELOAD);
    // A project with no dependencies: `npm ci` fetches nothing, and needs no registry.
    project = join(world.dir, "empty");
    mkdirSync(project);
    const manifest = { name: "empty", version: "1.0.0", scripts: { hello: "true" } };
    writeFileSync(join(project, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    const lock = {
      name: "empty",
      version: "1.0.0",
      lockfileVersion: 3,
      requires: true,
      packages: { "": { name: "empty", version: "1.0.0" } },
    };
    writeFileSync(join(project, "package-lock.json"), `${JSON.stringify(lock, null, 2)}\n`);
    // Nothing public: a registry nobody serves (no request is made), no update check.
    writeFileSync(
      join(project, ".npmrc"),
      "registry=http://127.0.0.1:9/\nupdate-notifier=false\naudit=false\nfund=false\n",
    );
    const state = world.env.XDG_STATE_HOME ?? join(world.home, ".local", "state");
    caDir = join(state, "safe-npm", "ca");
  });
  afterAll(() => world?.dispose());

  /** Runs the CLI with the preload: the files it required, and node's own modules it loaded. */
  async function loaded(args: string[]): Promise<{ files: string[]; builtins: string[] }> {
    const list = join(world.dir, `modules-${count++}.txt`);
    const r = await execa(
      process.execPath,
      ["-r", join(world.dir, "preload.cjs"), cliPath, ...args],
      {
        cwd: project,
        env: { ...world.env, SAFE_NPM_TEST_MODULES: list },
        extendEnv: false,
        reject: false,
        stdin: "ignore",
      },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const seen = JSON.parse(readFileSync(list, "utf8")) as { files: string[]; builtins: string[] };
    // The preload saw the bundle's own chunks: it records what the CLI loads.
    expect(seen.files.some((f) => /\/dist\/chunks\/[^/]+\.cjs$/.test(f))).toBe(true);
    return seen;
  }

  /** The gateway chunks a run loaded (module names, no hash). */
  async function chunksLoaded(args: string[]): Promise<string[]> {
    return (await loaded(args)).files
      .filter((f) => f.includes("/dist/chunks/"))
      .map((f) => basename(f).replace(/-[A-Za-z0-9_-]{8}\.cjs$/, ""))
      .filter((name) => GATEWAY_CHUNKS.includes(name));
  }

  it("exec, exec in registry mode and run load none of it and make no CA", async () => {
    expect(await chunksLoaded(["--quiet", "exec", "--", "true"])).toEqual([]);
    expect(await chunksLoaded(["--quiet", "--network", "registry", "exec", "--", "true"])).toEqual(
      [],
    );
    expect(await chunksLoaded(["--quiet", "run", "hello"])).toEqual([]);
    expect(existsSync(caDir)).toBe(false);
  }, 120_000);

  it("exec loads none of node's modules that only some runs use", async () => {
    // zlib and v8 (a yarn 2+ install state), perf_hooks, fs/promises with readline: a few ms
    // of every start for nothing.
    const { builtins } = await loaded(["--quiet", "exec", "--", "true"]);
    // The control: what every run uses is seen loading.
    expect(builtins).toEqual(expect.arrayContaining(["child_process", "crypto"]));
    for (const name of ["zlib", "v8", "perf_hooks", "fs/promises", "internal/readline/interface"])
      expect(builtins).not.toContain(name);
  }, 120_000);

  it("an install from http:// registries only decides on the CA and makes none", async () => {
    const loaded = await chunksLoaded(["--quiet", "npm", "ci", "--no-audit", "--no-fund"]);
    expect(loaded).toEqual(["gateway-setup"]);
    expect(existsSync(caDir)).toBe(false);
  }, 120_000);

  it("control: an install from an https registry loads the gateway and makes the CA", async () => {
    writeFileSync(
      join(project, ".npmrc"),
      "registry=https://127.0.0.1:9/\nupdate-notifier=false\naudit=false\nfund=false\n",
    );
    const loaded = await chunksLoaded(["--quiet", "npm", "ci", "--no-audit", "--no-fund"]);
    expect(loaded).toEqual(expect.arrayContaining(["ca", "gateway-setup"]));
    expect(existsSync(join(caDir, "local-ca.pem"))).toBe(true);
  }, 120_000);
});
