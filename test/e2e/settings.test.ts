/**
 * Repository settings are data only, widen the sandbox only after `safe-npm trust`, and any change
 * revokes that trust; `home: "project"` leaves no placeholder behind; user settings are trusted.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { plantTargets, readReports } from "./probe.js";
import { makeWorld, SECRETS, safeNpmExec, type World, waitFor } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

describe.skipIf(unavailable !== "")("settings", () => {
  let world: World;
  let state: string;
  const rc = (): string => join(world.project, ".sandboxrc.json");
  const writeRc = (settings: object): void => writeFileSync(rc(), `${JSON.stringify(settings)}\n`);

  beforeAll(() => {
    world = makeWorld({
      projectInHome: true,
      packageJson: { dependencies: { probe: "file:vendor/probe-1.0.0.tgz" } },
      vendor: { packed, files: ["probe-1.0.0.tgz"] },
    });
    state = join(world.dir, "state");
    world.env.XDG_STATE_HOME = state;
    world.env.XDG_CONFIG_HOME = join(world.dir, "config");
    plantTargets(world);
    writeFileSync(
      join(world.project, ".git", "info", "exclude"),
      "probe-targets.json\n.sandboxrc*\nsandbox.config.*\n",
    );
  });
  afterAll(() => world?.dispose());

  it("never loads a repository's code config, and says so", async () => {
    const marker = join(world.dir, "code-config-ran");
    const code = `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran"); module.exports = { home: "project" };`;
    writeFileSync(join(world.project, ".sandboxrc.js"), code);
    writeFileSync(join(world.project, ".sandboxrc.cjs"), code);
    writeFileSync(
      join(world.project, "sandbox.config.mjs"),
      `import fs from "node:fs"; fs.writeFileSync(${JSON.stringify(marker)}, "ran"); export default {};`,
    );
    const r = await world.run(["--quiet", "exec", "--", "true"]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain(`ignoring ${join(world.project, ".sandboxrc.js")}`);
    expect(r.stderr).toContain(`ignoring ${join(world.project, "sandbox.config.mjs")}`);
    expect(r.stderr).toContain("outside the sandbox");
    expect(existsSync(marker)).toBe(false);
    const dry = await world.run(["--dry-run", "exec", "--", "true"]);
    expect(dry.stdout).toContain("repo file:  none");
  });

  it("refuses a widening until trusted; then the probe reads exactly that file; a change revokes trust", async () => {
    writeRc({ dotfiles: [".ssh/id_rsa"] });
    const refused = await world.run(["install", "--no-audit", "--no-fund"]);
    expect(refused.exitCode).toBe(125);
    expect(refused.stderr).toContain(`✗ ${rc()} asks to open the sandbox wider:`);
    expect(refused.stderr).toContain("- read ~/.ssh/id_rsa");
    expect(refused.stderr).toContain("safe-npm trust");
    expect(existsSync(join(world.project, "node_modules"))).toBe(false);

    const trusted = await world.run(["trust"]);
    expect(trusted.exitCode).toBe(0);
    expect(trusted.stderr).toContain("read ~/.ssh/id_rsa");
    expect(
      JSON.parse(readFileSync(join(state, "safe-npm", "trust.json"), "utf8")).entries[rc()],
    ).toBeDefined();

    const installed = await world.run(["install", "--no-audit", "--no-fund"]);
    expect(installed.stderr).not.toContain("✗");
    expect(installed.exitCode).toBe(0);
    const [pre] = readReports(world);
    expect(pre?.reads.ssh).toEqual({ ok: true, value: SECRETS.sshKey });
    expect(pre?.writes.gitHook?.ok).toBe(false);
    for (const name of ["aws", "gh", "sibling", "hostTmp"])
      expect(pre?.reads[name]?.ok).toBe(false);
    // Read-only: the probe cannot change the key it was given.
    expect(readFileSync(join(world.home, ".ssh", "id_rsa"), "utf8")).toBe(SECRETS.sshKey);

    writeRc({ dotfiles: [".ssh/id_rsa", ".aws/credentials"] });
    const revoked = await world.run(["exec", "--", "true"]);
    expect(revoked.exitCode).toBe(125);
    expect(revoked.stderr).toContain("- read ~/.aws/credentials");

    const once = await world.run([
      "--quiet",
      "--trust-config",
      "exec",
      "--",
      "cat",
      `${world.home}/.aws/credentials`,
    ]);
    expect(once.exitCode).toBe(0);
    expect(once.stdout).toContain("AWS-FILE-SECRET");
    const env = await world.run(["--quiet", "exec", "--", "true"], {
      env: { SAFE_NPM_TRUST_CONFIG: "1" },
    });
    expect(env.exitCode).toBe(0);

    const untrusted = await world.run(["untrust"]);
    expect(untrusted.exitCode).toBe(0);
    expect(untrusted.stderr).toContain(`no longer trusting ${rc()}`);
    expect((await world.run(["untrust"])).stderr).toContain("was not trusted");
  });

  it("applies narrowing without trust", async () => {
    mkdirSync(join(world.project, "locked"), { recursive: true });
    writeRc({ protect: [".git", "locked"], network: "none" });
    const r = await world.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "touch locked/x && echo wrote",
    ]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stdout).not.toContain("wrote");
    expect(existsSync(join(world.project, "locked", "x"))).toBe(false);
    const dry = await world.run(["--dry-run", "install"]);
    expect(dry.stdout).toMatch(/network: +none \(for installs\)/);
    expect(dry.stdout).toMatch(/protect +\[".git","locked"\] +\[repo\]/);
  });

  it('home: "project" makes the project $HOME and leaves no placeholder behind', async () => {
    writeFileSync(join(world.home, ".gitconfig"), "[user]\n  name = alice\n");
    mkdirSync(join(world.home, ".config", "nvim"), { recursive: true });
    writeFileSync(join(world.home, ".config", "nvim", "init.lua"), "-- nvim\n");
    writeRc({ home: "project", dotfiles: [".gitconfig", ".config/nvim"] });
    const before = world.gitStatus();
    const r = await world.run([
      "--quiet",
      "--trust-config",
      "exec",
      "--",
      "sh",
      "-c",
      'echo "home=$HOME"; cat ~/.gitconfig ~/.config/nvim/init.lua',
    ]);
    expect(r.stderr).not.toContain("✗");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`home=${world.project}`);
    expect(r.stdout).toContain("name = alice");
    expect(r.stdout).toContain("-- nvim");
    expect(world.gitStatus()).toBe(before);
    expect(existsSync(join(world.project, ".gitconfig"))).toBe(false);
    expect(existsSync(join(world.project, ".config"))).toBe(false);
  });

  it("rejects invalid settings with the file, the key and the fix", async () => {
    writeRc({ dotfile: [".gitconfig"] });
    const r = await world.run(["exec", "--", "true"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`✗ ${rc()}: dotfile: unknown key`);
    expect(r.stderr).toContain('did you mean "dotfiles"?');
  });

  it("trusts the user's own settings", async () => {
    writeRc({});
    mkdirSync(join(world.dir, "config", "safe-npm"), { recursive: true });
    writeFileSync(join(world.dir, "config", "safe-npm", "config.yaml"), "env:\n  - MY_API_KEY\n");
    const r = await world.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      'echo "key=$MY_API_KEY"; echo "token=$NPM_TOKEN"',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("key=ENV-API-KEY-SECRET");
    expect(r.stdout).toMatch(/^token=$/m);
  });

  it("init writes .sandboxrc.json with the defaults and $schema, and refuses to overwrite it", async () => {
    rmSync(rc(), { force: true });
    const r = await world.run(["init"]);
    expect(r.exitCode).toBe(0);
    const written = JSON.parse(readFileSync(rc(), "utf8")) as Record<string, unknown>;
    expect(written.$schema).toBe("./node_modules/safe-npm/schema.json");
    expect(written).toMatchObject({
      protect: [".git"],
      home: "private",
      cache: "project",
      ports: [],
    });
    // The defaults need no trust: running with them works at once.
    expect((await world.run(["--quiet", "exec", "--", "true"])).exitCode).toBe(0);
    const again = await world.run(["init"]);
    expect(again.exitCode).toBe(125);
    expect(again.stderr).toContain(`✗ ${rc()} already exists`);
  });

  it("a repository dropping a path the user's settings protect needs trust", async () => {
    const userConfig = join(world.dir, "config", "safe-npm", "config.json");
    mkdirSync(join(world.dir, "config", "safe-npm"), { recursive: true });
    writeFileSync(userConfig, JSON.stringify({ protect: [".git", ".env"], network: "none" }));
    const env = join(world.project, ".env");
    writeFileSync(env, "SECRET=kept\n");
    writeRc({ protect: [".git"], network: { install: "registry" } });
    try {
      const write = ["exec", "--", "sh", "-c", "echo SECRET=changed > .env && echo wrote"];
      const refused = await world.run(write);
      expect(refused.exitCode).toBe(125);
      expect(refused.stderr).toContain(`✗ ${rc()} asks to open the sandbox wider:`);
      expect(refused.stderr).toContain("- make .env writable (your settings protect it)");
      expect(refused.stderr).toContain(
        '- network "registry" for installs (your settings say "none")',
      );
      expect(refused.stdout).not.toContain("wrote");
      expect(readFileSync(env, "utf8")).toBe("SECRET=kept\n");

      // `safe-npm trust` lists the same, and then the run may write it.
      const trusted = await world.run(["trust"]);
      expect(trusted.exitCode, trusted.stderr).toBe(0);
      expect(trusted.stderr).toContain("- make .env writable (your settings protect it)");
      const allowed = await world.run(["--quiet", ...write]);
      expect(allowed.exitCode, allowed.stderr).toBe(0);
      expect(readFileSync(env, "utf8")).toBe("SECRET=changed\n");
    } finally {
      rmSync(userConfig, { force: true });
      rmSync(env, { force: true });
    }
  });

  it("--config names the user settings file explicitly", async () => {
    const config = join(world.dir, "ci-sandbox.json");
    writeFileSync(config, JSON.stringify({ env: { FROM_CONFIG: "yes" } }));
    const r = await world.run([
      "--quiet",
      "--config",
      config,
      "exec",
      "--",
      "sh",
      "-c",
      'echo "from=$FROM_CONFIG"',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("from=yes");
    const dry = await world.run(["--dry-run", "--config", config, "exec", "--", "true"]);
    expect(dry.stdout).toContain(`user file:  ${config}`);
    const missing = await world.run([
      "--config",
      join(world.dir, "nope.json"),
      "exec",
      "--",
      "true",
    ]);
    expect(missing.exitCode).toBe(125);
    expect(missing.stderr).toContain(`✗ ${join(world.dir, "nope.json")}: no such settings file`);
  });
});

/**
 * Settings a sandboxed run writes would choose the next run's sandbox; with --trust-config (CI),
 * a wider one: the next step would read the user's ~/.npmrc token. A settings file made or
 * changed inside is moved aside; a package.json `sandbox` key set inside stops the run and is
 * never trusted for a run. The control makes the same change on the host.
 */
describe.skipIf(unavailable !== "")("settings written inside a sandboxed run", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const world of worlds) world.dispose();
  });
  const make = (): World => {
    const world = makeWorld({ projectInHome: true });
    world.env.XDG_STATE_HOME = join(world.dir, "state");
    worlds.push(world);
    return world;
  };
  const WIDEN = { dotfiles: [".npmrc"] };
  /** Sets package.json's sandbox key, as a node one-liner (inside or on the host). */
  const SET_KEY = `const f="package.json";const p=JSON.parse(require("fs").readFileSync(f,"utf8"));p.sandbox=${JSON.stringify(WIDEN)};require("fs").writeFileSync(f,JSON.stringify(p,null,2))`;
  const readToken = ["exec", "--", "sh", "-c", "cat ~/.npmrc"];

  it("(control) a sandbox key set on the host is trusted by SAFE_NPM_TRUST_CONFIG=1: the token shows inside", async () => {
    const world = make();
    execFileSync(process.execPath, ["-e", SET_KEY], { cwd: world.project });
    const r = await world.run(readToken, { env: { SAFE_NPM_TRUST_CONFIG: "1" } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(SECRETS.npmToken);
  });

  it("a sandbox key set inside stops that run, and SAFE_NPM_TRUST_CONFIG=1 never trusts it", async () => {
    const world = make();
    const set = await world.run(["exec", "--", "node", "-e", SET_KEY]);
    expect(set.exitCode).toBe(125);
    const pkg = join(world.project, "package.json");
    expect(set.stderr).toContain(`${pkg} was changed inside the sandbox`);
    expect(set.stderr).toContain("`sandbox` key was set or changed");
    // The change is there (safe-npm does not edit package.json) ...
    expect(JSON.parse(readFileSync(pkg, "utf8")).sandbox).toEqual(WIDEN);
    // ... but no run trusts it for --trust-config.
    const r = await world.run(readToken, { env: { SAFE_NPM_TRUST_CONFIG: "1" } });
    expect(r.exitCode).toBe(125);
    expect(r.stdout).not.toContain(SECRETS.npmToken);
    expect(r.stderr).toContain("set by code in an earlier sandboxed run");
    // `safe-npm trust`, the user's own decision after looking, still can.
    const trusted = await world.run(["trust"]);
    expect(trusted.exitCode, trusted.stderr).toBe(0);
    const after = await world.run(readToken);
    expect(after.stdout).toContain(SECRETS.npmToken);
  });

  it("a key put back inside to settings once trusted is not trusted again", async () => {
    const world = make();
    execFileSync(process.execPath, ["-e", SET_KEY], { cwd: world.project });
    expect((await world.run(["trust"])).exitCode).toBe(0);
    // The user narrows it again on the host; a run puts the trusted value back.
    const pkg = join(world.project, "package.json");
    const narrowed = JSON.parse(readFileSync(pkg, "utf8"));
    narrowed.sandbox = { protect: [".git", ".env"] };
    writeFileSync(pkg, JSON.stringify(narrowed, null, 2));
    expect((await world.run(["exec", "--", "node", "-e", SET_KEY])).exitCode).toBe(125);
    const r = await world.run(readToken);
    expect(r.exitCode).toBe(125);
    expect(r.stdout).not.toContain(SECRETS.npmToken);
    expect(r.stderr).toContain("set by code in an earlier sandboxed run");
  });

  // package.json comes before .sandboxrc.json in a folder: an empty key widens nothing, but it
  // hides the file that narrowed the sandbox.
  const NARROW = '{"protect":[".git",".env"]}\n';
  const EMPTY_KEY = `const f="package.json";const p=JSON.parse(require("fs").readFileSync(f,"utf8"));p.sandbox={};require("fs").writeFileSync(f,JSON.stringify(p,null,2))`;
  const writeEnv = ["exec", "--", "sh", "-c", "echo changed >> .env"];

  it("(control) an empty sandbox key set on the host hides the .sandboxrc.json beside it", async () => {
    const world = make();
    writeFileSync(join(world.project, ".sandboxrc.json"), NARROW);
    writeFileSync(join(world.project, ".env"), "SECRET=1\n");
    expect((await world.run(writeEnv)).exitCode).not.toBe(0);
    execFileSync(process.execPath, ["-e", EMPTY_KEY], { cwd: world.project });
    expect((await world.run(writeEnv)).exitCode).toBe(0);
    expect(readFileSync(join(world.project, ".env"), "utf8")).toContain("changed");
  });

  it("an empty sandbox key set inside is not obeyed on the next run until the user accepts it", async () => {
    const world = make();
    writeFileSync(join(world.project, ".sandboxrc.json"), NARROW);
    writeFileSync(join(world.project, ".env"), "SECRET=1\n");
    expect((await world.run(["exec", "--", "node", "-e", EMPTY_KEY])).exitCode).toBe(125);
    const next = await world.run(writeEnv);
    expect(next.exitCode).toBe(125);
    expect(next.stderr).toContain("set: they widen nothing, but they replace the settings");
    expect(readFileSync(join(world.project, ".env"), "utf8")).toBe("SECRET=1\n");
    const accepted = await world.run(["trust"]);
    expect(accepted.exitCode, accepted.stderr).toBe(0);
    expect(accepted.stderr).toContain("are now accepted as yours");
    expect((await world.run(writeEnv)).exitCode).toBe(0);
  });

  /** A workspace whose root settings protect a file in a package; returns the package. */
  const workspace = (world: World, rc: string, protect: string): string => {
    const pkg = join(world.project, "package.json");
    writeFileSync(
      pkg,
      JSON.stringify({ ...JSON.parse(readFileSync(pkg, "utf8")), workspaces: ["packages/*"] }),
    );
    writeFileSync(
      join(world.project, "package-lock.json"),
      '{"lockfileVersion":3,"packages":{}}\n',
    );
    const a = join(world.project, "packages", "a");
    mkdirSync(a, { recursive: true });
    writeFileSync(join(a, "package.json"), '{"name":"a","version":"1.0.0"}\n');
    writeFileSync(join(a, ".env"), "SECRET=1\n");
    writeFileSync(join(world.project, rc), `{"protect":[".git","${protect}"]}\n`);
    return a;
  };
  const tamper = ["exec", "--", "sh", "-c", "echo changed >> .env"];
  const LOCK = `echo '{"lockfileVersion":3,"packages":{}}' > package-lock.json`;

  for (const [where, rc, protect] of [
    ["the workspace root's", ".sandboxrc.json", "packages/a/.env"],
    ["a folder between's", "packages/.sandboxrc.json", "packages/a/.env"],
    ["the package's own (relative to the root)", "packages/a/.sandboxrc.json", "packages/a/.env"],
  ] as const) {
    it(`a lockfile made inside in a workspace package is moved aside: ${where} settings still apply there`, async () => {
      const world = make();
      const a = workspace(world, rc, protect);
      // The settings apply from the package: .env is read-only.
      expect((await world.run(tamper, { cwd: a })).exitCode).not.toBe(0);
      const plant = await world.run(["exec", "--", "sh", "-c", LOCK], { cwd: a });
      expect(plant.stderr).toContain(`moved ${join(a, "package-lock.json")} to `);
      expect(plant.stderr).toContain("a project of its own");
      expect(existsSync(join(a, "package-lock.json"))).toBe(false);
      expect((await world.run(tamper, { cwd: a })).exitCode).not.toBe(0);
      expect(readFileSync(join(a, ".env"), "utf8")).toBe("SECRET=1\n");
    });
  }

  it("a nested project's lockfile made a dangling link inside does not move the next run's project out to the enclosing one", async () => {
    const world = make();
    writeFileSync(join(world.project, ".sandboxrc.json"), NARROW);
    writeFileSync(
      join(world.project, "package-lock.json"),
      '{"lockfileVersion":3,"packages":{}}\n',
    );
    writeFileSync(join(world.project, ".env"), "SECRET=1\n");
    const demo = join(world.project, "examples", "demo");
    mkdirSync(demo, { recursive: true });
    writeFileSync(join(demo, "package.json"), '{"name":"demo"}\n');
    writeFileSync(join(demo, "package-lock.json"), '{"lockfileVersion":3,"packages":{}}\n');
    writeFileSync(join(demo, ".sandboxrc.json"), "{}\n");
    await world.run(["exec", "--", "sh", "-c", "ln -sf /nonexistent package-lock.json"], {
      cwd: demo,
    });
    // The project stays the nested one: the enclosing project, and its .env, stay out of reach.
    const dry = await world.run(["--dry-run", "exec", "--", "true"], { cwd: demo });
    expect(`${dry.stdout}${dry.stderr}`).toMatch(new RegExp(`project: +${demo} `));
    await world.run(["exec", "--", "sh", "-c", "echo changed >> ../../.env"], { cwd: demo });
    expect(readFileSync(join(world.project, ".env"), "utf8")).toBe("SECRET=1\n");
  });

  it("a package made a project of its own where enclosing settings apply, and none of its own, stops the run", async () => {
    const world = make();
    const a = workspace(world, ".sandboxrc.json", "packages/a/.env");
    // Made where no check saw it (on the host, or by a run killed before its check).
    writeFileSync(join(a, "package-lock.json"), '{"lockfileVersion":3,"packages":{}}\n');
    const next = await world.run(tamper, { cwd: a });
    expect(next.exitCode).toBe(125);
    expect(next.stderr).toContain(`holds safe-npm settings for the project at ${world.project}`);
    expect(readFileSync(join(a, ".env"), "utf8")).toBe("SECRET=1\n");
    // Settings of its own: the run goes ahead under them.
    writeFileSync(join(a, ".sandboxrc.json"), '{"protect":[".git",".env"]}\n');
    const own = await world.run(tamper, { cwd: a });
    expect(own.stderr).toContain("Read-only file system");
  });

  it("a sandbox key larger than safe-npm reads stops the run instead of going unseen", async () => {
    const world = make();
    const big = `const f="package.json";const p=JSON.parse(require("fs").readFileSync(f,"utf8"));p.sandbox=${JSON.stringify(WIDEN)};require("fs").writeFileSync(f,JSON.stringify(p)+" ".repeat(1100000))`;
    await world.run(["exec", "--", "node", "-e", big]);
    const r = await world.run(readToken, { env: { SAFE_NPM_TRUST_CONFIG: "1" } });
    expect(r.exitCode).toBe(125);
    expect(r.stdout).not.toContain(SECRETS.npmToken);
    expect(r.stderr).toContain("is larger than 1048576 bytes");
  });

  it("a settings file removed inside stops that run; one kept in a folder made read-only is still moved", async () => {
    const world = make();
    const rc = join(world.project, ".sandboxrc.json");
    writeFileSync(rc, '{"protect":[".git",".env"]}\n');
    const removed = await world.run(["exec", "--", "rm", rc]);
    expect(removed.exitCode).toBe(125);
    expect(removed.stderr).toContain(`${rc} was changed inside the sandbox (it was removed`);
    // Planted, then the folder made read-only for its owner (what stops a rename as non-root).
    mkdirSync(join(world.project, "sub"));
    const sub = join(world.project, "sub", ".sandboxrc.json");
    const kept = await world.run([
      "exec",
      "--",
      "sh",
      "-c",
      `echo '${JSON.stringify(WIDEN)}' > ${sub} && chmod 555 ${join(world.project, "sub")}`,
    ]);
    expect(kept.stderr).toContain(`moved ${sub} to ${sub}.quarantined-by-safe-npm`);
    expect(existsSync(sub)).toBe(false);
  });

  it("settings a run still going wrote are not trusted for another run meanwhile", async () => {
    const world = make();
    const rc = join(world.project, ".sandboxrc.json");
    writeFileSync(rc, `${JSON.stringify(WIDEN)}\n`);
    expect((await world.run(["trust"])).exitCode).toBe(0);
    rmSync(rc);
    const ready = join(world.project, "planted");
    const release = join(world.project, "release");
    // A background run (a dev server) plants settings and keeps going until told to stop.
    const [node = process.execPath, ...args] = safeNpmExec(
      "sh",
      "-c",
      `echo '${JSON.stringify(WIDEN)}' > ${rc} && touch ${ready} && while [ ! -e ${release} ]; do sleep 0.05; done`,
    );
    const live = spawn(node, args, { cwd: world.project, env: world.env, stdio: "ignore" });
    const ended = new Promise((resolve) => live.on("exit", resolve));
    await waitFor(() => existsSync(ready), "the plant");
    const r = await world.run(readToken, { env: { SAFE_NPM_TRUST_CONFIG: "1" } });
    // Settings the user trusted once (and then dropped), put back by that run: no trust either.
    const trustedOnce = await world.run(readToken);
    writeFileSync(release, "");
    await ended;
    for (const run of [r, trustedOnce]) {
      expect(run.exitCode).toBe(125);
      expect(run.stdout).not.toContain(SECRETS.npmToken);
      expect(run.stderr).toContain(
        `changed while a safe-npm run in ${world.project} is still going`,
      );
    }
    // That run's own check then moved it aside.
    expect(existsSync(rc)).toBe(false);
  });

  it("a project made unlistable inside is listed again after the run, and what it hid is moved aside", async () => {
    const world = make();
    const planted = join(world.project, "sub", ".sandboxrc.json");
    const r = await world.run([
      "exec",
      "--",
      "sh",
      "-c",
      `mkdir -p sub && echo '${JSON.stringify(WIDEN)}' > ${planted} && chmod 0311 ${world.project}`,
    ]);
    expect(statSync(world.project).mode & 0o700).toBe(0o700);
    expect(r.stderr).toContain(`moved ${planted} to ${planted}.quarantined-by-safe-npm`);
    expect(existsSync(planted)).toBe(false);
  });

  it("a run that cannot write its journal does not start", async () => {
    const world = make();
    // Where the journals go, a file: no journal can be written there.
    mkdirSync(join(world.cache, "safe-npm"), { recursive: true });
    writeFileSync(join(world.cache, "safe-npm", "runs"), "");
    const r = await world.run(["exec", "--", "sh", "-c", "echo RAN"]);
    expect(r.exitCode).toBe(125);
    expect(r.stdout).not.toContain("RAN");
    expect(r.stderr).toContain("cannot write this run's journal");
    rmSync(join(world.cache, "safe-npm", "runs"));
    expect((await world.run(["exec", "--", "true"])).exitCode).toBe(0);
  });

  it("the user's narrowing settings cannot be made to vanish: changed, linked or given a BOM", async () => {
    const world = make();
    const rc = join(world.project, ".sandboxrc.json");
    writeFileSync(rc, '{"protect":[".git",".env"]}\n');
    // One byte added: moved aside, and the run fails (the narrowing is gone for the next).
    const changed = await world.run(["exec", "--", "sh", "-c", `printf ' ' >> ${rc}`]);
    expect(changed.exitCode).toBe(125);
    expect(changed.stderr).toContain("the settings it held are gone for the next run");
    rmSync(`${rc}.quarantined-by-safe-npm`);
    // package.json's key: made unreadable through a link, it is gone as well.
    const pkg = join(world.project, "package.json");
    const withKey = JSON.parse(readFileSync(pkg, "utf8"));
    withKey.sandbox = { protect: [".git", ".env"] };
    writeFileSync(pkg, JSON.stringify(withKey, null, 2));
    const linked = await world.run([
      "exec",
      "--",
      "sh",
      "-c",
      "mkdir -p keep && cp package.json keep/p.json && rm package.json && ln -s keep/p.json package.json",
    ]);
    expect(linked.exitCode).toBe(125);
    expect(linked.stderr).toContain("can no longer be read for its `sandbox` key");
    rmSync(pkg);
    writeFileSync(pkg, JSON.stringify(withKey, null, 2));
    // A byte-order mark in front: still read as the user's settings.
    const bom = await world.run([
      "exec",
      "--",
      "sh",
      "-c",
      "printf '\\357\\273\\277' > /tmp/b && cat package.json >> /tmp/b && cat /tmp/b > package.json",
    ]);
    expect(bom.exitCode, bom.stderr).toBe(0);
    expect(readFileSync(pkg, "utf8").charCodeAt(0)).toBe(0xfeff);
    const dry = await world.run(["--dry-run", "exec", "--", "true"]);
    expect(dry.stdout).toContain(`repo file:  ${pkg}`);
  });

  it("a project made read-only for its owner inside keeps no stand-in", async () => {
    const world = make();
    const mode = statSync(world.project).mode & 0o7777;
    for (const taken of ["555", "0000"]) {
      const r = await world.run(["exec", "--", "chmod", taken, world.project]);
      expect(r.exitCode, r.stderr).toBe(0);
      // The root's mode as it was.
      expect(statSync(world.project).mode & 0o7777).toBe(mode);
    }
    // (git ignores nothing of these) only what the world made.
    for (const name of [".yarnrc.yml", "bunfig.toml", ".pnpmfile.cjs", ".yarn"])
      expect(existsSync(join(world.project, name)), name).toBe(false);
  });

  it("a settings file made inside, in the root or a sub-folder, is moved aside after the run", async () => {
    const world = make();
    mkdirSync(join(world.project, "packages", "a"), { recursive: true });
    const files = [
      join(world.project, ".sandboxrc.json"),
      join(world.project, "packages", "a", ".sandboxrc"),
    ];
    const r = await world.run([
      "exec",
      "--",
      "sh",
      "-c",
      files.map((f) => `echo '${JSON.stringify(WIDEN)}' > ${f}`).join(" && "),
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const file of files) {
      expect(existsSync(file), file).toBe(false);
      expect(r.stderr).toContain(`moved ${file} to ${file}.quarantined-by-safe-npm`);
    }
    const next = await world.run(readToken, { env: { SAFE_NPM_TRUST_CONFIG: "1" } });
    expect(next.stdout).not.toContain(SECRETS.npmToken);
  });
});
