/**
 * The private home keeps caches, not configuration. A first sandboxed run plants configuration
 * that makes each package manager run a program of its choosing — npm's `script-shell` in
 * ~/.npmrc, pnpm's in ~/.config/pnpm/rc, yarn 4's `yarnPath` in ~/.yarnrc.yml, a module in
 * ~/node_modules (and bun's cache directory in ~/.bunfig.toml, which bun reads for its package
 * manager commands only, and which holds no program) — with the programs themselves in a cache
 * directory that does persist (~/.npm). The next sandboxed run must not run them; the same plant
 * in a home used by the bare tools (the control) does run them.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { nodePrefix, TOOL_BINS } from "./tools.js";
import { makeWorld, type RunResult, SECRETS, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

/**
 * Plants, relative to `os.homedir()`: the programs in ~/.npm (a cache, kept between runs) and the
 * configuration that points at them. Run inside a sandbox, and by the controls on the host.
 * Prints what it wrote, so a run that could not plant is not mistaken for a defended one.
 */
const PLANT_JS = `const fs = require("node:fs");
const path = require("node:path");
const home = require("node:os").homedir();
const marker = process.argv[2];
const written = {};
const w = (rel, content, mode = 0o644, append = false) => {
  const file = path.join(home, rel);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    (append ? fs.appendFileSync : fs.writeFileSync)(file, content, { mode });
    written[rel] = true;
  } catch (e) { written[rel] = e.code; }
};
const sh = path.join(home, ".npm", "evil.sh");
const js = path.join(home, ".npm", "evil.cjs");
w(".npm/evil.sh", "#!/bin/sh\\necho script-shell >> " + marker + "\\nexec /bin/sh \\"$@\\"\\n", 0o755);
w(".npm/evil.cjs", "require('node:fs').appendFileSync(" + JSON.stringify(marker) + ", 'js\\\\n');\\n");
w(".npmrc", "script-shell=" + sh + "\\n", 0o644, true);
w(".config/pnpm/rc", "script-shell=" + sh + "\\n");
w(".yarnrc.yml", "yarnPath: " + js + "\\n");
w(".bunfig.toml", "[install.cache]\\ndir = " + JSON.stringify(path.join(home, ".npm", "planted-cache")) + "\\n");
w("node_modules/optional-helper/index.js", "require(" + JSON.stringify(js) + ");\\n");
console.log("planted:" + JSON.stringify(written));
`;

const HELLO_JS = 'console.log("hello from node");\n';
/** A module many packages try to load and do without when it is missing. */
const OPTIONAL_JS =
  'try { require("optional-helper"); console.log("loaded"); } catch { console.log("absent"); }\n';

describe.skipIf(unavailable !== "")("configuration planted in the private home", () => {
  let world: World;
  let path: string;
  let marker: string;
  let plant: RunResult;
  const env = (): { env: { PATH: string } } => ({ env: { PATH: path } });
  const ran = (): string => (existsSync(marker) ? readFileSync(marker, "utf8") : "");

  /** The bare tool on the host, with `home` as $HOME. */
  const bare = async (home: string, argv: string[]): Promise<RunResult> => {
    const r = await execa(argv[0] as string, argv.slice(1), {
      cwd: world.project,
      env: { ...world.env, HOME: home, PATH: path },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };

  beforeAll(async () => {
    world = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { hello: "echo hello from a script" } },
    });
    // No ~/.npmrc on the host: inside, ~/.npmrc is then an ordinary file in the home.
    rmSync(join(world.home, ".npmrc"));
    marker = join(world.project, "evil-ran.log");
    writeFileSync(join(world.project, "plant.js"), PLANT_JS);
    writeFileSync(join(world.project, "hello.js"), HELLO_JS);
    writeFileSync(join(world.project, "optional.js"), OPTIONAL_JS);
    writeFileSync(
      join(world.project, ".git", "info", "exclude"),
      "plant.js\nhello.js\noptional.js\nevil-ran.log\n",
    );
    const bin = join(world.dir, "pm-bin");
    mkdirSync(bin);
    symlinkSync(TOOL_BINS.pnpm, join(bin, "pnpm"));
    symlinkSync(TOOL_BINS.yarn4, join(bin, "yarn"));
    symlinkSync(TOOL_BINS.bun, join(bin, "bun"));
    path = `${bin}:${world.env.PATH}`;
    plant = await world.run(["--quiet", "exec", "--", "node", "plant.js", marker], env());
  });
  afterAll(() => world?.dispose());
  beforeEach(() => rmSync(marker, { force: true }));

  it("lets the first run write the configuration into its home", () => {
    expect(plant.exitCode, show(plant)).toBe(0);
    const written = JSON.parse(plant.stdout.split("planted:")[1] ?? "null") as Record<
      string,
      unknown
    >;
    expect(
      Object.values(written).every((v) => v === true),
      plant.stdout,
    ).toBe(true);
    // Not into the real home.
    expect(existsSync(join(world.home, ".npmrc"))).toBe(false);
    expect(existsSync(join(world.home, ".npm"))).toBe(false);
  });

  it("keeps the caches: the program planted in ~/.npm is still there next run", async () => {
    const r = await world.run(["--quiet", "exec", "--", "sh", "-c", "cat ~/.npm/evil.sh"], env());
    expect(r.stdout, show(r)).toContain("script-shell");
  });

  it("npm: the next `safe-npm run` does not use the planted script-shell", async () => {
    const r = await world.run(["--quiet", "run", "hello"], env());
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toContain("hello from a script");
    expect(ran()).toBe("");
  });

  it("pnpm: the next `safe-npm pnpm run` does not use ~/.config/pnpm/rc", async () => {
    const r = await world.run(["--quiet", "pnpm", "run", "hello"], env());
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toContain("hello from a script");
    expect(ran()).toBe("");
  });

  it("yarn 4: the next `safe-npm yarn` does not run the planted yarnPath", async () => {
    const r = await world.run(["--quiet", "yarn", "--version"], env());
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout.trim()).toMatch(/^4\./);
    expect(ran()).toBe("");
  });

  it("bun: the next `safe-npm bun pm` does not read ~/.bunfig.toml", async () => {
    const r = await world.run(["--quiet", "bun", "pm", "cache"], env());
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe(join(world.home, ".bun", "install", "cache"));
  });

  it("node: the next run does not load a module planted in ~/node_modules", async () => {
    const r = await world.run(["--quiet", "exec", "--", "node", "optional.js"], env());
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe("absent");
    expect(ran()).toBe("");
  });

  describe("(controls) the same plant in a home used by the bare tools runs the programs", () => {
    let controlHome: string;
    beforeAll(async () => {
      controlHome = join(world.dir, "control-home");
      mkdirSync(controlHome);
      const r = await bare(controlHome, ["node", "plant.js", marker]);
      expect(r.stdout, show(r)).toContain("planted:");
    });

    it("npm", async () => {
      const r = await bare(controlHome, ["npm", "run", "hello"]);
      expect(r.stdout, show(r)).toContain("hello from a script");
      expect(ran()).toBe("script-shell\n");
    });

    it("pnpm", async () => {
      rmSync(join(controlHome, ".npmrc"));
      await bare(controlHome, ["pnpm", "run", "hello"]);
      expect(ran()).toBe("script-shell\n");
    });

    it("yarn 4", async () => {
      await bare(controlHome, ["yarn", "--version"]);
      expect(ran()).toBe("js\n");
    });

    it("bun", async () => {
      const r = await bare(controlHome, ["bun", "pm", "cache"]);
      expect(r.stdout.trim(), show(r)).toBe(join(controlHome, ".npm", "planted-cache"));
    });

    it("node, with the module in a directory above the project", async () => {
      const dir = join(world.home, "node_modules", "optional-helper");
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "index.js"),
        readFileSync(join(controlHome, "node_modules", "optional-helper", "index.js")),
      );
      const r = await bare(controlHome, ["node", "optional.js"]);
      rmSync(join(world.home, "node_modules"), { recursive: true });
      expect(r.stdout.trim(), show(r)).toBe("loaded");
      expect(ran()).toBe("js\n");
    });
  });
});

describe.skipIf(unavailable !== "")("the user's own ~/.npmrc", () => {
  let world: World;
  let marker: string;

  beforeAll(() => {
    world = makeWorld({
      projectInHome: false,
      packageJson: { scripts: { hello: "echo hello from a script" } },
    });
    marker = join(world.dir, "script-shell-ran");
    const evil = join(world.dir, "evil.sh");
    writeFileSync(evil, `#!/bin/sh\necho ran >> ${marker}\nexec /bin/sh "$@"\n`, { mode: 0o755 });
    writeFileSync(
      join(world.home, ".npmrc"),
      [
        `//registry.npmjs.org/:_authToken=${SECRETS.npmToken}`,
        `"//registry.npmjs.org/:_password" = ${SECRETS.npmToken}`,
        "registry=http://127.0.0.1:9/",
        `script-shell = ${evil}`,
        `[section]\nnode-options=--require ${evil}`,
        "",
      ].join("\r\n"),
    );
  });
  afterAll(() => world?.dispose());

  it("enters without its tokens or its script-shell", async () => {
    const r = await world.run(["--quiet", "exec", "--", "cat", join(world.home, ".npmrc")]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toBe("registry=http://127.0.0.1:9/");
    const run = await world.run(["--quiet", "run", "hello"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stdout).toContain("hello from a script");
    expect(existsSync(marker)).toBe(false);
  });

  it("(control) the bare npm uses its script-shell", async () => {
    const r = await execa("npm", ["run", "hello"], {
      cwd: world.project,
      env: world.env,
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    });
    expect(String(r.stdout)).toContain("hello from a script");
    expect(readFileSync(marker, "utf8")).toBe("ran\n");
  });
});

describe.skipIf(unavailable !== "")("npm's global npmrc (<node prefix>/etc/npmrc)", () => {
  let world: World;
  let marker: string;
  let prefix: string;
  let path: string;

  beforeAll(() => {
    world = makeWorld({
      projectInHome: false,
      packageJson: { scripts: { hello: "echo hello from a script" } },
    });
    marker = join(world.dir, "global-script-shell-ran");
    // A node of its own prefix, first on PATH (as a tarball install in /opt or ~/.local would be).
    prefix = nodePrefix(world.dir);
    const evil = join(prefix, "evil.sh");
    writeFileSync(evil, `#!/bin/sh\necho ran >> ${marker}\nexec /bin/sh "$@"\n`, { mode: 0o755 });
    writeFileSync(
      join(prefix, "etc", "npmrc"),
      `//registry.npmjs.org/:_authToken=${SECRETS.npmToken}\nscript-shell=${evil}\nfund=false\n`,
    );
    path = `${join(prefix, "bin")}:${world.env.PATH}`;
  });
  afterAll(() => world?.dispose());

  it("enters without its token or its script-shell", async () => {
    const global = join(prefix, "etc", "npmrc");
    const r = await world.run(["--quiet", "exec", "--", "cat", global], { env: { PATH: path } });
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toBe("fund=false");
    const run = await world.run(["--quiet", "run", "hello"], { env: { PATH: path } });
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stdout).toContain("hello from a script");
    expect(existsSync(marker)).toBe(false);
  });

  it("(control) the bare npm, under that node, uses its script-shell", async () => {
    const r = await execa("npm", ["run", "hello"], {
      cwd: world.project,
      env: { ...world.env, PATH: path },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
    });
    expect(String(r.stdout), String(r.stderr)).toContain("hello from a script");
    expect(readFileSync(marker, "utf8")).toBe("ran\n");
  });
});
