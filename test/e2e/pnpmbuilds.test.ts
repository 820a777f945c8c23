/**
 * pnpm 11+ stops an install whose dependency's build script nobody approved. On a terminal it
 * writes a placeholder into pnpm-workspace.yaml for the user to decide, which the sandbox keeps
 * read-only: the install then fails on that write, saying nothing of the dependency. safe-npm
 * names the skipped builds and the `allowBuilds` lines to add; the test adds exactly those lines,
 * as a user would, and the next install builds (the probe's scripts run, contained).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, inject, it } from "vitest";
import { cliPath } from "./paths.js";
import { expectContained, plantTargets, readReports } from "./probe.js";
import { PNPM_LATEST_YAML, TOOL_BINS } from "./tools.js";
import { makeWorld, type RunResult, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");
const show = (r: RunResult): string => `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
const SPEC = "probe@file:vendor/probe-1.0.0.tgz";

describe.skipIf(unavailable !== "")("pnpm 12: a dependency's build script not yet approved", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });

  const world = (): World => {
    const w = makeWorld({
      projectInHome: true,
      packageJson: { dependencies: { probe: "file:vendor/probe-1.0.0.tgz" } },
      vendor: { packed, files: ["probe-1.0.0.tgz"] },
    });
    worlds.push(w);
    writeFileSync(join(w.project, "pnpm-workspace.yaml"), PNPM_LATEST_YAML);
    plantTargets(w);
    const bin = join(w.dir, "pm-bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(TOOL_BINS.pnpmLatest, join(bin, "pnpm"));
    w.env.PATH = `${bin}:${w.env.PATH}`;
    return w;
  };
  const hint = `    '${SPEC}': true`;

  it("without a terminal: pnpm stops, safe-npm names the dependency and the lines to add; with them the next install builds", async () => {
    const w = world();
    const first = await w.run(["pnpm", "install"]);
    expect(first.exitCode, show(first)).not.toBe(0);
    expect(first.stderr).toContain("says pnpm ran no build scripts of these");
    expect(first.stderr).toContain(`safe-npm:   ${SPEC}\n`);
    expect(first.stderr).toContain(`safe-npm: ${hint}\n`);
    expect(readReports(w)).toEqual([]);
    // The user follows the hint, outside the sandbox.
    const lines = first.stderr
      .split("\n")
      .filter((l) => l.startsWith("safe-npm:   allowBuilds:") || l.startsWith("safe-npm:     '"))
      .map((l) => l.slice("safe-npm: ".length));
    writeFileSync(
      join(w.project, "pnpm-workspace.yaml"),
      `${PNPM_LATEST_YAML}${lines.join("\n").replace(/^ {2}/gm, "")}\n`,
    );
    const second = await w.run(["pnpm", "install"]);
    expect(second.exitCode, show(second)).toBe(0);
    expect(second.stderr).not.toContain("ran no build scripts");
    const reports = readReports(w);
    expect(reports.map((r) => r.phase)).toEqual(["preinstall", "postinstall"]);
    for (const report of reports) expectContained(report, w);
  }, 240_000);

  it("names a script wrote into pnpm's state file are not offered (not in pnpm-lock.yaml)", async () => {
    const w = world();
    // A first install writes pnpm-lock.yaml (and stops on the unapproved build).
    await w.run(["pnpm", "install"]);
    const plant = `require("fs").mkdirSync("node_modules",{recursive:true});require("fs").writeFileSync("node_modules/.modules.yaml",JSON.stringify({ignoredBuilds:["all-safe-run-pnpm-approve-builds-on-host","${SPEC}"]}));process.exit(1)`;
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        dependencies: { probe: "file:vendor/probe-1.0.0.tgz" },
        scripts: { preinstall: `node -e '${plant}'` },
      }),
    );
    const run = await w.run(["pnpm", "install"]);
    expect(run.exitCode, show(run)).not.toBe(0);
    expect(run.stderr).not.toContain("all-safe-run-pnpm-approve-builds-on-host");
    // The planted file was read: the one name the lockfile has is shown.
    expect(run.stderr).toContain(`safe-npm: ${hint}\n`);
  }, 240_000);

  it("on a terminal: pnpm fails writing its placeholder into the read-only file; the file is unchanged and the hint names the dependency", async () => {
    const w = world();
    const before = readFileSync(join(w.project, "pnpm-workspace.yaml"), "utf8");
    const command = [process.execPath, cliPath, "pnpm", "install"]
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
      .join(" ");
    // script(1) gives the run a terminal, as a user's shell has.
    const run = await execa("script", ["-qec", command, "/dev/null"], {
      cwd: w.project,
      env: w.env,
      extendEnv: false,
      reject: false,
      input: "",
    });
    const output = String(run.stdout);
    expect(run.exitCode, output).not.toBe(0);
    expect(output).toContain(hint);
    expect(readFileSync(join(w.project, "pnpm-workspace.yaml"), "utf8")).toBe(before);
  }, 240_000);
});

describe.skipIf(unavailable !== "")(
  "pnpm 12 installs before a bare `pnpm run` (verifyDepsBeforeRun)",
  () => {
    const worlds: World[] = [];
    afterAll(() => {
      for (const w of worlds) w.dispose();
    });
    const NOTICE = "safe-npm: pnpm 11 and later installs before `pnpm run`";

    const world = (yaml: string): World => {
      const w = makeWorld({
        projectInHome: true,
        packageJson: {
          dependencies: { greeter: "file:vendor/greeter-1.0.0.tgz" },
          scripts: { hello: "echo hello" },
        },
        vendor: { packed, files: ["greeter-1.0.0.tgz"] },
      });
      worlds.push(w);
      writeFileSync(join(w.project, "pnpm-workspace.yaml"), yaml);
      const bin = join(w.dir, "pm-bin");
      mkdirSync(bin, { recursive: true });
      symlinkSync(TOOL_BINS.pnpmLatest, join(bin, "pnpm"));
      w.env.PATH = `${bin}:${w.env.PATH}`;
      return w;
    };
    const bareRun = (w: World) =>
      execa("pnpm", ["run", "hello"], {
        cwd: w.project,
        env: w.env,
        extendEnv: false,
        reject: false,
        stdin: "ignore",
      });

    it("says so after an install while the setting installs, and not once it is off", async () => {
      const w = world("pmOnFail: ignore\n");
      const install = await w.run(["pnpm", "install"]);
      expect(install.exitCode, show(install)).toBe(0);
      expect(install.stderr).toContain(NOTICE);
      expect(install.stderr).toContain("Add `verifyDepsBeforeRun: false` to pnpm-workspace.yaml");
      // Control: the bare run on the host does install first (what the notice warns of) once
      // node_modules looks out of date, as a run inside can always make it look.
      rmSync(join(w.project, "node_modules", ".pnpm"), { recursive: true, force: true });
      const bare = await bareRun(w);
      expect(bare.exitCode, String(bare.stderr)).toBe(0);
      expect(existsSync(join(w.project, "node_modules", ".pnpm")), String(bare.stdout)).toBe(true);

      const off = world("pmOnFail: ignore\nverifyDepsBeforeRun: false\n");
      const quiet = await off.run(["pnpm", "install"]);
      expect(quiet.exitCode, show(quiet)).toBe(0);
      expect(quiet.stderr).not.toContain(NOTICE);
      rmSync(join(off.project, "node_modules", ".pnpm"), { recursive: true, force: true });
      const offBare = await bareRun(off);
      expect(String(offBare.stdout)).toContain("hello");
      expect(existsSync(join(off.project, "node_modules", ".pnpm"))).toBe(false);
    }, 240_000);
  },
);
