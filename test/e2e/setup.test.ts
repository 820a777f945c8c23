/**
 * `safe-npm setup` / `teardown` through the built CLI and real shells: the rc files get one
 * marked block and get it back out byte for byte; a new shell's plain `npm install` goes through
 * the sandbox (the hostile probe gets the verdicts of `safe-npm install`); inside, `npm` is the
 * real npm; commands without a project follow the README's table; doctor tells whether the shims
 * are active. Each test has a fresh HOME (a world of its own).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, inject, it } from "vitest";
import { httpServer, type TestServer } from "../unit/network/helpers.js";
import { cliPath } from "./paths.js";
import { expectContained, plantTargets, readReports } from "./probe.js";
import {
  installSelfInto,
  makeWorld,
  type RunResult,
  statOf,
  type World,
  type WorldOptions,
} from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

const TIMEOUT = 240_000;
const BEGIN = "# >>> safe-npm shims >>>";

let world: World | undefined;
const servers: TestServer[] = [];
afterEach(async () => {
  world?.dispose();
  world = undefined;
  for (const server of servers.splice(0)) await server.close();
});

/** This test's world (disposed after it). */
function newWorld(options: WorldOptions = { projectInHome: true }): World {
  world = makeWorld(options);
  return world;
}

/** A world whose project depends on the probe, with the probe's targets planted. */
function probeWorld(): World {
  const w = newWorld({
    projectInHome: true,
    packageJson: { dependencies: { probe: "file:vendor/probe-1.0.0.tgz" } },
    vendor: { packed, files: ["probe-1.0.0.tgz"] },
  });
  plantTargets(w);
  return w;
}

/** `safe-npm setup`, which must succeed. */
async function setUpShims(w: World): Promise<void> {
  expect((await w.run(["setup"])).exitCode).toBe(0);
}

/** What create-probe reports in `<app>/create-probe.json`. */
interface CreateProbeReport {
  sandboxed: boolean;
  readSsh: { ok: boolean };
  writeShim: { ok: boolean };
  writeSibling: { ok: boolean };
  path: string;
  sawPoison: boolean;
  plant: Record<string, { ok: boolean }>;
}

function createProbeReport(app: string): CreateProbeReport {
  return JSON.parse(readFileSync(join(app, "create-probe.json"), "utf8")) as CreateProbeReport;
}

function shimsOf(w: World): string {
  return join(w.home, ".local", "share", "safe-npm", "shims");
}

/** The host's real npm, as a plain `npm` finds it without the shims. */
function realNpm(): string {
  const r = execFileText("sh", ["-c", "command -v npm"]);
  return r.trim();
}

function execFileText(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: "utf8" });
}

/** A command line in `shell` started as a user's new shell would be, with the world's HOME. */
async function inShell(
  w: World,
  argv: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const r = await execa(argv[0] ?? "bash", argv.slice(1), {
    cwd: options.cwd ?? w.project,
    env: { ...w.env, ...options.env },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** PATH with the shims first, as the rc block makes it. */
function shimPath(w: World): string {
  return `${shimsOf(w)}:${w.env.PATH}`;
}

/** A registry on 127.0.0.1 serving create-probe; every request is recorded. */
async function createProbeRegistry(): Promise<TestServer> {
  const tarball = readFileSync(join(packed, "create-probe-1.0.0.tgz"));
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  let port = 0;
  const server = await httpServer((req, res) => {
    const base = `http://127.0.0.1:${port}`;
    if (req.url === "/create-probe") {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          name: "create-probe",
          "dist-tags": { latest: "1.0.0" },
          time: { created: "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z" },
          versions: {
            "1.0.0": {
              name: "create-probe",
              version: "1.0.0",
              bin: { "create-probe": "create-probe.cjs" },
              dist: { tarball: `${base}/create-probe/-/create-probe-1.0.0.tgz`, integrity },
            },
          },
        }),
      );
    } else if (req.url === "/create-probe/-/create-probe-1.0.0.tgz") {
      res.end(tarball);
    } else if (req.url === "/-/whoami" && req.headers.authorization === `Bearer ${USER_TOKEN}`) {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ username: "alice" }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  port = server.port;
  servers.push(server);
  return server;
}

const USER_TOKEN = "USER-REGISTRY-TOKEN";

/** The user's ~/.npmrc names `registry`, with a token for it. */
function userRegistry(w: World, registry: TestServer): void {
  writeFileSync(
    join(w.home, ".npmrc"),
    `//127.0.0.1:${registry.port}/:_authToken=${USER_TOKEN}\nregistry=http://127.0.0.1:${registry.port}/\naudit=false\nfund=false\nupdate-notifier=false\n`,
  );
}

describe("safe-npm setup and teardown of the rc files", () => {
  it(
    "writes one block in each rc file, twice is still one, keeps backups, and teardown restores every byte",
    async () => {
      const w = newWorld();
      const bashrc = join(w.home, ".bashrc");
      const zshrc = join(w.home, ".zshrc");
      const dotfiles = join(w.home, "dotfiles", "config.fish");
      const fish = join(w.home, ".config", "fish", "config.fish");
      writeFileSync(zshrc, "export ZSH=1\r\nalias g=git\r\n");
      mkdirSync(join(w.home, "dotfiles"));
      mkdirSync(join(w.home, ".config", "fish"), { recursive: true });
      writeFileSync(dotfiles, "set -x FISH 1");
      // A dotfile manager's link: the target is edited, the link stays a link.
      symlinkSync(dotfiles, fish);
      const before = {
        bash: readFileSync(bashrc),
        zsh: readFileSync(zshrc),
        fish: readFileSync(dotfiles),
      };

      const first = await w.run(["setup"]);
      expect(first.stderr).not.toContain("✗");
      expect(first.exitCode).toBe(0);
      expect(first.stderr).toContain(`${bashrc}: added the safe-npm block at the end`);
      expect(first.stderr).toContain(`(through the link ${fish})`);
      expect(first.stderr).toContain("safe-npm teardown");
      const second = await w.run(["setup"]);
      expect(second.exitCode).toBe(0);
      expect(second.stderr).toContain(`${bashrc}: already set up`);

      for (const file of [bashrc, zshrc, dotfiles]) {
        const text = readFileSync(file, "utf8");
        expect(text.split(BEGIN).length, file).toBe(2);
        expect(text).toContain(shimsOf(w));
      }
      // The block's own lines end in LF in a CRLF file: a CR would be part of zsh's words.
      expect(readFileSync(zshrc, "utf8").split(BEGIN)[1]).not.toContain("\r");
      expect(lstatSync(fish).isSymbolicLink()).toBe(true);
      expect(readFileSync(`${bashrc}.before-safe-npm`)).toEqual(before.bash);
      expect(readFileSync(`${zshrc}.before-safe-npm`)).toEqual(before.zsh);
      expect(readFileSync(`${dotfiles}.before-safe-npm`)).toEqual(before.fish);
      for (const tool of ["npm", "npx", "yarn", "yarnpkg", "pnpm", "pnpx", "bun", "bunx"]) {
        expect(existsSync(join(shimsOf(w), tool)), tool).toBe(true);
      }

      // The block works in the shells that read it.
      const bash = await inShell(w, ["bash", "-ic", "command -v npm"]);
      expect(bash.stdout.trim()).toBe(join(shimsOf(w), "npm"));
      // zsh reads ~/.zshrc (here with CRLF line ends) in interactive shells, fish its config.fish
      // (here through a link) in every shell. CI installs both; elsewhere a missing one is named.
      for (const argv of [
        ["zsh", "-ic", "command -v npm"],
        ["fish", "-c", "command -v npm"],
      ]) {
        const shell = argv[0] as string;
        if (!existsSync(`/usr/bin/${shell}`) && process.env.CI === undefined) {
          console.warn(`setup.test: /usr/bin/${shell} is missing: its rc block is not run here`);
          continue;
        }
        const r = await inShell(w, argv);
        expect(r.stdout.trim(), `${shell}: ${r.stderr}`).toBe(join(shimsOf(w), "npm"));
      }

      const down = await w.run(["teardown"]);
      expect(down.exitCode).toBe(0);
      expect(readFileSync(bashrc)).toEqual(before.bash);
      expect(readFileSync(zshrc)).toEqual(before.zsh);
      expect(readFileSync(dotfiles)).toEqual(before.fish);
      expect(lstatSync(fish).isSymbolicLink()).toBe(true);
      expect(readlinkSync(fish)).toBe(dotfiles);
      // The backups said nothing more than the restored files: gone, as are the shims.
      expect(existsSync(`${bashrc}.before-safe-npm`)).toBe(false);
      expect(existsSync(shimsOf(w))).toBe(false);
      expect(existsSync(join(w.home, ".local", "share", "safe-npm"))).toBe(false);
      const after = await inShell(w, ["bash", "-ic", "command -v npm"]);
      expect(after.stdout.trim()).toBe(realNpm());
      for (const argv of [
        ["zsh", "-ic", "command -v npm"],
        ["fish", "-c", "command -v npm"],
      ]) {
        if (!existsSync(`/usr/bin/${argv[0]}`) && process.env.CI === undefined) continue;
        expect((await inShell(w, argv)).stdout.trim(), argv[0]).toBe(realNpm());
      }
    },
    TIMEOUT,
  );

  it(
    "teardown removes only the block: lines added since stay, and so does a backup that differs",
    async () => {
      const w = newWorld();
      const bashrc = join(w.home, ".bashrc");
      await setUpShims(w);
      writeFileSync(bashrc, `${readFileSync(bashrc, "utf8")}alias later=true\n`);
      const down = await w.run(["teardown"]);
      expect(down.exitCode).toBe(0);
      expect(readFileSync(bashrc, "utf8")).toBe("# the user's own bashrc\nalias later=true\n");
      expect(down.stderr).toContain(`kept ${bashrc}.before-safe-npm`);
    },
    TIMEOUT,
  );

  it(
    "refuses shims that a project's sandboxed runs could change",
    async () => {
      const w = newWorld();
      const inProject = await w.run(["setup"], { env: { XDG_DATA_HOME: join(w.project, "data") } });
      expect(inProject.exitCode).toBe(125);
      expect(inProject.stderr).toContain(`lies in the project ${w.project}`);
      expect(existsSync(join(w.project, "data"))).toBe(false);
      // safe-npm installed as the project's dependency: its installs could rewrite it.
      installSelfInto(w.project);
      const local = await execa(
        process.execPath,
        [join(w.project, "node_modules", "safe-npm", "dist", "cli.cjs"), "setup"],
        { cwd: w.project, env: w.env, extendEnv: false, reject: false },
      );
      expect(local.exitCode).toBe(125);
      expect(String(local.stderr)).toContain(`a dependency of the project ${w.project}`);
      expect(existsSync(shimsOf(w))).toBe(false);
      expect(readFileSync(join(w.home, ".bashrc"), "utf8")).toBe("# the user's own bashrc\n");
    },
    TIMEOUT,
  );

  it(
    "never writes the backup through a planted link, and refuses an rc file inside a project",
    async () => {
      const w = newWorld();
      const bashrc = join(w.home, ".bashrc");
      const keys = join(w.home, ".ssh", "authorized_keys");
      const dotfiles = join(w.home, "dotfiles");
      mkdirSync(dotfiles);
      writeFileSync(join(dotfiles, "bashrc"), "ssh-ed25519 AAAA attacker\n");
      rmSync(bashrc);
      symlinkSync(join(dotfiles, "bashrc"), bashrc);
      // A dangling link where setup puts the backup: following it would write the key file.
      symlinkSync(keys, join(dotfiles, `bashrc${".before-safe-npm"}`));
      const link = await w.run(["setup"]);
      expect(link.exitCode).toBe(125);
      expect(link.stderr).toContain(`the backup path ${join(dotfiles, "bashrc.before-safe-npm")}`);
      expect(existsSync(keys)).toBe(false);
      expect(existsSync(shimsOf(w))).toBe(false);

      // The same dotfiles directory as a project: its sandboxed runs could edit the rc file.
      rmSync(join(dotfiles, "bashrc.before-safe-npm"));
      writeFileSync(join(dotfiles, "package.json"), "{}\n");
      const project = await w.run(["setup"]);
      expect(project.exitCode).toBe(125);
      expect(project.stderr).toContain(
        `${join(dotfiles, "bashrc")} (the target of ${bashrc}) lies in the project ${dotfiles}`,
      );
      expect(readFileSync(bashrc, "utf8")).toBe("ssh-ed25519 AAAA attacker\n");
      expect(existsSync(shimsOf(w))).toBe(false);

      // (control) outside a project, with no link planted, the link's target is set up.
      rmSync(join(dotfiles, "package.json"));
      const ok = await w.run(["setup"]);
      expect(ok.exitCode).toBe(0);
      expect(readFileSync(bashrc, "utf8")).toContain(BEGIN);
      expect(lstatSync(join(dotfiles, "bashrc.before-safe-npm")).isFile()).toBe(true);
      expect(existsSync(keys)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    "setup --ci writes no rc file: appends to $GITHUB_PATH once, else prints the PATH line",
    async () => {
      const w = newWorld();
      const githubPath = join(w.dir, "github_path");
      writeFileSync(githubPath, "/opt/earlier/bin\n");
      for (let i = 0; i < 2; i++) {
        const r = await w.run(["setup", "--ci"], { env: { GITHUB_PATH: githubPath } });
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe("");
      }
      expect(readFileSync(githubPath, "utf8")).toBe(`/opt/earlier/bin\n${shimsOf(w)}\n`);
      expect(readFileSync(join(w.home, ".bashrc"), "utf8")).toBe("# the user's own bashrc\n");
      expect(existsSync(`${join(w.home, ".bashrc")}.before-safe-npm`)).toBe(false);

      const plain = await w.run(["setup", "--ci"]);
      expect(plain.exitCode).toBe(0);
      expect(plain.stdout).toBe(`export PATH='${shimsOf(w)}':"$PATH"`);
      const evaluated = await inShell(w, ["sh", "-c", `${plain.stdout}\ncommand -v npm`]);
      expect(evaluated.stdout.trim()).toBe(join(shimsOf(w), "npm"));
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")("a plain npm with the shims", () => {
  it(
    "runs `npm install` in a new shell through the sandbox: the probe gets safe-npm's verdicts",
    async () => {
      const w = probeWorld();
      await setUpShims(w);
      const shimBefore = readFileSync(join(shimsOf(w), "npm"));

      const r = await inShell(w, ["bash", "-ic", "npm install --no-audit --no-fund"]);
      expect(r.stderr).not.toMatch(/✗/);
      expect(r.exitCode).toBe(0);
      const reports = readReports(w);
      expect(reports.map((x) => x.phase)).toEqual(["preinstall", "postinstall"]);
      // The shim was not changed from inside (its directory is not in the sandbox).
      expect(readFileSync(join(shimsOf(w), "npm"))).toEqual(shimBefore);

      // teardown takes the block out; the probe's own write to ~/.bashrc would have stayed.
      expect((await w.run(["teardown"])).exitCode).toBe(0);
      for (const report of reports) expectContained(report, w);
      const after = await inShell(w, ["bash", "-ic", "command -v npm"]);
      expect(after.stdout.trim()).toBe(realNpm());
    },
    TIMEOUT,
  );

  it(
    "(control) the same plain `npm install` without the shims lets the probe out",
    async () => {
      const w = probeWorld();
      const r = await inShell(w, ["bash", "-ic", "npm install --no-audit --no-fund"]);
      expect(r.exitCode).toBe(0);
      const post = readReports(w).find((x) => x.phase === "postinstall");
      expect(post?.reads.ssh?.ok).toBe(true);
      expect(readFileSync(join(w.home, ".bashrc"), "utf8")).toContain("pwned by probe");
    },
    TIMEOUT,
  );

  it(
    "finds the real npm inside: a script's `npm --version` works and PATH has no shim directory",
    async () => {
      const w = newWorld({
        projectInHome: true,
        packageJson: {
          scripts: {
            where: 'npm --version && echo "PATH=$PATH" && readlink -f "$(command -v npm)"',
          },
        },
      });
      await setUpShims(w);
      const version = execFileText("npm", ["--version"]).trim();
      for (const r of [
        // a new shell's plain npm (the shim) …
        await inShell(w, ["bash", "-ic", "npm run --silent where"]),
        // … and safe-npm called by name from a shell where the shims are active
        await w.run(["npm", "run", "--silent", "where"], { env: { PATH: shimPath(w) } }),
      ]) {
        expect(r.stderr).not.toContain("✗");
        expect(r.exitCode).toBe(0);
        const [v, path, npm] = r.stdout.trim().split("\n");
        expect(v).toBe(version);
        expect(path).toMatch(/^PATH=/);
        expect(path).not.toContain("safe-npm/shims");
        expect(npm).toBe(realpathSync(realNpm()));
      }
    },
    TIMEOUT,
  );

  it(
    "doctor says whether the shims are active and what a plain npm runs",
    async () => {
      const w = newWorld();
      const none = await w.run(["doctor"]);
      expect(none.stdout).toContain("✓ shims: not set up:");
      expect(none.stdout).toContain(`✓ plain npm: runs ${realNpm()} directly, outside the sandbox`);
      await setUpShims(w);
      const inactive = await w.run(["doctor"]);
      expect(inactive.stdout).toContain(`✗ shims: installed in ${shimsOf(w)}`);
      expect(inactive.stdout).toContain("not first on PATH in this shell");
      expect(inactive.stdout).toContain(`✗ plain npm: runs ${realNpm()} directly`);
      const active = await w.run(["doctor", "--json"], { env: { PATH: shimPath(w) } });
      const checks = (
        JSON.parse(active.stdout) as { checks: { name: string; ok: boolean; detail: string }[] }
      ).checks;
      expect(checks.find((c) => c.name === "shims")).toMatchObject({
        ok: true,
        detail: expect.stringContaining(`active in this shell: ${shimsOf(w)} is first on PATH`),
      });
      expect(checks.find((c) => c.name === "plain npm")).toMatchObject({
        ok: true,
        detail: expect.stringContaining(`runs ${join(shimsOf(w), "npm")}, a safe-npm shim`),
      });
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")("commands without a project, through the shims", () => {
  /** A world with the shims set up, the user's registry serving create-probe, an empty dir. */
  async function emptyDir(): Promise<{ w: World; dir: string; registry: TestServer }> {
    const w = newWorld();
    const registry = await createProbeRegistry();
    userRegistry(w, registry);
    await setUpShims(w);
    const dir = join(w.home, "code", "scratch");
    // Scaffolders start where other repositories live.
    mkdirSync(join(dir, "sibling-repo"), { recursive: true });
    writeFileSync(join(dir, "sibling-repo", "README"), "mine\n");
    return { w, dir, registry };
  }
  const shell = (w: World, dir: string, command: string): Promise<RunResult> =>
    inShell(w, ["bash", "-ic", command], { cwd: dir });

  it(
    "npm --version, npm config get and npm view run the real npm, ignoring an .npmrc planted in the directory",
    async () => {
      const { w, dir, registry } = await emptyDir();
      const planted = await httpServer((_req, res) => {
        res.statusCode = 404;
        res.end();
      });
      servers.push(planted);
      writeFileSync(join(dir, ".npmrc"), `registry=http://127.0.0.1:${planted.port}/\n`);
      const version = execFileText("npm", ["--version"]).trim();

      const v = await shell(w, dir, "npm --version");
      expect(v.exitCode).toBe(0);
      expect(v.stdout.trim()).toBe(version);
      const config = await shell(w, dir, "npm config get registry");
      expect(config.stdout.trim()).toBe(`http://127.0.0.1:${registry.port}/`);
      const view = await shell(w, dir, "npm view create-probe version");
      expect(view.exitCode).toBe(0);
      expect(view.stdout.trim()).toBe("1.0.0");
      expect(planted.requests).toEqual([]);

      // The account commands run on the host with the user's token, also in a project (whose
      // own .npmrc names another registry): inside, the token is never there.
      const whoami = await shell(w, w.project, "npm whoami");
      expect(whoami.exitCode).toBe(0);
      expect(whoami.stdout.trim()).toBe("alice");

      // A write to the user's config is kept, also from a project (inside it would be lost).
      const set = await shell(w, w.project, "npm config set color false");
      expect(set.exitCode).toBe(0);
      expect(readFileSync(join(w.home, ".npmrc"), "utf8")).toContain("color=false");

      // (control) the real npm in that directory obeys the planted file.
      const bare = await inShell(w, ["npm", "config", "get", "registry"], { cwd: dir });
      expect(bare.stdout.trim()).toBe(`http://127.0.0.1:${planted.port}/`);
    },
    TIMEOUT,
  );

  it(
    "npx create-… and npm init <x> run sandboxed with the directory as the project",
    async () => {
      const { w, dir } = await emptyDir();
      const shim = readFileSync(join(shimsOf(w), "npm"));
      for (const [command, app] of [
        ["npx --yes create-probe app-one", "app-one"],
        ["npm init --yes probe app-two", "app-two"],
      ] as const) {
        const r = await shell(w, dir, command);
        expect(r.stderr, command).not.toContain("✗");
        expect(r.exitCode, command).toBe(0);
        const report = createProbeReport(join(dir, app));
        expect(report.sandboxed, command).toBe(true);
        expect(report.readSsh.ok, command).toBe(false);
        // What the directory held before is read-only: only the new app is written.
        expect(report.writeSibling.ok, command).toBe(false);
        expect(report.path).not.toContain("safe-npm/shims");
      }
      expect(readFileSync(join(shimsOf(w), "npm"))).toEqual(shim);
      expect(readFileSync(join(w.home, ".bashrc"), "utf8")).not.toContain("pwned");
      expect(readFileSync(join(dir, "sibling-repo", "README"), "utf8")).toBe("mine\n");
      // npm init with no initializer writes package.json, sandboxed too, in a new directory
      // (empty, or holding only .git): it is the project being made.
      for (const fresh of ["fresh", "fresh-git"]) {
        mkdirSync(join(dir, fresh, fresh === "fresh-git" ? ".git" : ""), { recursive: true });
        const init = await shell(w, join(dir, fresh), "npm init -y");
        expect(init.exitCode, fresh).toBe(0);
        expect(existsSync(join(dir, fresh, "package.json")), fresh).toBe(true);
      }
    },
    TIMEOUT,
  );

  it(
    "what a scaffolder plants at the top of a directory that was not a project is moved aside, its links restored, its home thrown away",
    async () => {
      const { w, dir } = await emptyDir();
      symlinkSync("/real-target", join(dir, "mylink"));
      symlinkSync(join(w.home, "code"), join(dir, "otherlink"));
      // Scratch homes: one of a killed run (its process is gone), one of a run going on (this one).
      const scratch = join(w.cache, "safe-npm");
      const live = `scratch-${process.pid}-${statOf(process.pid).startTime}-abc`;
      mkdirSync(join(scratch, "scratch-999999999-1-abc", ".npm"), { recursive: true });
      mkdirSync(join(scratch, live), { recursive: true });
      const r = await shell(w, dir, "npx --yes create-probe app-one --plant");
      expect(r.exitCode).toBe(0);
      const report = createProbeReport(join(dir, "app-one"));
      // Inside, every plant succeeded: the directory itself is writable.
      for (const [what, result] of Object.entries(report.plant)) expect(result.ok, what).toBe(true);
      for (const name of ["package.json", "package-lock.json", ".envrc", "node_modules"]) {
        expect(existsSync(join(dir, name)), name).toBe(false);
        expect(existsSync(join(dir, `${name}.quarantined-by-safe-npm`)), name).toBe(true);
        expect(r.stderr).toContain(`moved ${join(dir, name)} to`);
      }
      expect(readlinkSync(join(dir, "mylink"))).toBe("/real-target");
      expect(readlinkSync(join(dir, "otherlink"))).toBe(join(w.home, "code"));
      expect(r.stderr).toContain(`restored the link ${join(dir, "mylink")} -> /real-target`);
      expect(r.stderr).toContain(`restored the link ${join(dir, "otherlink")}`);
      // The directory is still no project: the next install there is refused, not run in it.
      const install = await shell(w, dir, "npm install");
      expect(install.exitCode).toBe(125);
      expect(install.stderr).toContain("no package.json found");

      // Each run had a home of its own, removed afterwards: the poison of the first is gone.
      expect(report.sawPoison).toBe(false);
      const again = await shell(w, dir, "npx --yes create-probe app-two");
      expect(again.exitCode).toBe(0);
      const second = createProbeReport(join(dir, "app-two"));
      expect(second.sawPoison).toBe(false);
      expect(readdirSync(scratch).filter((n) => n.startsWith("scratch-"))).toEqual([live]);
      // (control) in a project the private home persists: the second run sees the first's poison.
      const project = join(w.home, "code", "made");
      mkdirSync(project);
      writeFileSync(join(project, "package.json"), '{ "name": "made" }\n');
      for (const app of ["p-one", "p-two"]) {
        const run = await shell(w, project, `npx --yes create-probe ${app}`);
        expect(run.exitCode, run.stderr).toBe(0);
      }
      const persisted = createProbeReport(join(project, "p-two"));
      expect(persisted.sawPoison).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "(control) the same npx without the shims runs create-probe on the host",
    async () => {
      const { w, dir } = await emptyDir();
      const r = await inShell(w, ["npx", "--yes", "create-probe", "app"], { cwd: dir });
      expect(r.exitCode).toBe(0);
      const report = createProbeReport(join(dir, "app"));
      expect(report.sandboxed).toBe(false);
      expect(report.readSsh.ok).toBe(true);
      expect(report.writeSibling.ok).toBe(true);
      expect(readFileSync(join(shimsOf(w), "npm"), "utf8")).toContain("pwned by create-probe");
    },
    TIMEOUT,
  );

  it(
    "refuses global installs with a hint, npx in the home itself, and install without a project",
    async () => {
      const { w, dir } = await emptyDir();
      const global = await shell(w, dir, "npm install -g create-probe");
      expect(global.exitCode).toBe(125);
      expect(global.stderr).toContain("✗ safe-npm does not run `npm install -g create-probe`");
      expect(global.stderr).toContain(`hint: add it to a project instead`);
      expect(global.stderr).toContain(`${realNpm()} install -g create-probe`);
      const home = await shell(w, w.home, "npx --yes create-probe app");
      expect(home.exitCode).toBe(125);
      expect(home.stderr).toContain("is your home directory");
      expect(existsSync(join(w.home, "app"))).toBe(false);
      const install = await shell(w, dir, "npm install");
      expect(install.exitCode).toBe(125);
      expect(install.stderr).toContain(`✗ no package.json found from ${dir} upward`);
      // A flag's value is not the command word: `info` here is --loglevel's, and the command
      // (exec) runs a package; it needs a project, and never runs on the host.
      for (const command of [
        "npm --loglevel info exec --yes create-probe app",
        "npm --loglevel info install create-probe",
      ]) {
        const r = await shell(w, dir, command);
        expect(r.exitCode, command).toBe(125);
        expect(r.stderr, command).toContain(`✗ no package.json found from ${dir} upward`);
      }
      expect(existsSync(join(dir, "app"))).toBe(false);
      expect(existsSync(join(dir, "node_modules"))).toBe(false);
      // A scaffolder never makes a shared, system, configuration or PATH directory its project,
      // nor one holding a socket or FIFO (the accepted case is the test above, in ~/code).
      const shared = join(w.dir, "shared");
      const config = join(w.home, ".config", "autostart");
      const bin = join(w.home, "bin");
      const fifo = join(w.home, "code", "with-fifo");
      // A PATH directory inside the working directory, not made yet: the scaffolder would make
      // it and plant `ls` there for the host's shell.
      const tooled = join(w.home, "code", "tooled");
      const hidden = join(w.home, "code", ".hidden");
      for (const d of [shared, config, bin, fifo, tooled, hidden])
        mkdirSync(d, { recursive: true });
      execFileSync("mkfifo", [join(fifo, "pipe")]);
      for (const [where, why] of [
        [shared, "a system directory shared with other users"],
        [config, `is in ${join(w.home, ".config")}`],
        [bin, "a directory on PATH"],
        [fifo, 'holds "pipe": a socket, FIFO or device'],
        [tooled, `contains ${join(tooled, "tools", "bin")}, a directory on PATH`],
        [hidden, `is in ${hidden}, a hidden directory`],
      ] as const) {
        const r = await inShell(w, ["bash", "-ic", "npx --yes create-probe app"], {
          cwd: where,
          env: { PATH: `${bin}:${join(tooled, "tools", "bin")}:${w.env.PATH}` },
        });
        expect(r.exitCode, where).toBe(125);
        expect(r.stderr, where).toContain(why);
        expect(r.stderr, where).toContain("mkdir my-app && cd my-app");
        expect(existsSync(join(where, "app")), where).toBe(false);
      }
      // A bind mount of ~/.config inside ~/code has an ordinary real path: its identity gives it
      // away. Mounting needs root (a private mount namespace keeps it from the host).
      if (process.getuid?.() === 0) {
        const alias = join(w.home, "code", "cfgbind");
        mkdirSync(alias);
        const script = `mount --bind ${join(w.home, ".config")} ${alias} && cd ${alias} && ls -d autostart && exec bash -ic 'npx --yes create-probe app'`;
        const r = await inShell(w, [
          "unshare",
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          script,
        ]);
        // The control: through the alias the real ~/.config/autostart is there.
        expect(r.stdout).toContain("autostart");
        expect(r.exitCode).toBe(125);
        expect(r.stderr).toContain(`which is ${join(w.home, ".config")} under another name`);
        expect(existsSync(join(w.home, ".config", "app"))).toBe(false);
      }
      const tagged = await shell(w, dir, "npm -g --tag ls install create-probe");
      expect(tagged.exitCode).toBe(125);
      expect(tagged.stderr).toContain("a global install writes the global prefix");
    },
    TIMEOUT,
  );

  it(
    "a shim whose safe-npm is gone says so and exits 125 instead of looping",
    async () => {
      const w = newWorld();
      await setUpShims(w);
      const npm = join(shimsOf(w), "npm");
      writeFileSync(npm, readFileSync(npm, "utf8").replace(cliPath, join(w.dir, "moved.cjs")));
      const r = await inShell(w, ["bash", "-ic", "npm --version"]);
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain(`this npm shim runs ${join(w.dir, "moved.cjs")}`);
    },
    TIMEOUT,
  );
});
