/**
 * npm's user config kept in the project (`NPM_CONFIG_USERCONFIG=$PWD/.npmrc-ci`, as CI jobs write
 * their token): the project is readable and writable inside, so without care an install script
 * reads the token, and what it writes there is the next run's user config — whose registries
 * and credentials count as the user's own. Inside, the file shows without credentials and cannot
 * be changed; one created inside is moved aside after the run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { nodePrefix } from "./tools.js";
import { makeWorld, type RunResult, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const show = (r: RunResult): string => `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
const TOKEN = "CI-USERCONFIG-SECRET-TOKEN";
/** Reads the config into .probe/seen.txt, then tries to add a registry of its own to it. */
const SCRIPT = `
const fs = require("node:fs");
const file = process.argv[2];
fs.mkdirSync(".probe", { recursive: true });
let seen = "";
try { seen = fs.readFileSync(file, "utf8"); } catch (e) { seen = "unreadable " + e.code; }
fs.writeFileSync(".probe/seen.txt", seen);
try { fs.appendFileSync(file, "registry=http://127.0.0.1:8001/\\n"); fs.writeFileSync(".probe/write.txt", "ok"); }
catch (e) { fs.writeFileSync(".probe/write.txt", e.code); }
`;

describe.skipIf(unavailable !== "")("npm's user config and client key in the project", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  const world = (): { w: World; config: string } => {
    const w = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { preinstall: "node peek.cjs .npmrc-ci" } },
    });
    worlds.push(w);
    writeFileSync(join(w.project, "peek.cjs"), SCRIPT);
    const config = join(w.project, ".npmrc-ci");
    w.env.NPM_CONFIG_USERCONFIG = config;
    return { w, config };
  };
  /** The global config the host's npm reads under the world's environment. */
  const hostGlobalConfig = (w: World): string =>
    execFileSync("npm", ["config", "get", "globalconfig"], {
      cwd: w.project,
      env: { ...w.env },
      encoding: "utf8",
    }).trim();
  /** `safe-npm install` whose preinstall writes a `script-shell` into `config`. */
  const installPlanting = (w: World, config: string): Promise<RunResult> => {
    const plant = `const fs = require("node:fs"); fs.mkdirSync(${JSON.stringify(dirname(config))}, { recursive: true }); fs.writeFileSync(${JSON.stringify(config)}, "script-shell=/bin/false\\n"); console.log("planted-global")`;
    writeFileSync(join(w.project, "plant-global.cjs"), plant);
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        scripts: { preinstall: "node plant-global.cjs" },
      }),
    );
    return w.run(["install"]);
  };
  const probe = (w: World, name: string): string => {
    const file = join(w.project, ".probe", name);
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  };

  it("shows inside without the token, read-only", async () => {
    const { w, config } = world();
    const text = `//registry.npmjs.org/:_authToken=${TOKEN}\nfund=false\n`;
    writeFileSync(config, text);
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(probe(w, "seen.txt"), show(run)).toContain("fund=false");
    expect(probe(w, "seen.txt")).not.toContain(TOKEN);
    expect(probe(w, "write.txt")).not.toBe("ok");
    expect(readFileSync(config, "utf8")).toBe(text);
  }, 180_000);

  it.each([
    ["PNPM_CONFIG_USERCONFIG", "ci-npmrc", "ci-npmrc", "fund=false"],
    ["pnpm_config_npmrc_auth_file", "auth-file", "auth-file", "fund=false"],
    ["PNPM_CONFIG_HOME", "pnpm-home", "pnpm-home/auth.ini", "fund=false"],
    ["XDG_CONFIG_HOME", "xdg", "xdg/pnpm/auth.ini", "fund=false"],
    ["PNPM_CONFIG_HOME", "pnpm-home", "pnpm-home/config.yaml", ""],
  ])(
    "pnpm's files that %s puts in a folder shown inside show no token (%s)",
    async (variable, value, file, kept) => {
      const { w } = world();
      delete w.env.NPM_CONFIG_USERCONFIG;
      const prefix = nodePrefix(w.dir);
      const config = join(prefix, file);
      mkdirSync(dirname(config), { recursive: true });
      const text = file.endsWith(".yaml")
        ? `_auth:\n  "//registry.npmjs.org/": ${TOKEN}\n`
        : `//registry.npmjs.org/:_authToken=${TOKEN}\nfund=false\n`;
      writeFileSync(config, text);
      w.env.PATH = `${join(prefix, "bin")}:${w.env.PATH}`;
      w.env[variable] = join(prefix, value);
      // (control) without the variable, the same file shows in full: the folder is shown.
      const peek = ["--quiet", "exec", "--", "cat", config];
      const open = await w.run(peek, { env: { [variable]: undefined } });
      expect(open.stdout, show(open)).toContain(TOKEN);
      const run = await w.run(peek);
      expect(run.exitCode, show(run)).toBe(0);
      expect(run.stdout).toContain(kept);
      expect(run.stdout + run.stderr).not.toContain(TOKEN);
      expect(readFileSync(config, "utf8")).toBe(text);
    },
    180_000,
  );

  it.each(["NPM_CONFIG_USERCONFIG", "NPM_CONFIG_GLOBALCONFIG"])(
    "%s naming a file in a folder shown inside (a node's own prefix) shows it without the token",
    async (variable) => {
      const { w } = world();
      delete w.env.NPM_CONFIG_USERCONFIG;
      // Bound read-only inside, as the prefix of the node first on PATH.
      const prefix = nodePrefix(w.dir);
      const config = join(prefix, "ci-npmrc");
      const text = `//registry.npmjs.org/:_authToken=${TOKEN}\nfund=false\n`;
      writeFileSync(config, text);
      w.env.PATH = `${join(prefix, "bin")}:${w.env.PATH}`;
      w.env[variable] = config;
      writeFileSync(
        join(w.project, "package.json"),
        JSON.stringify({
          name: "app",
          version: "1.0.0",
          scripts: { preinstall: `node peek.cjs ${config}` },
        }),
      );
      const run = await w.run(["install"]);
      expect(run.exitCode, show(run)).toBe(0);
      // The file is there inside (the folder is shown), its token is not.
      expect(probe(w, "seen.txt"), show(run)).toContain("fund=false");
      expect(probe(w, "seen.txt")).not.toContain(TOKEN);
      expect(probe(w, "write.txt")).not.toBe("ok");
      expect(readFileSync(config, "utf8")).toBe(text);
    },
    180_000,
  );

  it.each([
    ["NPM_CONFIG_PREFIX", "env"],
    ["prefix= in ~/.npmrc", "user"],
  ])(
    "npm's global config a prefix puts in the project (%s) shows no token inside",
    async (_how, where) => {
      const { w } = world();
      delete w.env.NPM_CONFIG_USERCONFIG;
      const prefix = join(w.project, "tools-prefix");
      const config = join(prefix, "etc", "npmrc");
      mkdirSync(join(prefix, "etc"), { recursive: true });
      const text = `//registry.npmjs.org/:_authToken=${TOKEN}\nfund=false\n`;
      writeFileSync(config, text);
      if (where === "env") w.env.NPM_CONFIG_PREFIX = prefix;
      else
        writeFileSync(
          join(w.home, ".npmrc"),
          `${readFileSync(join(w.home, ".npmrc"), "utf8")}prefix=${prefix}\n`,
        );
      // (control) host npm takes that file as its global config.
      expect(hostGlobalConfig(w)).toBe(config);
      writeFileSync(
        join(w.project, "package.json"),
        JSON.stringify({
          name: "app",
          version: "1.0.0",
          scripts: { preinstall: `node peek.cjs ${config}` },
        }),
      );
      const run = await w.run(["install"]);
      expect(run.exitCode, show(run)).toBe(0);
      // The script ran and tried the file (a write refused or not, never "ok").
      expect(probe(w, "write.txt"), show(run)).toMatch(/^E[A-Z]+$/);
      expect(probe(w, "seen.txt"), show(run)).not.toContain(TOKEN);
      expect(readFileSync(config, "utf8")).toBe(text);
    },
    180_000,
  );

  it("npm's global config planted where prefix= in ~/.npmrc puts it (in the project) is moved aside", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    const prefix = join(w.project, ".npm-global");
    const config = join(prefix, "etc", "npmrc");
    writeFileSync(
      join(w.home, ".npmrc"),
      `${readFileSync(join(w.home, ".npmrc"), "utf8")}prefix=${prefix}\n`,
    );
    const run = await installPlanting(w, config);
    expect(run.stdout, show(run)).toContain("planted-global");
    expect(existsSync(config), show(run)).toBe(false);
    expect(existsSync(`${config}.quarantined-by-safe-npm`)).toBe(true);
    expect(run.stderr).toContain(`moved ${config} to ${config}.quarantined-by-safe-npm`);
  }, 180_000);

  it("npm's global config planted where the project's own .npmrc moves it is moved aside", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    const config = join(w.project, ".cfg", "global-npmrc");
    writeFileSync(join(w.project, ".npmrc"), `globalconfig=${config}\n`);
    // (control) host npm takes that file as its global config.
    expect(hostGlobalConfig(w)).toBe(config);
    const run = await installPlanting(w, config);
    expect(run.stdout, show(run)).toContain("planted-global");
    expect(existsSync(config), show(run)).toBe(false);
    expect(run.stderr).toContain(`moved ${config} to ${config}.quarantined-by-safe-npm`);
  }, 180_000);

  it("one created inside is moved aside after the run, and said so", async () => {
    const { w, config } = world();
    const run = await w.run(["install"]);
    expect(probe(w, "write.txt"), show(run)).toBe("ok");
    expect(existsSync(config)).toBe(false);
    expect(existsSync(`${config}.quarantined-by-safe-npm`)).toBe(true);
    expect(run.stderr).toContain(`moved ${config} to ${config}.quarantined-by-safe-npm`);
  }, 180_000);

  it("a client certificate key the user's ~/.npmrc keeps in the project is hidden inside", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    const key = join(w.project, "client.key");
    const text = "-----BEGIN PRIVATE KEY-----\nCLIENT-KEY-SECRET\n-----END PRIVATE KEY-----\n";
    writeFileSync(key, text);
    writeFileSync(
      join(w.project, "client.crt"),
      "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    );
    writeFileSync(
      join(w.home, ".npmrc"),
      `${readFileSync(join(w.home, ".npmrc"), "utf8")}//registry.example.test/:certfile=${join(w.project, "client.crt")}\n//registry.example.test/:keyfile=${key}\n`,
    );
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        scripts: { preinstall: "node peek.cjs client.key" },
      }),
    );
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(probe(w, "seen.txt"), show(run)).toBe("");
    expect(probe(w, "write.txt")).not.toBe("ok");
    expect(readFileSync(key, "utf8")).toBe(text);
  }, 180_000);

  const KEY_TEXT = "-----BEGIN PRIVATE KEY-----\nCLIENT-KEY-SECRET\n-----END PRIVATE KEY-----\n";
  /**
   * Plants a hard link to the key path when the key is missing (creating it), and reads that
   * link into .probe/seen.txt when it exists.
   */
  const PLANT = `
const fs = require("node:fs");
fs.mkdirSync(".probe", { recursive: true });
fs.mkdirSync("stash", { recursive: true });
if (!fs.existsSync("client.key")) {
  try { fs.writeFileSync("client.key", ""); fs.linkSync("client.key", "stash/k"); } catch (e) { fs.writeFileSync(".probe/plant.txt", e.code); }
}
let seen = "";
try { seen = fs.readFileSync("stash/k", "utf8"); } catch (e) { seen = "unreadable " + e.code; }
fs.writeFileSync(".probe/seen.txt", seen);
`;
  /** A world whose ~/.npmrc names a client certificate and key in the project. */
  const keyWorld = (script: string, named = true): { w: World; key: string } => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    const key = join(w.project, "client.key");
    writeFileSync(join(w.project, "plant.cjs"), PLANT);
    writeFileSync(
      join(w.project, "client.crt"),
      "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    );
    if (named)
      writeFileSync(
        join(w.home, ".npmrc"),
        `${readFileSync(join(w.home, ".npmrc"), "utf8")}//registry.example.test/:certfile=${join(w.project, "client.crt")}\n//registry.example.test/:keyfile=${key}\n`,
      );
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", scripts: { plant: script } }),
    );
    return { w, key };
  };

  it("a key created inside before the user writes it is moved aside: a link made to it never shows the key", async () => {
    // Control, without safe-npm: the link made before the key is written shows the key after.
    const control = keyWorld("node plant.cjs");
    execFileSync(process.execPath, ["plant.cjs"], { cwd: control.w.project });
    writeFileSync(control.key, KEY_TEXT);
    expect(readFileSync(join(control.w.project, "stash", "k"), "utf8")).toBe(KEY_TEXT);

    const { w, key } = keyWorld("node plant.cjs");
    const first = await w.run(["run", "plant"]);
    expect(first.exitCode, show(first)).toBe(0);
    expect(existsSync(join(w.project, "stash", "k")), show(first)).toBe(true);
    expect(existsSync(key), show(first)).toBe(false);
    expect(first.stderr).toContain(`moved ${key} to ${key}.quarantined-by-safe-npm`);
    // The user writes the key, as `echo … > client.key` does: a new file now. (A key still
    // missing stops an install, whose gateway reads it: `safe-npm run` has no network.)
    writeFileSync(key, KEY_TEXT);
    const second = await w.run(["run", "plant"]);
    expect(second.exitCode, show(second)).toBe(0);
    expect(probe(w, "seen.txt"), show(second)).toBe("");
    expect(readFileSync(key, "utf8")).toBe(KEY_TEXT);
  }, 360_000);

  it("a key with another name in the project (a hard link) stops the run before anything runs", async () => {
    // Control, the key not named in ~/.npmrc: the link shows it inside.
    const control = keyWorld("node plant.cjs", false);
    writeFileSync(control.key, KEY_TEXT);
    mkdirSync(join(control.w.project, "stash"));
    linkSync(control.key, join(control.w.project, "stash", "k"));
    const open = await control.w.run(["run", "plant"]);
    expect(open.exitCode, show(open)).toBe(0);
    expect(probe(control.w, "seen.txt"), show(open)).toBe(KEY_TEXT);

    const { w, key } = keyWorld("node plant.cjs");
    writeFileSync(key, KEY_TEXT);
    mkdirSync(join(w.project, "stash"));
    linkSync(key, join(w.project, "stash", "k"));
    const run = await w.run(["run", "plant"]);
    expect(run.exitCode, show(run)).toBe(125);
    expect(run.stderr).toContain(`client certificate key (keyfile) ${key} has 2 names`);
    expect(run.stderr).toContain("-samefile");
    expect(existsSync(join(w.project, ".probe")), show(run)).toBe(false);
  }, 360_000);

  it("a user config with another name in the project (a hard link) stops the run", async () => {
    const { w, config } = world();
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        scripts: { preinstall: "node peek.cjs stash/c" },
      }),
    );
    const text = `//registry.npmjs.org/:_authToken=${TOKEN}\n`;
    writeFileSync(config, text);
    mkdirSync(join(w.project, "stash"));
    linkSync(config, join(w.project, "stash", "c"));
    // Control: without safe-npm, the other name shows the token.
    execFileSync(process.execPath, ["peek.cjs", "stash/c"], { cwd: w.project });
    expect(probe(w, "seen.txt")).toContain(TOKEN);
    rmSync(join(w.project, ".probe"), { recursive: true });
    writeFileSync(config, text);
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(125);
    expect(run.stderr).toContain(`npm user config (NPM_CONFIG_USERCONFIG) ${config} has 2 names`);
    expect(existsSync(join(w.project, ".probe")), show(run)).toBe(false);
  }, 180_000);

  /** Where the user's config names the key, and how (each missed before). */
  const spellings: {
    name: string;
    config: (w: World, key: string) => { file: string; text: string; env?: Record<string, string> };
  }[] = [
    {
      name: "quoted key names in ~/.npmrc",
      config: (w, key) => ({
        file: join(w.home, ".npmrc"),
        text: `"//registry.example.test/:certfile"=${join(w.project, "client.crt")}\n"//registry.example.test/:keyfile" = ${key}\n`,
      }),
    },
    {
      name: "a path relative to the working directory",
      config: (w) => ({
        file: join(w.home, ".npmrc"),
        text: "//registry.example.test/:certfile=client.crt\n//registry.example.test/:keyfile=client.key\n",
      }),
    },
    {
      name: "npm's global npmrc (<node prefix>/etc/npmrc)",
      config: (w, key) => {
        // A node of its own prefix, first on PATH (as a tarball install in /opt would be).
        const prefix = nodePrefix(w.dir);
        return {
          file: join(prefix, "etc", "npmrc"),
          text: `//registry.example.test/:certfile=${join(w.project, "client.crt")}\n//registry.example.test/:keyfile=${key}\n`,
          env: { PATH: `${join(prefix, "bin")}:${w.env.PATH}` },
        };
      },
    },
  ];

  it.each(spellings)(
    "a key named by $name is hidden in `safe-npm run`",
    async ({ config }) => {
      const { w, key } = keyWorld("node peek.cjs client.key", false);
      writeFileSync(key, KEY_TEXT);
      const { file, text, env = {} } = config(w, key);
      // Control: before the config names it, the key is just a project file, readable inside.
      const open = await w.run(["run", "plant"], { env });
      expect(open.exitCode, show(open)).toBe(0);
      expect(probe(w, "seen.txt"), show(open)).toBe(KEY_TEXT);
      // (It could write there too: the key is put back.)
      writeFileSync(key, KEY_TEXT);
      writeFileSync(file, `${existsSync(file) ? readFileSync(file, "utf8") : ""}${text}`);
      const run = await w.run(["run", "plant"], { env });
      expect(run.exitCode, show(run)).toBe(0);
      expect(probe(w, "seen.txt"), show(run)).toBe("");
      expect(readFileSync(key, "utf8")).toBe(KEY_TEXT);
    },
    360_000,
  );

  it("a config outside the project stays out of reach, as ~/.npmrc does", async () => {
    const { w } = world();
    const outside = join(w.dir, "npmrc-outside");
    writeFileSync(outside, `//registry.npmjs.org/:_authToken=${TOKEN}\n`);
    w.env.NPM_CONFIG_USERCONFIG = outside;
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        scripts: { preinstall: `node peek.cjs ${outside}` },
      }),
    );
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(probe(w, "seen.txt")).toBe("unreadable ENOENT");
  }, 180_000);

  it("a config path built on $PWD in braces stops the run: npm reads it anew in every folder", async () => {
    const { w } = world();
    // Written as a CI job's YAML env block writes it: npm replaces it, not the shell.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: npm's own `${VAR}` syntax
    w.env.NPM_CONFIG_USERCONFIG = "${PWD}/.npmrc-ci";
    mkdirSync(join(w.project, "docs"));
    // (control) npm started in docs/ reads docs/.npmrc-ci: a file a run could have planted.
    const used = execFileSync("npm", ["config", "get", "userconfig"], {
      cwd: join(w.project, "docs"),
      env: { ...w.env, PWD: join(w.project, "docs") },
      encoding: "utf8",
    }).trim();
    expect(used).toBe(join(w.project, "docs", ".npmrc-ci"));
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(125);
    expect(run.stderr).toContain("NPM_CONFIG_USERCONFIG=");
    expect(run.stderr).toContain("which npm replaces with the folder it runs in");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: npm's own `${VAR}` syntax
    expect(run.stderr).toContain("${PWD}");
    expect(existsSync(join(w.project, ".probe")), show(run)).toBe(false);
  }, 180_000);

  it("a program the project's .npmrc names on $PWD in braces stops the run: a bare npm in src/ would run src/tools/sh", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    mkdirSync(join(w.project, "tools"));
    mkdirSync(join(w.project, "src", "tools"), { recursive: true });
    writeFileSync(join(w.project, "tools", "sh"), '#!/bin/sh\nexec /bin/sh "$@"\n', {
      mode: 0o755,
    });
    const pwned = join(w.dir, "PWNED-script-shell");
    // What a run could leave in src/: npm there expands ${PWD} to src.
    writeFileSync(
      join(w.project, "src", "tools", "sh"),
      `#!/bin/sh\ntouch ${pwned}\nexec /bin/sh "$@"\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(w.project, ".npmrc"),
      `${readFileSync(join(w.project, ".npmrc"), "utf8")}script-shell=\${PWD}/tools/sh\n`,
    );
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", scripts: { build: "echo build" } }),
    );
    // (control) the host's npm, started in src/, runs the planted shell.
    execFileSync("npm", ["run", "build"], {
      cwd: join(w.project, "src"),
      env: { ...w.env, PWD: join(w.project, "src") },
      stdio: "ignore",
    });
    expect(existsSync(pwned)).toBe(true);
    rmSync(pwned);
    const run = await w.run(["run", "build"]);
    expect(run.exitCode, show(run)).toBe(125);
    expect(run.stderr).toContain("the project's .npmrc names");
    expect(existsSync(pwned)).toBe(false);
  }, 180_000);

  it("the global config that a user config named by the project's .npmrc moves shows no token inside", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    // A node of its own prefix, first on PATH: its folder is shown inside.
    const prefix = nodePrefix(w.dir);
    const env = { PATH: `${join(prefix, "bin")}:${w.env.PATH}` };
    const global = join(prefix, "etc", "work-npmrc");
    writeFileSync(global, `//registry.npmjs.org/:_authToken=${TOKEN}\nfund=false\n`);
    const work = join(w.home, ".npmrc-work");
    writeFileSync(work, `globalconfig=${global}\n`);
    writeFileSync(
      join(w.project, ".npmrc"),
      `${readFileSync(join(w.project, ".npmrc"), "utf8")}userconfig=${work}\n`,
    );
    // (control) the host's npm takes that file as its global config.
    expect(hostGlobalConfig({ ...w, env: { ...w.env, ...env } })).toBe(global);
    const run = await w.run(["--quiet", "exec", "--", "cat", global], { env });
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stdout).toContain("fund=false");
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  }, 180_000);

  it("a relative program the project's .npmrc names stops the run: npm resolves it in each workspace package", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    const pkg = join(w.project, "packages", "a");
    mkdirSync(join(w.project, "tools"));
    mkdirSync(join(pkg, "tools"), { recursive: true });
    writeFileSync(join(w.project, "tools", "sh"), '#!/bin/sh\nexec /bin/sh "$@"\n', {
      mode: 0o755,
    });
    const pwned = join(w.dir, "PWNED-workspace-shell");
    // What a run could leave in a workspace package: npm resolves ./tools/sh there.
    writeFileSync(join(pkg, "tools", "sh"), `#!/bin/sh\ntouch ${pwned}\nexec /bin/sh "$@"\n`, {
      mode: 0o755,
    });
    writeFileSync(
      join(pkg, "package.json"),
      JSON.stringify({ name: "a", version: "1.0.0", scripts: { build: "echo a" } }),
    );
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", private: true, workspaces: ["packages/*"] }),
    );
    writeFileSync(
      join(w.project, ".npmrc"),
      `${readFileSync(join(w.project, ".npmrc"), "utf8")}script-shell=./tools/sh\n`,
    );
    // (control) the host's npm runs the workspace package's script with that package's shell.
    execFileSync("npm", ["run", "build", "-w", "a"], {
      cwd: w.project,
      env: w.env,
      stdio: "ignore",
    });
    expect(existsSync(pwned)).toBe(true);
    rmSync(pwned);
    const run = await w.run(["npm", "run", "build", "-w", "a"]);
    expect(run.exitCode, show(run)).toBe(125);
    expect(run.stderr).toContain("each workspace package's own");
    expect(existsSync(pwned)).toBe(false);
  }, 180_000);
});
