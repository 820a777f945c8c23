/**
 * Host-side steps a sandboxed run must not be able to steer, each attacked for real with a
 * control that shows the attack works where safe-npm does not stand in the way:
 *
 * - a host command's flags: npm expands any unambiguous prefix of a config key (`--userc` is
 *   `--userconfig`), so a flag outside the short host list sends the command to the sandbox;
 * - a PATH entry in a project: a bin planted in `node_modules/.bin` must not become the real
 *   tool (or the `node` it starts) that host commands run;
 * - `XDG_CACHE_HOME` in the project: a run must not plant a journal that the next run obeys on
 *   the host (relinking `.git` to a git dir whose fsmonitor `git status` runs);
 * - a PATH entry deep in a project (devbox's `.devbox/nix/profile/default/bin`): a `bwrap`
 *   planted there must not be the one the next run starts;
 * - a clean PATH entry with a link into a project (`npm link`'s pattern): the npm, node or bwrap
 *   it resolves to there must not run on the host;
 * - `XDG_CONFIG_HOME` in the project: a run must plant neither safe-npm settings that widen the
 *   next run nor a git config whose fsmonitor `git status` runs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { httpServer, type TestServer } from "../unit/network/helpers.js";
import { PNPM_LATEST_YAML, TOOL_BINS } from "./tools.js";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const TIMEOUT = 240_000;

describe.skipIf(unavailable !== "")("host commands carry only listed flags", () => {
  let world: World;
  let registry: TestServer;
  let nowhere: string;
  let npmrc: string;
  const SECRET = "topsecret42";

  beforeAll(async () => {
    world = makeWorld({ projectInHome: false });
    registry = await httpServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    // A directory with no project above, and a planted config elsewhere that leaks a variable.
    nowhere = join(world.dir, "nowhere");
    mkdirSync(nowhere);
    const p7 = join(world.dir, "a4", "p7");
    mkdirSync(p7, { recursive: true });
    npmrc = join(p7, ".npmrc");
    writeFileSync(npmrc, `registry=http://127.0.0.1:${registry.port}/leak-\${MYSECRET}/\n`);
    writeFileSync(join(world.dir, "empty-npmrc"), "update-notifier=false\n");
  });
  afterAll(async () => {
    await registry?.close();
    world?.dispose();
  });
  afterEach(() => {
    registry.requests.length = 0;
  });

  const leaked = (): boolean => registry.requests.some((r) => r.url.includes(SECRET));
  // A user config naming no registry, so that a global config's registry counts (--globalc).
  const env = (): Record<string, string> => ({
    MYSECRET: SECRET,
    NPM_CONFIG_USERCONFIG: join(world.dir, "empty-npmrc"),
  });

  it(
    "control: the real npm 11 expands --userc and --globalc and sends the variable to the registry (npm 12 refuses abbreviations)",
    async () => {
      const major = Number(execFileSync("npm", ["--version"], { encoding: "utf8" }).split(".")[0]);
      for (const flag of ["--userc", "--globalc"]) {
        // Not spawnSync: the registry answers from this process's event loop.
        const r = await execa("npm", ["view", "create-evil", "name", `${flag}=${npmrc}`], {
          cwd: nowhere,
          env: { ...world.env, ...env() },
          extendEnv: false,
          reject: false,
          stdin: "ignore",
        });
        if (major >= 12) {
          expect(r.stderr, flag).toContain(`Invalid abbreviated flag "${flag}"`);
          expect(leaked(), flag).toBe(false);
        } else {
          expect(leaked(), flag).toBe(true);
        }
        registry.requests.length = 0;
      }
    },
    TIMEOUT,
  );

  it(
    "safe-npm does not run them on the host: no request carries the variable",
    async () => {
      for (const args of [
        [`--userc=${npmrc}`],
        ["--userc", npmrc],
        [`--globalc=${npmrc}`],
        [`--userconfi=${npmrc}`],
      ]) {
        const r = await world.run(["npm", "view", "create-evil", "name", ...args], {
          cwd: nowhere,
          env: env(),
        });
        // Sandboxed, which needs a project: there is none here.
        expect(r.exitCode, r.stderr).toBe(125);
        expect(r.stderr).toContain("no package.json");
        expect(leaked(), args.join(" ")).toBe(false);
      }
    },
    TIMEOUT,
  );

  it(
    "a listed flag still runs on the host (--registry, --json)",
    async () => {
      const r = await world.run(
        [
          "npm",
          "view",
          "create-evil",
          "name",
          "--json",
          `--registry=http://127.0.0.1:${registry.port}/ok/`,
        ],
        { cwd: nowhere, env: env() },
      );
      // The registry answers 404: npm's own error, from the host run.
      expect(r.exitCode).not.toBe(125);
      expect(registry.requests.map((q) => q.url)).toContain("/ok/create-evil");
      expect(leaked()).toBe(false);
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")("a PATH entry in a project supplies no host tool", () => {
  let world: World;
  let nowhere: string;
  let tools: string;
  let pwned: string;

  beforeAll(async () => {
    world = makeWorld({ projectInHome: false });
    nowhere = join(world.dir, "nowhere");
    mkdirSync(nowhere);
    pwned = join(world.dir, "PWNED");
    // The "real" pnpm, outside any project.
    tools = join(world.dir, "tools", "bin");
    mkdirSync(tools, { recursive: true });
    writeFileSync(join(tools, "pnpm"), '#!/bin/sh\necho "real-pnpm $*"\n');
    chmodSync(join(tools, "pnpm"), 0o755);
    // The plant, by a sandboxed run: a pnpm in node_modules/.bin, and a node in the project's
    // bin/ (a `node_modules/.bin/node` is moved aside by the after-run check: it shadows a host
    // command), each marking the host when run there.
    const bin = (dir: string, name: string): string =>
      `mkdir -p ${dir} && printf '#!/bin/sh\\necho ${name} >> ${pwned}\\n' > ${dir}/${name} && chmod +x ${dir}/${name}`;
    const planted = await world.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      `${bin("node_modules/.bin", "pnpm")} && ${bin("bin", "node")}`,
    ]);
    expect(planted.exitCode, planted.stderr).toBe(0);
    expect(existsSync(join(world.project, "node_modules", ".bin", "pnpm"))).toBe(true);
    expect(existsSync(join(world.project, "bin", "node"))).toBe(true);
  }, TIMEOUT);
  afterAll(() => world?.dispose());
  beforeEach(() => spawnSync("rm", ["-f", pwned]));

  const path = (): string =>
    `${join(world.project, "node_modules", ".bin")}:${join(world.project, "bin")}:${tools}:${world.env.PATH}`;

  it(
    "control: with that PATH a plain pnpm, and npm's `env node`, run the planted bins",
    () => {
      spawnSync("sh", ["-c", "pnpm --version; npm --version"], {
        cwd: nowhere,
        env: { ...world.env, PATH: path() },
      });
      expect(existsSync(pwned)).toBe(true);
      expect(execFileSync("cat", [pwned], { encoding: "utf8" })).toBe("pnpm\nnode\n");
    },
    TIMEOUT,
  );

  it(
    "safe-npm's host commands run the real pnpm, and npm with the real node",
    async () => {
      for (const args of [["--version"], ["config", "set", "foo", "bar"], ["login"]]) {
        const r = await world.run(["pnpm", ...args], { cwd: nowhere, env: { PATH: path() } });
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout).toContain(`real-pnpm ${args.join(" ")}`);
      }
      const npm = await world.run(["npm", "--version"], { cwd: nowhere, env: { PATH: path() } });
      expect(npm.exitCode, npm.stderr).toBe(0);
      expect(npm.stdout).toMatch(/^\d+\.\d+\.\d+/);
      expect(existsSync(pwned)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    "--verbose names the PATH entry left out",
    async () => {
      const r = await world.run(["--verbose", "pnpm", "--version"], {
        cwd: nowhere,
        env: { PATH: path() },
      });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toContain("PATH entry not used on the host");
      expect(r.stderr).toContain("node_modules");
      expect(existsSync(pwned)).toBe(false);
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")("XDG_CACHE_HOME inside the project", () => {
  let world: World;
  let pwned: string;
  let cacheInProject: string;

  beforeAll(() => {
    world = makeWorld({ projectInHome: false });
    pwned = join(world.dir, "PWNED-journal");
    cacheInProject = join(world.project, ".cache");
    world.env.XDG_CACHE_HOME = cacheInProject;
    // The run's code: a git dir deep in node_modules with an fsmonitor, and a copy of its own
    // run journal (if it can find one) as that of a killed run that had `.git` as a link there.
    const root = realpathSync(world.project);
    writeFileSync(
      join(world.project, "plant.cjs"),
      `const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");
const g = path.join(${JSON.stringify(root)}, "node_modules/foo/lib/deep/g");
fs.mkdirSync(path.join(g, "objects"), { recursive: true });
fs.mkdirSync(path.join(g, "refs"), { recursive: true });
fs.writeFileSync(path.join(g, "HEAD"), "ref: refs/heads/main\\n");
fs.writeFileSync(path.join(g, "config"), "[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = \\"touch ${pwned}; false\\"\\n");
const runs = path.join(${JSON.stringify(cacheInProject)}, "safe-npm", "runs");
const prefix = crypto.createHash("sha256").update(${JSON.stringify(root)}).digest("hex").slice(0, 16);
let found = 0;
for (const name of fs.existsSync(runs) ? fs.readdirSync(runs) : []) {
  if (!name.startsWith(prefix)) continue;
  const data = JSON.parse(fs.readFileSync(path.join(runs, name), "utf8"));
  data.topLevel = { names: [".git"], links: [[".git", "node_modules/foo/lib/deep/g"]] };
  fs.writeFileSync(path.join(runs, prefix + "-999999-1.json"), JSON.stringify(data));
  found++;
}
console.log("journals found: " + found);
`,
    );
  });
  afterAll(() => world?.dispose());

  it(
    "keeps journals and homes out of the project, so the next run relinks nothing and git runs no planted code",
    async () => {
      const run1 = await world.run(["exec", "--", "node", "plant.cjs"]);
      expect(run1.exitCode, run1.stderr).toBe(0);
      const run2 = await world.run(["exec", "--", "true"]);
      // What a shell prompt does next; its exit status is not the point.
      spawnSync("git", ["status"], { cwd: world.project, stdio: "ignore" });
      // The attack: the real .git relinked to the planted git dir, its fsmonitor run by git.
      expect(existsSync(pwned), run2.stderr).toBe(false);
      expect(lstatSync(join(world.project, ".git")).isDirectory()).toBe(true);
      expect(existsSync(join(world.project, ".git.quarantined-by-safe-npm"))).toBe(false);
      expect(run2.exitCode, run2.stderr).toBe(0);
      // Why: the journal was never where the run could find it; the cache is elsewhere, said.
      expect(run1.stdout).toContain("journals found: 0");
      expect(run1.stderr).toContain("set XDG_CACHE_HOME outside any project");
      expect(existsSync(join(cacheInProject, "safe-npm"))).toBe(false);
      // The project's private home and its record, in ~/.cache.
      expect(readdirSync(join(world.home, ".cache", "safe-npm", "homes")).sort()).toEqual([
        expect.stringMatching(/^app-[0-9a-f]+$/),
        expect.stringMatching(/^app-[0-9a-f]+\.json$/),
      ]);
    },
    TIMEOUT,
  );

  it(
    "control: the planted git dir runs its fsmonitor once `.git` leads there",
    () => {
      const g = join(world.project, "node_modules", "foo", "lib", "deep", "g");
      expect(existsSync(join(g, "config"))).toBe(true);
      execFileSync("git", ["--git-dir", g, "--work-tree", world.project, "status"], {
        cwd: world.project,
        stdio: "ignore",
      });
      expect(existsSync(pwned)).toBe(true);
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")("a PATH entry deep in a project supplies no host tool", () => {
  let world: World;
  let deep: string;
  let pwned: string;

  beforeAll(async () => {
    world = makeWorld({ projectInHome: false });
    pwned = join(world.dir, "PWNED-bwrap");
    // devbox's own layout, five levels into the project, first on PATH.
    deep = join(world.project, ".devbox", "nix", "profile", "default", "bin");
    mkdirSync(deep, { recursive: true });
    const realBwrap = execFileSync("sh", ["-c", "command -v bwrap"], { encoding: "utf8" }).trim();
    // The plant, by a sandboxed run: a bwrap there that marks the host, then runs the real one.
    const planted = await world.run(
      [
        "--quiet",
        "exec",
        "--",
        "sh",
        "-c",
        `printf '#!/bin/sh\\necho planted >> ${pwned}\\nexec ${realBwrap} "$@"\\n' > ${deep}/bwrap && chmod +x ${deep}/bwrap`,
      ],
      { env: { PATH: path() } },
    );
    expect(planted.exitCode, planted.stderr).toBe(0);
    expect(existsSync(join(deep, "bwrap"))).toBe(true);
  }, TIMEOUT);
  afterAll(() => world?.dispose());
  beforeEach(() => spawnSync("rm", ["-f", pwned]));

  const path = (): string => `${deep}:${world.env.PATH}`;

  it(
    "control: with that PATH a plain bwrap runs the planted one",
    () => {
      spawnSync("sh", ["-c", "bwrap --version"], {
        cwd: world.dir,
        env: { ...world.env, PATH: path() },
      });
      expect(existsSync(pwned)).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "safe-npm runs the real bwrap, and doctor names the entry left out",
    async () => {
      const r = await world.run(["exec", "--", "true"], { env: { PATH: path() } });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(existsSync(pwned)).toBe(false);
      const doctor = await world.run(["doctor", "--json"], {
        cwd: world.dir,
        env: { PATH: path() },
      });
      const checks = (JSON.parse(doctor.stdout) as { checks: { name: string; detail: string }[] })
        .checks;
      const line = checks.find((c) => c.name === "PATH in projects")?.detail ?? "";
      expect(line).toContain(`${deep} is below ${realpathSync(world.project)}`);
      expect(existsSync(pwned)).toBe(false);
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")(
  "a clean PATH entry's link into a project supplies no host tool",
  () => {
    let world: World;
    let nowhere: string;
    let pwned: string;
    const clean = (name: string): string => join(world.dir, `clean-${name}`, "bin");

    beforeAll(async () => {
      world = makeWorld({ projectInHome: false });
      nowhere = join(world.dir, "nowhere");
      mkdirSync(nowhere);
      pwned = join(world.dir, "PWNED-linked");
      // The plant, by a sandboxed run: the project's bin/ npm, node and bwrap mark the host.
      const bin = (name: string): string =>
        `printf '#!/bin/sh\\necho ${name} >> ${pwned}\\n' > bin/${name} && chmod +x bin/${name}`;
      const planted = await world.run([
        "--quiet",
        "exec",
        "--",
        "sh",
        "-c",
        `mkdir -p bin && ${bin("npm")} && ${bin("node")} && ${bin("bwrap")}`,
      ]);
      expect(planted.exitCode, planted.stderr).toBe(0);
      // Each linked from a directory outside any project, as `npm link` links a bin.
      for (const name of ["npm", "node", "bwrap"]) {
        mkdirSync(clean(name), { recursive: true });
        symlinkSync(join(world.project, "bin", name), join(clean(name), name));
      }
    }, TIMEOUT);
    afterAll(() => world?.dispose());
    beforeEach(() => spawnSync("rm", ["-f", pwned]));

    const path = (name: string): string => `${clean(name)}:${world.env.PATH}`;
    const pwnedText = (): string =>
      existsSync(pwned) ? execFileSync("cat", [pwned], { encoding: "utf8" }) : "";

    it(
      "control: with those PATHs a plain npm, npm's `env node` and bwrap run the planted files",
      () => {
        for (const [name, command] of [
          ["npm", "npm dist-tag ls app"],
          ["node", "npm --version"],
          ["bwrap", "bwrap --version"],
        ] as const) {
          spawnSync("sh", ["-c", command], {
            cwd: nowhere,
            env: { ...world.env, PATH: path(name) },
          });
        }
        expect(pwnedText()).toBe("npm\nnode\nbwrap\n");
      },
      TIMEOUT,
    );

    it(
      "safe-npm refuses to run them on the host, naming the link and the file",
      async () => {
        const real = realpathSync(world.project);
        for (const [name, args] of [
          ["npm", ["npm", "dist-tag", "ls", "app"]],
          ["node", ["npm", "--version"]],
          ["bwrap", ["exec", "--", "true"]],
        ] as const) {
          const r = await world.run([...args], {
            cwd: name === "bwrap" ? world.project : nowhere,
            env: { PATH: path(name) },
          });
          expect(r.exitCode, r.stderr).toBe(125);
          expect(r.stderr).toContain(
            `${name} on PATH is ${join(clean(name), name)} → ${join(real, "bin", name)}`,
          );
          expect(r.stderr).toContain("does not run it on the host");
        }
        expect(pwnedText()).toBe("");
      },
      TIMEOUT,
    );
  },
);

describe.skipIf(unavailable !== "")("XDG_CONFIG_HOME inside the project", () => {
  let world: World;
  let pwned: string;
  let configInProject: string;
  let secretDir: string;
  const SECRET = "OUTSIDE-SECRET-7731";

  // The run's code: safe-npm settings that widen the next run, and a git config with an
  // fsmonitor, both where XDG_CONFIG_HOME points. Each write is reported, not fatal.
  const plant = (): string => `const fs = require("node:fs");
const path = require("node:path");
const c = ${JSON.stringify(configInProject)};
const put = (rel, text) => {
  try {
    fs.mkdirSync(c, { recursive: true });
    // Not recursive: node's recursive mkdir says ENOENT on a read-only file system.
    try {
      fs.mkdirSync(path.dirname(path.join(c, rel)));
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    fs.writeFileSync(path.join(c, rel), text);
    console.log("planted " + rel);
  } catch (e) {
    console.log("refused " + rel + ": " + e.code);
  }
};
put("safe-npm/config.json", JSON.stringify({ network: "full", binds: { rw: [${JSON.stringify(secretDir)}] } }));
put("git/config", "[core]\\n\\tfsmonitor = \\"touch ${pwned}; false\\"\\n");
`;

  beforeAll(() => {
    world = makeWorld({ projectInHome: false });
    pwned = join(world.dir, "PWNED-fsmonitor");
    configInProject = join(world.project, ".config");
    secretDir = join(world.dir, "secret-outside");
    mkdirSync(secretDir);
    writeFileSync(join(secretDir, "secret.txt"), SECRET);
    writeFileSync(join(world.project, "plant.cjs"), plant());
  });
  afterAll(() => world?.dispose());
  beforeEach(() => spawnSync("rm", ["-rf", pwned, configInProject]));

  const gitStatus = (): void => {
    // What a shell prompt does next, under the same XDG_CONFIG_HOME; its status is not the point.
    spawnSync("git", ["status"], {
      cwd: world.project,
      env: { ...world.env, XDG_CONFIG_HOME: configInProject },
      stdio: "ignore",
    });
  };
  const readSecret = (): string[] => [
    "--verbose",
    "exec",
    "--",
    "cat",
    join(secretDir, "secret.txt"),
  ];

  it(
    "control: with XDG_CONFIG_HOME elsewhere the same run plants both, and both are obeyed",
    async () => {
      const run1 = await world.run(["exec", "--", "node", "plant.cjs"]);
      expect(run1.exitCode, run1.stderr).toBe(0);
      expect(run1.stdout).toContain("planted safe-npm/config.json");
      expect(run1.stdout).toContain("planted git/config");
      // The host's git under that XDG_CONFIG_HOME runs the planted fsmonitor.
      gitStatus();
      expect(existsSync(pwned)).toBe(true);
      // The settings, as the user's own file (XDG_CONFIG_HOME outside any project), widen the run.
      const xdg = join(world.dir, "xdg");
      mkdirSync(join(xdg, "safe-npm"), { recursive: true });
      execFileSync("cp", [join(configInProject, "safe-npm", "config.json"), join(xdg, "safe-npm")]);
      const widened = await world.run(readSecret(), { env: { XDG_CONFIG_HOME: xdg } });
      expect(widened.exitCode, widened.stderr).toBe(0);
      expect(widened.stdout).toContain(SECRET);
      expect(widened.stderr).toMatch(/network +\{"install":"full","run":"full".*\[user\]/);
    },
    TIMEOUT,
  );

  it(
    "a planted settings file in the project stops the run, naming it and XDG_CONFIG_HOME",
    async () => {
      // What the control's run left there, as a run from before this protection could have.
      mkdirSync(join(configInProject, "safe-npm"), { recursive: true });
      writeFileSync(
        join(configInProject, "safe-npm", "config.json"),
        JSON.stringify({ network: "full", binds: { rw: [secretDir] } }),
      );
      const r = await world.run(readSecret(), { env: { XDG_CONFIG_HOME: configInProject } });
      expect(r.exitCode).toBe(125);
      expect(r.stdout).not.toContain(SECRET);
      expect(r.stderr).toContain(join(configInProject, "safe-npm", "config.json"));
      expect(r.stderr).toContain("lies where a sandboxed run may write");
      expect(r.stderr).toContain("XDG_CONFIG_HOME");
      // doctor says the same on its settings line.
      const doctor = await world.run(["doctor"], { env: { XDG_CONFIG_HOME: configInProject } });
      expect(doctor.stdout).toMatch(/✗ settings: .*lies where a sandboxed run may write/);
    },
    TIMEOUT,
  );

  it.each([
    ["missing", false],
    ["already there", true],
  ])(
    "with XDG_CONFIG_HOME in the project (%s) a run can plant neither, so git and the next run obey nothing",
    async (_what, exists) => {
      if (exists) mkdirSync(configInProject);
      const run1 = await world.run(["exec", "--", "node", "plant.cjs"], {
        env: { XDG_CONFIG_HOME: configInProject },
      });
      expect(run1.exitCode, run1.stderr).toBe(0);
      expect(run1.stdout).toMatch(/refused safe-npm\/config.json: E(ROFS|ACCES|PERM)/);
      expect(run1.stdout).toMatch(/refused git\/config: E(ROFS|ACCES|PERM)/);
      expect(existsSync(join(configInProject, "safe-npm"))).toBe(false);
      expect(existsSync(join(configInProject, "git"))).toBe(false);
      // A missing one is made for the run only: nothing is left behind.
      expect(existsSync(configInProject)).toBe(exists);
      gitStatus();
      expect(existsSync(pwned)).toBe(false);
      const run2 = await world.run(readSecret(), { env: { XDG_CONFIG_HOME: configInProject } });
      expect(run2.stdout).not.toContain(SECRET);
      expect(run2.stderr).toContain("user file:  none");
      expect(run2.stderr).not.toContain('"full"');
    },
    TIMEOUT,
  );

  it(
    "with XDG_CONFIG_HOME in the project, the tokens kept there (pnpm, gh, git) are not readable inside",
    async () => {
      const tokens: Record<string, string> = {
        "pnpm/auth.ini": "//registry.example.test/:_authToken=PNPM-AUTH-INI-TOKEN\n",
        "pnpm/rc": "//registry.example.test/:_authToken=PNPM-RC-TOKEN\n",
        "gh/hosts.yml": "github.com:\n    oauth_token: GH-HOSTS-TOKEN\n",
        "git/credentials": "https://u:GIT-CRED-TOKEN@example.test\n",
      };
      for (const [rel, text] of Object.entries(tokens)) {
        mkdirSync(join(configInProject, rel, ".."), { recursive: true });
        writeFileSync(join(configInProject, rel), text);
      }
      const files = Object.keys(tokens).map((rel) => join(configInProject, rel));
      const peek = `ls -A ${configInProject}; cat ${files.join(" ")} 2>&1; true`;
      const inside = await world.run(["exec", "--", "sh", "-c", peek], {
        env: { XDG_CONFIG_HOME: configInProject },
      });
      expect(inside.exitCode, inside.stderr).toBe(0);
      for (const token of ["PNPM-AUTH-INI", "PNPM-RC", "GH-HOSTS", "GIT-CRED"])
        expect(inside.stdout).not.toContain(token);
      expect(inside.stdout).toContain("No such file");
      // (control) the same command with XDG_CONFIG_HOME elsewhere: the folder is the project's.
      const control = await world.run(["exec", "--", "sh", "-c", peek]);
      expect(control.stdout).toContain("PNPM-AUTH-INI-TOKEN");
      // Untouched on the host.
      for (const [rel, text] of Object.entries(tokens))
        expect(readFileSync(join(configInProject, rel), "utf8")).toBe(text);
    },
    TIMEOUT,
  );
});

describe.skipIf(unavailable !== "")("PNPM_CONFIG_HOME inside the project", () => {
  let world: World;
  let pnpmHome: string;
  let pwned: string;
  // The run's code: a global config.yaml whose scriptShell a bare pnpm 12 starts, and the shell.
  const plant = (): string => `const fs = require("node:fs");
const shell = ${JSON.stringify(join("tools", "sh.sh"))};
fs.mkdirSync("tools", { recursive: true });
fs.writeFileSync(shell, "#!/bin/sh\\ntouch ${"$"}{PWNED_AT}\\nexec /bin/sh \\"$@\\"\\n", { mode: 0o755 });
try {
  fs.mkdirSync(${JSON.stringify("ci-pnpm")}, { recursive: true });
  fs.writeFileSync(${JSON.stringify(join("ci-pnpm", "config.yaml"))}, "scriptShell: " + require("node:path").resolve(shell) + "\\n");
  console.log("planted config.yaml");
} catch (e) {
  console.log("refused config.yaml: " + e.code);
}
`;
  beforeAll(() => {
    world = makeWorld({
      projectInHome: false,
      packageJson: { scripts: { hello: "echo hello" } },
    });
    pnpmHome = join(world.project, "ci-pnpm");
    pwned = join(world.dir, "PWNED-scriptShell");
    writeFileSync(join(world.project, "plant.cjs"), plant());
    writeFileSync(join(world.project, "pnpm-workspace.yaml"), PNPM_LATEST_YAML);
  });
  afterAll(() => world?.dispose());
  beforeEach(() => spawnSync("rm", ["-rf", pwned, pnpmHome, join(world.project, "tools")]));

  // What the user does next: a bare pnpm 12 under the same PNPM_CONFIG_HOME.
  const barePnpmRun = (): string =>
    execFileSync(TOOL_BINS.pnpmLatest, ["run", "hello"], {
      cwd: world.project,
      env: { ...world.env, PNPM_CONFIG_HOME: pnpmHome, PWNED_AT: pwned },
      encoding: "utf8",
    });

  it("control: planted without safe-npm, a bare pnpm runs its scriptShell", () => {
    execFileSync(process.execPath, ["plant.cjs"], { cwd: world.project });
    expect(barePnpmRun()).toContain("hello");
    expect(existsSync(pwned)).toBe(true);
  });

  it.each([
    ["missing", false],
    ["already there", true],
  ])(
    "in the project (%s), a run cannot plant a config.yaml there, and nothing is left behind",
    async (_what, exists) => {
      if (exists) mkdirSync(pnpmHome);
      const run = await world.run(["exec", "--", "node", "plant.cjs"], {
        env: { PNPM_CONFIG_HOME: pnpmHome },
      });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/refused config.yaml: E(ROFS|ACCES|PERM)/);
      expect(existsSync(join(pnpmHome, "config.yaml"))).toBe(false);
      expect(existsSync(pnpmHome)).toBe(exists);
      if (exists) expect(run.stderr).toContain(`PNPM_CONFIG_HOME ${pnpmHome} lies in the project`);
      expect(barePnpmRun()).toContain("hello");
      expect(existsSync(pwned)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    "its auth.ini's token is not readable inside",
    async () => {
      mkdirSync(pnpmHome);
      const ini = "//registry.example.test/:_authToken=PNPM-CONFIG-HOME-TOKEN\n";
      writeFileSync(join(pnpmHome, "auth.ini"), ini);
      const peek = ["exec", "--", "sh", "-c", `cat ${join(pnpmHome, "auth.ini")} 2>&1; true`];
      const inside = await world.run(peek, { env: { PNPM_CONFIG_HOME: pnpmHome } });
      expect(inside.exitCode, inside.stderr).toBe(0);
      expect(inside.stdout).toContain("No such file");
      expect(inside.stdout).not.toContain("PNPM-CONFIG-HOME-TOKEN");
      // (control) without the variable, the folder is just the project's.
      const control = await world.run(peek);
      expect(control.stdout).toContain("PNPM-CONFIG-HOME-TOKEN");
      expect(readFileSync(join(pnpmHome, "auth.ini"), "utf8")).toBe(ini);
    },
    TIMEOUT,
  );

  it(
    "a relative one stops the run: pnpm reads it in every folder anew",
    async () => {
      const run = await world.run(["exec", "--", "true"], { env: { PNPM_CONFIG_HOME: "ci-pnpm" } });
      expect(run.exitCode).toBe(125);
      expect(run.stderr).toContain("PNPM_CONFIG_HOME");
      expect(run.stderr).toContain("relative");
    },
    TIMEOUT,
  );
});
