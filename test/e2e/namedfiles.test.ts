/**
 * A file the project's config names for a bare package manager to run outside the default
 * places (`yarnPath: tools/yarn.cjs`): code inside must not rewrite it, rename its folder away,
 * or create it when missing, or host yarn runs what it left.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { PNPM_LATEST_YAML, TOOL_BINS } from "./tools.js";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

/** `(action && echo wrote-NAME) || echo refused-NAME`: one write to try, the outcome printed. */
const attempt = (name: string, action: string): string =>
  `(${action} && echo wrote-${name}) || echo refused-${name}`;

/** The attempts as one shell script. */
const attempts = (tries: Record<string, string>): string =>
  Object.entries(tries)
    .map(([name, action]) => attempt(name, action))
    .join("; ");

/** Runs the attempts in one sandboxed shell and checks that each was refused; returns the run. */
async function refusedInside(w: World, tries: Record<string, string>) {
  const run = await w.run(["--quiet", "exec", "--", "sh", "-c", attempts(tries)]);
  for (const name of Object.keys(tries)) {
    expect(run.stdout, show(run)).toContain(`refused-${name}`);
  }
  return run;
}
const RELEASE = "// the project's own yarn release\n";
const TRY = [
  "echo 'evil()' > tools/yarn.cjs && echo rewrote || echo refused-write",
  "mv tools tools-old && echo renamed || echo refused-rename",
  "echo 'evil()' > tools/plugin.cjs && echo created || echo refused-create",
].join("; ");

describe.skipIf(unavailable !== "")("files the project's config names elsewhere", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  const world = (): World => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    mkdirSync(join(w.project, "tools"));
    writeFileSync(join(w.project, "tools", "yarn.cjs"), RELEASE);
    writeFileSync(
      join(w.project, ".yarnrc.yml"),
      "yarnPath: tools/yarn.cjs\nplugins:\n  - path: tools/plugin.cjs\n",
    );
    return w;
  };

  it("control: without safe-npm, the same shell rewrites the release and creates the plugin", () => {
    const w = world();
    const out = execFileSync("sh", ["-c", TRY], { cwd: w.project, encoding: "utf8" });
    expect(out).toContain("rewrote");
    expect(out).toContain("renamed");
  });

  it("other spellings: a program key, a pnpmfile list, a quoted node-options, an rc file between projects", async () => {
    const w = world();
    for (const f of ["git", "hooks.cjs", "setup.cjs"]) {
      writeFileSync(join(w.project, "tools", f), "// the project's own\n");
    }
    writeFileSync(
      join(w.project, ".npmrc"),
      `${readFileSync(join(w.project, ".npmrc"), "utf8")}git=${w.project}/tools/git\nnode-options="--require ${w.project}/tools/setup.cjs"\n`,
    );
    writeFileSync(join(w.project, "pnpm-workspace.yaml"), "pnpmfile:\n  - tools/hooks.cjs\n");
    mkdirSync(join(w.project, "packages", "app"), { recursive: true });
    writeFileSync(join(w.project, "packages", "app", "package.json"), "{}");
    const tools = ["git", "hooks.cjs", "setup.cjs"];
    const script = attempts({
      ...Object.fromEntries(tools.map((f) => [f, `echo 'evil()' >> tools/${f}`])),
      rc: "echo 'yarnPath: ../evil.cjs' > packages/.yarnrc.yml",
    });
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", script]);
    for (const f of tools) {
      expect(run.stdout, show(run)).toContain(`refused-${f}`);
      expect(readFileSync(join(w.project, "tools", f), "utf8")).toBe("// the project's own\n");
    }
    // Between projects the folder is writable: what was written is moved aside after the run.
    expect(run.stdout).toContain("wrote-rc");
    expect(existsSync(join(w.project, "packages", ".yarnrc.yml"))).toBe(false);
  }, 120_000);

  it("inside: the release cannot be rewritten, its folder not renamed, the plugin not left behind", async () => {
    const w = world();
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", TRY]);
    expect(run.stdout, show(run)).toContain("refused-write");
    expect(run.stdout).toContain("refused-rename");
    expect(readFileSync(join(w.project, "tools", "yarn.cjs"), "utf8")).toBe(RELEASE);
    // Created inside (the folder is writable): moved aside after the run.
    expect(existsSync(join(w.project, "tools", "plugin.cjs"))).toBe(false);
    expect(run.stderr).toContain(join(w.project, "tools", "plugin.cjs"));
  }, 120_000);
});

describe.skipIf(unavailable !== "")("pnpm-workspace.yaml's scriptShell", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });

  it("a run cannot rewrite the shell that pnpm-workspace.yaml names for a bare pnpm", async () => {
    const w = makeWorld({ projectInHome: true, packageJson: { scripts: { hello: "echo hello" } } });
    worlds.push(w);
    const shell = join(w.project, "tools", "sh");
    mkdirSync(join(w.project, "tools"));
    const mark = join(w.dir, "shell-ran");
    writeFileSync(shell, '#!/bin/sh\nexec /bin/sh "$@"\n', { mode: 0o755 });
    writeFileSync(
      join(w.project, "pnpm-workspace.yaml"),
      `${PNPM_LATEST_YAML}scriptShell: ${shell}\n`,
    );
    const plant = `printf '#!/bin/sh\\ntouch ${mark}\\nexec /bin/sh "$@"\\n' > tools/sh && echo rewrote || echo refused-write`;
    // (control) the same shell on the host rewrites it, and a bare pnpm 12 runs it.
    execFileSync("sh", ["-c", plant], { cwd: w.project });
    execFileSync(TOOL_BINS.pnpmLatest, ["run", "hello"], {
      cwd: w.project,
      env: w.env,
      stdio: "ignore",
    });
    expect(existsSync(mark)).toBe(true);
    rmSync(mark);
    writeFileSync(shell, '#!/bin/sh\nexec /bin/sh "$@"\n', { mode: 0o755 });
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(run.stdout, show(run)).toContain("refused-write");
    execFileSync(TOOL_BINS.pnpmLatest, ["run", "hello"], {
      cwd: w.project,
      env: w.env,
      stdio: "ignore",
    });
    expect(existsSync(mark)).toBe(false);
  }, 120_000);
});

describe.skipIf(unavailable !== "")("files the environment names in the project", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  const world = (): World => {
    const w = makeWorld({ projectInHome: true, packageJson: { scripts: { hello: "echo hello" } } });
    worlds.push(w);
    return w;
  };

  it("what NODE_OPTIONS, BUN_OPTIONS and YARN_YARN_PATH load from the project, yarn's constraints and bun's scanner stay read-only", async () => {
    const w = world();
    const mark = join(w.dir, "node-options-ran");
    mkdirSync(join(w.project, "tools"));
    const files = [
      "tools/setup.cjs",
      "tools/pre.ts",
      "tools/yarn.cjs",
      "yarn.config.cjs",
      "tools/scanner.ts",
    ];
    for (const f of files) writeFileSync(join(w.project, f), "// the project's own\n");
    writeFileSync(
      join(w.project, "bunfig.toml"),
      '[install.security]\nscanner = "./tools/scanner.ts"\n',
    );
    w.env.NODE_OPTIONS = `--require ${join(w.project, "tools", "setup.cjs")}`;
    w.env.BUN_OPTIONS = `--preload=${join(w.project, "tools", "pre.ts")}`;
    w.env.YARN_YARN_PATH = join(w.project, "tools", "yarn.cjs");
    // (control) every node the host starts loads what NODE_OPTIONS names.
    writeFileSync(
      join(w.project, "tools", "setup.cjs"),
      `require("fs").writeFileSync(${JSON.stringify(mark)}, "")\n`,
    );
    execFileSync(process.execPath, ["-e", "0"], { env: w.env });
    expect(existsSync(mark)).toBe(true);
    rmSync(mark);
    writeFileSync(join(w.project, "tools", "setup.cjs"), "// the project's own\n");
    const run = await refusedInside(
      w,
      Object.fromEntries(files.map((f) => [f, `echo 'evil()' >> ${f}`])),
    );
    expect(run.exitCode, show(run)).toBe(0);
    for (const f of files) {
      expect(readFileSync(join(w.project, f), "utf8")).toBe("// the project's own\n");
    }
    expect(existsSync(mark)).toBe(false);
  }, 120_000);

  it("the OpenSSL config OPENSSL_CONF names in the project, what it includes and the modules folder stay read-only", async () => {
    const w = world();
    mkdirSync(join(w.project, "ssl"));
    mkdirSync(join(w.project, "mods"));
    const conf = join(w.project, "ssl", "openssl.cnf");
    const extra = join(w.project, "ssl", "extra.cnf");
    const own = "nodejs_conf = nodejs_init\n[nodejs_init]\n";
    writeFileSync(extra, "# the project's own\n");
    writeFileSync(conf, `.include ${extra}\n${own}`);
    w.env.OPENSSL_CONF = conf;
    w.env.OPENSSL_MODULES = join(w.project, "mods");
    // (control) node reads what the config includes too: a broken one stops node.
    writeFileSync(extra, "[broken\n");
    expect(spawnSync(process.execPath, ["-e", "0"], { env: w.env }).status).not.toBe(0);
    writeFileSync(extra, "# the project's own\n");
    await refusedInside(w, {
      extra: "echo '[broken' >> ssl/extra.cnf",
      mods: "touch mods/evil.so",
    });
    expect(readFileSync(extra, "utf8")).toBe("# the project's own\n");
    writeFileSync(conf, own);
    // (control) node reads it at start: a broken one stops every node the host starts (a
    // `providers` section there would load a shared object instead).
    writeFileSync(conf, "nodejs_conf = nodejs_init\n[nodejs_init\n");
    expect(spawnSync(process.execPath, ["-e", "0"], { env: w.env }).status).not.toBe(0);
    writeFileSync(conf, own);
    const run = await refusedInside(w, { conf: "echo '[broken' >> ssl/openssl.cnf" });
    expect(run.exitCode, show(run)).toBe(0);
    expect(readFileSync(conf, "utf8")).toBe(own);
  }, 120_000);

  it("OpenSSL's spellings: a line ending in an escaped backslash, a \\t in an include, the dynamic engine's DIR_ADD folder", async () => {
    const w = world();
    const ssl = join(w.project, "ssl");
    mkdirSync(join(ssl, "eng"), { recursive: true });
    const cont = join(ssl, "cont.cnf");
    const tab = join(ssl, "tab\tx.cnf");
    const conf = join(ssl, "openssl.cnf");
    const own = "# the project's own\n";
    for (const f of [cont, tab]) writeFileSync(f, own);
    writeFileSync(join(ssl, "eng", "evil.so"), "not a library\n");
    const engine = (loaded: boolean): string =>
      [
        "nodejs_conf = init",
        "[init]",
        ...(loaded ? ["engines = eng_sect", "[eng_sect]", "foo = dyn_sect"] : []),
        "[dyn_sect]",
        "engine_id = dynamic",
        "DIR_LOAD = 2",
        `DIR_ADD = ${join(ssl, "eng")}`,
        "ID = evil",
        "LOAD = EMPTY",
        // A setting that names the project itself loads nothing from it: no reason to stop.
        "[paths]",
        `top = ${w.project}`,
        "",
      ].join("\n");
    // Three backslashes end the first line: OpenSSL does not join the next, so it includes cont.cnf.
    const includes = `share_dir = C:\\\\tools\\\\\\\n.include ${cont}\n.include ${ssl}/tab\\tx.cnf\n`;
    w.env.OPENSSL_CONF = conf;
    // (control) node reads both included files (a broken one stops it), and loads the engine
    // from DIR_ADD by its ID.
    writeFileSync(conf, includes + engine(false));
    for (const f of [cont, tab]) {
      writeFileSync(f, "[broken\n");
      expect(spawnSync(process.execPath, ["-e", "0"], { env: w.env }).status).not.toBe(0);
      writeFileSync(f, own);
    }
    expect(spawnSync(process.execPath, ["-e", "0"], { env: w.env }).status).toBe(0);
    writeFileSync(conf, includes + engine(true));
    const loads = spawnSync(process.execPath, ["-e", "0"], { env: w.env, encoding: "utf8" });
    expect(loads.stderr).toContain(join(ssl, "eng", "evil.so"));
    writeFileSync(conf, includes + engine(false));
    const run = await refusedInside(w, {
      cont: "echo '[broken' >> ssl/cont.cnf",
      tab: "echo '[broken' >> \"$(printf 'ssl/tab\\tx.cnf')\"",
      eng: "echo x > ssl/eng/evil.so",
      other: "touch ssl/eng/other.so",
    });
    expect(run.exitCode, show(run)).toBe(0);
    for (const f of [cont, tab]) expect(readFileSync(f, "utf8")).toBe(own);
  }, 120_000);

  it("a config --openssl-config names in NODE_OPTIONS: what it includes stays read-only, as OPENSSL_CONF's", async () => {
    const w = world();
    const ssl = join(w.project, "ssl");
    mkdirSync(ssl);
    const local = join(ssl, "local.cnf");
    const own = "# local overrides\n";
    writeFileSync(local, own);
    const conf = join(w.dir, "node.cnf");
    writeFileSync(conf, `nodejs_conf = init\n.include ${local}\n[init]\n`);
    w.env.NODE_OPTIONS = `--openssl-config=${conf}`;
    // (control) node reads what that config includes: a broken one stops it.
    writeFileSync(local, "[broken\n");
    expect(spawnSync(process.execPath, ["-e", "0"], { env: w.env }).status).not.toBe(0);
    writeFileSync(local, own);
    const run = await refusedInside(w, { local: "echo '[broken' >> ssl/local.cnf" });
    expect(run.exitCode, show(run)).toBe(0);
    expect(readFileSync(local, "utf8")).toBe(own);
  }, 120_000);

  it("NODE_OPTIONS --require of a folder or of a name without its extension: what node loads there stays read-only", async () => {
    const w = world();
    const p = w.project;
    const marks = join(w.dir, "marks");
    mkdirSync(join(p, "hooks"));
    mkdirSync(join(p, "tools"));
    const own = "// own\n";
    const files = ["hooks/index.js", "tools/trace.js"];
    const reset = (): void => {
      rmSync(marks, { recursive: true, force: true });
      mkdirSync(marks);
      for (const f of files) writeFileSync(join(p, f), own);
    };
    w.env.NODE_OPTIONS = `--require ${join(p, "hooks")} --require ${join(p, "tools", "trace")}`;
    const tries = Object.fromEntries(
      files.map((f) => [
        f,
        `printf '%s\\n' 'require("fs").writeFileSync("${join(marks, basename(f))}", "")' >> ${f}`,
      ]),
    );
    // (control) written by the host's shell, the next node loads both.
    reset();
    execFileSync("sh", ["-c", attempts(tries)], { cwd: p });
    spawnSync(process.execPath, ["-e", "0"], { env: w.env });
    expect(files.filter((f) => existsSync(join(marks, basename(f))))).toEqual(files);
    reset();
    await refusedInside(w, tries);
    for (const f of files) expect(readFileSync(join(p, f), "utf8")).toBe(own);
  }, 120_000);

  it("a relative OPENSSL_CONF stops the run: it names a file in every folder", async () => {
    const w = world();
    w.env.OPENSSL_CONF = "ssl/openssl.cnf";
    const run = await w.run(["--quiet", "exec", "--", "true"]);
    expect(run.exitCode, show(run)).toBe(125);
    expect(run.stderr).toContain("OPENSSL_CONF");
  }, 120_000);

  it("npm_config_script_shell in the project: a run cannot rewrite the shell the host's npm starts", async () => {
    const w = world();
    const shell = join(w.project, "tools", "sh");
    mkdirSync(join(w.project, "tools"));
    const mark = join(w.dir, "shell-ran");
    const own = `#!/bin/sh\ntouch ${mark}\nexec /bin/sh "$@"\n`;
    writeFileSync(shell, own, { mode: 0o755 });
    w.env.npm_config_script_shell = shell;
    // (control) the host's npm starts that file for every script.
    execFileSync("npm", ["run", "hello"], { cwd: w.project, env: w.env, stdio: "ignore" });
    expect(existsSync(mark)).toBe(true);
    const run = await w.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "echo 'evil' >> tools/sh && echo rewrote || echo refused-write",
    ]);
    expect(run.stdout, show(run)).toContain("refused-write");
    expect(readFileSync(shell, "utf8")).toBe(own);
  }, 120_000);

  it.each(["pnpm_config_npmrc_auth_file", "PNPM_CONFIG_USERCONFIG"])(
    "pnpm's file that %s keeps in the project: its token is hidden inside, and one planted is moved aside",
    async (variable) => {
      const w = world();
      const file = join(w.project, ".auth.ini");
      // A scope's registry no other file names: the control sees pnpm take it from here.
      const text =
        "@probe:registry=http://127.0.0.1:7/\n//127.0.0.1:7/:_authToken=PNPM-AUTH-FILE-TOKEN\n";
      writeFileSync(file, text);
      w.env[variable] = file;
      writeFileSync(join(w.project, "pnpm-workspace.yaml"), PNPM_LATEST_YAML);
      // (control) pnpm 12 takes its registry (and tokens, and a `tokenHelper` it runs) from there.
      const registry = execFileSync(TOOL_BINS.pnpmLatest, ["config", "get", "@probe:registry"], {
        cwd: w.project,
        env: w.env,
        encoding: "utf8",
      });
      expect(registry.trim()).toBe("http://127.0.0.1:7/");
      const peek = `cat .auth.ini; echo '//h/:tokenHelper=/tmp/x' >> .auth.ini && echo wrote || echo refused-write`;
      const run = await w.run(["--quiet", "exec", "--", "sh", "-c", peek]);
      expect(run.exitCode, show(run)).toBe(0);
      expect(run.stdout).not.toContain("PNPM-AUTH-FILE-TOKEN");
      expect(run.stdout).toContain("refused-write");
      expect(readFileSync(file, "utf8")).toBe(text);
      // Missing: one created inside does not stay for the host's next pnpm.
      rmSync(file);
      const plant = await w.run([
        "--quiet",
        "exec",
        "--",
        "sh",
        "-c",
        "echo '//h/:tokenHelper=/tmp/x' > .auth.ini && echo planted",
      ]);
      expect(plant.stdout, show(plant)).toContain("planted");
      expect(existsSync(file)).toBe(false);
    },
    120_000,
  );
});

/** A git alias naming a program file in the project, and how a run would rewrite it. */
interface AliasRow {
  file: string;
  value: string;
  /** The file as the repository keeps it. */
  own: string;
  /** A shell command that rewrites the file to create `mark` when host git runs it. */
  plant: (mark: string) => string;
}
const sh = (file: string, value: string): AliasRow => ({
  file,
  value,
  own: "# own\n",
  plant: (mark) => `printf '%s\\n' 'touch ${mark}' > '${file}'`,
});
const js = (file: string, value: string): AliasRow => ({
  file,
  value,
  own: "// own\n",
  plant: (mark) =>
    `printf '%s\\n' 'require("fs").writeFileSync(${JSON.stringify(mark)}, "")' > '${file}'`,
});
const make = (file: string, value: string): AliasRow => ({
  file,
  value,
  own: "all:\n",
  plant: (mark) => `printf 'all:\\n\\ttouch ${mark}\\n' > '${file}'`,
});

/**
 * Each alias of `rows` runs its file for host git. (control) rewritten by the host's shell,
 * host git runs every one; rewritten inside, each write is refused, every file is as it was
 * and host git runs none.
 */
async function aliasesHold(w: World, rows: Record<string, AliasRow>): Promise<void> {
  const p = w.project;
  const marks = join(w.dir, "marks");
  const aliases = Object.keys(rows);
  const reset = (): void => {
    rmSync(marks, { recursive: true, force: true });
    mkdirSync(marks);
    for (const row of Object.values(rows)) writeFileSync(join(p, row.file), row.own);
  };
  for (const [alias, row] of Object.entries(rows))
    execFileSync("git", ["config", `alias.${alias}`, row.value], { cwd: p, env: w.env });
  const tries = Object.fromEntries(
    Object.entries(rows).map(([alias, row]) => [alias, row.plant(join(marks, alias))]),
  );
  const hostGit = (): string[] => {
    for (const alias of aliases) spawnSync("git", [alias], { cwd: p, env: w.env, stdio: "ignore" });
    return aliases.filter((a) => existsSync(join(marks, a)));
  };
  reset();
  execFileSync("sh", ["-c", attempts(tries)], { cwd: p });
  expect(hostGit()).toEqual(aliases);
  reset();
  await refusedInside(w, tries);
  for (const row of Object.values(rows))
    expect(readFileSync(join(p, row.file), "utf8")).toBe(row.own);
  expect(hostGit()).toEqual([]);
}

/** A shell command writing `file` as a script that leaves the mark `<marks>/<alias>` when run. */
function plantScript(marks: string, alias: string, file: string): string {
  return `printf '#!/bin/sh\\ntouch ${join(marks, alias)}\\n' > '${file}' && chmod +x '${file}'`;
}

/** What each alias of a {@link plantsHold} case runs once planted, and how to undo it. */
interface PlantCase {
  /** Alias name → value; each planted file leaves a mark named for its alias when run. */
  aliases: Record<string, string>;
  /** Shell commands that plant (each may be refused inside: its error is ignored). */
  plants: string[];
  /** Puts the project back as it was before the plants (the marks folder is made anew). */
  reset: () => void;
  /** Paths from the top the check must name as moved aside. */
  moved: string[];
}

/**
 * The plants, reset and moved of a {@link PlantCase} for hooks and programs: `hooks` maps an
 * alias to the hooks folder its run uses (a pre-commit planted in it; a husky-style `<dir>/_`
 * is moved aside as `<dir>`), `programs` an alias to the program file it runs (its folder is
 * there before the run, empty).
 */
function hooksAndPrograms(
  p: string,
  marks: string,
  hooks: Record<string, string>,
  programs: Record<string, string> = {},
): Omit<PlantCase, "aliases"> {
  const hookDirs = Object.entries(hooks).map(([alias, dir]) => ({
    alias,
    dir,
    moved: basename(dir) === "_" ? dirname(dir) : dir,
  }));
  const files = Object.entries(programs);
  return {
    plants: [
      ...hookDirs.map(
        (h) => `mkdir -p ${h.dir} && ${plantScript(marks, h.alias, `${h.dir}/pre-commit`)}`,
      ),
      ...files.map(([alias, file]) => plantScript(marks, alias, file)),
    ],
    reset: () => {
      for (const h of hookDirs) rmSync(join(p, h.moved), { recursive: true, force: true });
      for (const [, file] of files) {
        rmSync(join(p, dirname(file)), { recursive: true, force: true });
        mkdirSync(join(p, dirname(file)));
      }
    },
    moved: [...hookDirs.map((h) => h.moved), ...files.map(([, file]) => file)],
  };
}

/**
 * (control) planted by the host's shell, host git runs every alias's file; planted inside,
 * the run succeeds, the check moves each of `moved` aside, and host git runs none.
 */
async function plantsHold(w: World, marks: string, c: PlantCase): Promise<void> {
  const p = w.project;
  for (const [alias, value] of Object.entries(c.aliases))
    execFileSync("git", ["config", `alias.${alias}`, value], { cwd: p, env: w.env });
  const plant = c.plants
    .map((cmd) => `(${cmd}) 2>/dev/null`)
    .concat("true")
    .join("; ");
  const reset = (): void => {
    rmSync(marks, { recursive: true, force: true });
    mkdirSync(marks);
    c.reset();
  };
  const hostGit = (): string[] => {
    for (const alias of Object.keys(c.aliases))
      spawnSync("git", [alias], { cwd: p, env: w.env, stdio: "ignore" });
    return Object.keys(c.aliases).filter((a) => existsSync(join(marks, a)));
  };
  reset();
  execFileSync("sh", ["-c", plant], { cwd: p });
  expect(hostGit()).toEqual(Object.keys(c.aliases));
  reset();
  const run = await w.run(["--quiet", "exec", "--", "sh", "-c", plant]);
  expect(run.exitCode, show(run)).toBe(0);
  for (const f of c.moved) expect(run.stderr, show(run)).toContain(`moved ${join(p, f)}`);
  expect(hostGit()).toEqual([]);
}

describe.skipIf(unavailable !== "")("programs the repository's git config names", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });

  it("a filter driver and core.fsmonitor kept in the project cannot be rewritten for host git", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    mkdirSync(marks);
    mkdirSync(join(p, "scripts"));
    const own = '#!/bin/sh\ncat "$1" 2>/dev/null\n';
    for (const f of ["clean.sh", "fsmonitor.sh"])
      writeFileSync(join(p, "scripts", f), own, { mode: 0o755 });
    writeFileSync(join(p, ".gitattributes"), "*.txt filter=crlf\n");
    const git = (...args: string[]): void => {
      execFileSync("git", args, { cwd: p, env: w.env, stdio: "ignore" });
    };
    git("config", "filter.crlf.clean", "scripts/clean.sh %f");
    git("config", "core.fsmonitor", "scripts/fsmonitor.sh");
    const tries = Object.fromEntries(
      ["clean", "fsmonitor"].map((n) => [
        n,
        `printf '#!/bin/sh\\ntouch ${join(marks, n)}\\n' > scripts/${n}.sh`,
      ]),
    );
    // (control) rewritten by the host's shell, the next `git status` runs both.
    execFileSync("sh", ["-c", attempts(tries)], { cwd: p });
    writeFileSync(join(p, "a.txt"), "x\n");
    spawnSync("git", ["status"], { cwd: p, env: w.env, stdio: "ignore" });
    expect(existsSync(join(marks, "fsmonitor"))).toBe(true);
    git("add", "a.txt");
    expect(existsSync(join(marks, "clean"))).toBe(true);
    git("reset", "-q");
    rmSync(join(p, "a.txt"));
    rmSync(marks, { recursive: true });
    mkdirSync(marks);
    for (const f of ["clean.sh", "fsmonitor.sh"])
      writeFileSync(join(p, "scripts", f), own, { mode: 0o755 });
    await refusedInside(w, tries);
    for (const f of ["clean.sh", "fsmonitor.sh"])
      expect(readFileSync(join(p, "scripts", f), "utf8")).toBe(own);
  }, 120_000);

  it("programs named without a plain path word: a file at the top, a quoted script, the top or $HOME spelled for the shell, a stowed ~/.gitconfig", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    mkdirSync(join(p, "tools"));
    mkdirSync(join(p, ".githooks"));
    const own = "exit 0\n";
    // Program files as the repository keeps them: each rewritten below to leave a mark.
    const programs = [
      "fsmon.js",
      "tools/lint.sh",
      "tools/clean.sh",
      "tools/home.sh",
      ".githooks/pre-commit",
    ];
    const reset = (): void => {
      rmSync(marks, { recursive: true, force: true });
      mkdirSync(marks);
      for (const f of programs) writeFileSync(join(p, f), own, { mode: 0o755 });
    };
    const git = (...args: string[]): void => {
      spawnSync("git", args, { cwd: p, env: w.env, stdio: "ignore" });
    };
    git("config", "core.fsmonitor", "node fsmon.js");
    git("config", "alias.lint", "!sh $(git rev-parse --show-toplevel)/tools/lint.sh");
    git("config", "filter.crlf.clean", "sh -c 'sh tools/clean.sh'");
    git("config", "alias.home", `!sh $HOME/${relative(w.home, p)}/tools/home.sh`);
    writeFileSync(join(p, ".gitattributes"), "*.txt filter=crlf\n");
    // ~/.gitconfig a link into a dotfiles folder (GNU stow), naming the hooks folder.
    mkdirSync(join(w.home, "dotfiles"));
    writeFileSync(join(w.home, "dotfiles", "gitconfig"), "[core]\n\thooksPath = .githooks\n");
    rmSync(join(w.home, ".gitconfig"), { force: true });
    symlinkSync(join(w.home, "dotfiles", "gitconfig"), join(w.home, ".gitconfig"));
    const tries = Object.fromEntries(
      programs.map((f) => {
        const mark = join(marks, basename(f));
        const body = f.endsWith(".js")
          ? `require("fs").writeFileSync(${JSON.stringify(mark)}, "")`
          : `touch ${mark}`;
        return [f, `printf '%s\\n' '${body}' > ${f}`];
      }),
    );
    const hostGit = (): string[] => {
      writeFileSync(join(p, "a.txt"), "x\n");
      git("status");
      git("lint");
      git("home");
      git("add", "a.txt");
      git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "t");
      return programs.filter((f) => existsSync(join(marks, basename(f))));
    };
    // (control) rewritten by the host's shell, host git runs every one of them.
    reset();
    execFileSync("sh", ["-c", attempts(tries)], { cwd: p });
    expect(hostGit()).toEqual(programs);
    reset();
    await refusedInside(w, tries);
    for (const f of programs) expect(readFileSync(join(p, f), "utf8")).toBe(own);
    expect(hostGit()).toEqual([]);
  }, 120_000);

  it("programs a shell finds by cd, an escaped space, a variable, the git dir, dirname, node's own lookup, a prefix command, node options and code, the top as ..", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    mkdirSync(join(w.project, "tools"));
    mkdirSync(join(w.project, "nodedir"));
    await aliasesHold(w, {
      e1: sh("tools/e1.sh", "!cd tools && sh e1.sh"),
      e2: sh("my mon.sh", "!sh my\\ mon.sh"),
      e3: js("nodem.js", "!node nodem"),
      e4: js("nodedir/index.js", "!node nodedir"),
      e5: sh("v.sh", "!F=v.sh; sh $F"),
      e6: sh("tools/gd.sh", '!sh "$(git rev-parse --git-dir)/../tools/gd.sh"'),
      e7: sh("dn.sh", '!sh "$(dirname "$(git rev-parse --git-dir)")/dn.sh"'),
      e8: js("tools/ex.js", "!exec node tools/ex"),
      e9: sh("tools/envc.sh", "!env -C tools sh ./envc.sh"),
      e10: js("tools/req.js", `!node -e "require('./tools/req')"`),
      e11: js("tools/pre.js", "!node --require=./tools/pre.js -e 0"),
      e12: sh("tools/cdp.sh", "!cd -P tools && sh ./cdp.sh"),
      e13: js("index.js", "!cd tools && node .."),
    });
  }, 120_000);

  it("files a value reaches by env -C, a redirect, perl's -I/-M and make -C stay read-only", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    mkdirSync(join(w.project, "tools"));
    await aliasesHold(w, {
      f1: sh("tools/hook", "!env -C tools sh hook"),
      f2: sh("hook2", "!sh -s < hook2"),
      f3: {
        file: "tools/Hookpm.pm",
        value: "!perl -Itools -MHookpm -e0",
        own: "1;\n",
        plant: (mark) => `printf '%s\\n' 'open(my $f, ">", "${mark}"); 1;' > tools/Hookpm.pm`,
      },
      f4: make("tools/Makefile", "!make -s -C tools all"),
      f5: make("Makefile", "!make -s all"),
      f6: js("index.js", "!node ."),
    });
  }, 120_000);

  it("what a tool finds by its own lookup where a value runs it: a GNUmakefile beside the Makefile, a folder's package.json main, python's __pycache__ and a module shadowing the standard library", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const py = "/usr/bin/python3";
    for (const d of ["build", "tools/lib", "bin"]) mkdirSync(join(p, d), { recursive: true });
    const own: Record<string, string> = {
      Makefile: "all:\n\t@true\n",
      "build/Makefile": "all:\n\t@true\n",
      "tools/report.py": "import json\n",
      "tools/other.py": "import csv\n",
      // Run by its #! line: no python word in the value.
      "bin/check": `#!${py}\nimport textwrap\n`,
      "tools/lib/index.js": "// own\n",
    };
    const aliases: Record<string, string> = {
      mk: "!make -s",
      mkc: "!make -s -C build",
      py: `!${py} tools/report.py`,
      pym: `!${py} -m tools.report`,
      pyl: `!${py} tools/other.py`,
      sb: "!bin/check",
      lib: "!node tools/lib",
    };
    for (const [alias, value] of Object.entries(aliases))
      execFileSync("git", ["config", `alias.${alias}`, value], { cwd: p, env: w.env });
    const pyc = [
      "import importlib._bootstrap_external as b, os, sys",
      "st = os.stat('tools/report.py')",
      `code = compile('open(${JSON.stringify(join(marks, "pym"))}, \\'w\\')', 'tools/report.py', 'exec')`,
      "os.makedirs('tools/__pycache__', exist_ok=True)",
      "open('tools/__pycache__/report.' + sys.implementation.cache_tag + '.pyc', 'wb').write(b._code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size))",
    ].join("\n");
    const plant = [
      `printf 'all:\\n\\t@touch ${marks}/mk\\n' > GNUmakefile`,
      `printf 'all:\\n\\t@touch ${marks}/mkc\\n' > build/GNUmakefile`,
      `printf 'open("${marks}/py", "w")\\n' > tools/json.py`,
      `${py} -c "$PYC"`,
      `printf 'open("${marks}/sb", "w")\n' > bin/textwrap.py`,
      // A package elsewhere in the project, linked in under a standard library name.
      `mkdir -p evilpkg && printf 'open("${marks}/pyl", "w")\n' > evilpkg/__init__.py && ln -s ../evilpkg tools/csv`,
      `printf '{"main":"evil.js"}' > tools/lib/package.json`,
      `printf 'require("fs").writeFileSync("${marks}/lib", "")\\n' > tools/lib/evil.js`,
    ]
      .map((c) => `(${c}) 2>/dev/null`)
      .concat("true")
      .join("; ");
    const reset = (): void => {
      rmSync(marks, { recursive: true, force: true });
      mkdirSync(marks);
      for (const f of [
        "GNUmakefile",
        "build/GNUmakefile",
        "tools/json.py",
        "tools/__pycache__",
        "tools/csv",
        "evilpkg",
        "bin/textwrap.py",
      ])
        rmSync(join(p, f), { recursive: true, force: true });
      for (const f of ["tools/lib/package.json", "tools/lib/evil.js"])
        rmSync(join(p, f), { force: true });
      for (const [f, text] of Object.entries(own)) writeFileSync(join(p, f), text, { mode: 0o755 });
    };
    const hostGit = (): string[] => {
      for (const alias of Object.keys(aliases))
        spawnSync("git", [alias], { cwd: p, env: w.env, stdio: "ignore" });
      return Object.keys(aliases).filter((a) => existsSync(join(marks, a)));
    };
    // (control) planted by the host's shell, host git runs every one.
    reset();
    execFileSync("sh", ["-c", plant], { cwd: p, env: { ...w.env, PYC: pyc } });
    expect(hostGit()).toEqual(Object.keys(aliases));
    reset();
    const run = await w.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      `PYC='${pyc.replaceAll("'", "'\\''")}'; ${plant}`,
    ]);
    expect(run.exitCode, show(run)).toBe(0);
    for (const f of [
      "GNUmakefile",
      "build/GNUmakefile",
      "tools/json.py",
      "tools/csv",
      "bin/textwrap.py",
    ])
      expect(run.stderr, show(run)).toContain(`moved ${join(p, f)}`);
    expect(run.stderr).toMatch(/moved \S*tools\/__pycache__\/report\.\S+\.pyc/);
    for (const [f, text] of Object.entries(own))
      expect(readFileSync(join(p, f), "utf8")).toBe(text);
    expect(hostGit()).toEqual([]);
  }, 120_000);

  it("what node loads by --require=, -e code, NODE_OPTIONS or NODE_PATH a value sets, the top through a cd folder (a link, missing, from its parent), a venv a value puts on PATH", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const py = "/usr/bin/python3";
    execFileSync(py, ["-m", "venv", "--without-pip", join(p, ".venv")]);
    const aliases: Record<string, string> = {
      req: "!node --require=./p.js x.js",
      ev: `!node -e "require('./q')"`,
      no: "!NODE_OPTIONS=--require=./tools/n.js node x.js",
      np: "!NODE_PATH=lib NODE_OPTIONS=--require=preload node x.js",
      cdl: "!cd bin && node ..",
      cdm: "!cd dist && node ..",
      up: `!cd .. && node ${basename(p)}`,
      ve: "!PATH=.venv/bin:$PATH python3 x.py",
    };
    const mark = (...names: string[]): string =>
      names.map((n) => `require("fs").writeFileSync("${join(marks, n)}", "");`).join(" ");
    await plantsHold(w, marks, {
      aliases,
      plants: [
        `printf '%s\\n' '${mark("req")}' > p.js`,
        `printf '%s\\n' '${mark("ev")}' > q.js`,
        `printf '%s\\n' '${mark("no")}' > tools/n.js`,
        `printf '%s\\n' '${mark("np")}' > lib/preload.js`,
        // `..` of a folder swapped for a link is the link's parent, for node.
        `mkdir -p node_modules/ev/sub && printf '%s\\n' '${mark("cdl")}' > node_modules/ev/index.js && rm -r bin && ln -s node_modules/ev/sub bin`,
        `mkdir dist && printf '%s\\n' '${mark("cdm", "up")}' > index.js`,
        `sp=$(echo .venv/lib/python3*/site-packages) && echo 'import ev' > $sp/ev.pth && printf 'open("${join(marks, "ve")}", "w")\\n' > $sp/ev.py`,
      ],
      reset: () => {
        for (const f of ["p.js", "q.js", "index.js", "dist", "node_modules", "tools", "lib", "bin"])
          rmSync(join(p, f), { recursive: true, force: true });
        for (const d of ["tools", "lib", "bin"]) mkdirSync(join(p, d));
        writeFileSync(join(p, "bin", "util.js"), "// own\n");
        writeFileSync(join(p, "x.js"), "// own\n");
        writeFileSync(join(p, "x.py"), "pass\n");
        execFileSync("sh", ["-c", "rm -f .venv/lib/python3*/site-packages/ev.*"], { cwd: p });
      },
      moved: ["p.js", "q.js", "tools/n.js", "lib/preload.js", "bin", "index.js"],
    });
  }, 120_000);

  it("node's options as node reads them (`_`, options with values, -pe, --env-file), wrappers, a subshell's cd, PATH into sh -c, cd -- into a link", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const aliases: Record<string, string> = {
      el: "!node --experimental_loader=./l.mjs x.js",
      co: "!node -C dev --require=./c.js x.js",
      to: "!timeout 20 node --require=./t.js x.js",
      pe: `!node -pe "require('./e')"`,
      ef: "!node --env-file-if-exists=.env x.js",
      sub: "!(cd tools && true) && node --require=./s.js x.js",
      sh: "!PATH=./bin:$PATH sh -c tool",
      cdd: "!cd -- lib && node ..",
    };
    const js = (n: string): string => `require("fs").writeFileSync("${join(marks, n)}", "")`;
    await plantsHold(w, marks, {
      aliases,
      plants: [
        `printf '%s\\n' 'import fs from "fs"; fs.writeFileSync("${join(marks, "el")}", "")' > l.mjs`,
        `printf '%s\\n' '${js("co")}' > c.js`,
        `printf '%s\\n' '${js("to")}' > t.js`,
        `printf '%s\\n' '${js("pe")}' > e.js`,
        `printf '%s\\n' '${js("ef")}' > f.js && echo 'NODE_OPTIONS=--require=./f.js' > .env`,
        `printf '%s\\n' '${js("sub")}' > s.js`,
        `mkdir bin && printf '#!/bin/sh\\ntouch ${join(marks, "sh")}\\n' > bin/tool && chmod +x bin/tool`,
        `mkdir -p .h/a && echo '{"main":"m.js"}' > .h/package.json && printf '%s\\n' '${js("cdd")}' > .h/m.js && rm -r lib && ln -s .h/a lib`,
      ],
      reset: () => {
        for (const f of [
          "l.mjs",
          "c.js",
          "t.js",
          "e.js",
          "f.js",
          ".env",
          "s.js",
          "bin",
          ".h",
          "lib",
          "tools",
        ])
          rmSync(join(p, f), { recursive: true, force: true });
        for (const d of ["lib", "tools"]) mkdirSync(join(p, d));
        writeFileSync(join(p, "lib", "util.js"), "// own\n");
        writeFileSync(join(p, "x.js"), "// own\n");
      },
      moved: ["l.mjs", "c.js", "t.js", "e.js", ".env", "s.js", "bin/tool", "lib"],
    });
  }, 120_000);

  it("a shell function, a { } group, /usr/bin/env, bash -O, and make in a folder made inside", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const aliases: Record<string, string> = {
      fn: "!f() { node hook; }; f",
      grp: "!true && { cd tools && node hk; }",
      env: "!/usr/bin/env node h2",
      bo: "!bash -O extglob -c 'node h3'",
      mk: "!make -s -C build",
    };
    const js = (n: string): string => `require("fs").writeFileSync("${join(marks, n)}", "")`;
    await plantsHold(w, marks, {
      aliases,
      plants: [
        `printf '%s\\n' '${js("fn")}' > hook.js`,
        `printf '%s\\n' '${js("grp")}' > tools/hk.js`,
        `printf '%s\\n' '${js("env")}' > h2.js`,
        `printf '%s\\n' '${js("bo")}' > h3.js`,
        `mkdir build && printf 'all:\\n\\t@touch ${join(marks, "mk")}\\n' > build/Makefile`,
      ],
      reset: () => {
        for (const f of ["hook.js", "h2.js", "h3.js", "tools", "build"])
          rmSync(join(p, f), { recursive: true, force: true });
        mkdirSync(join(p, "tools"));
      },
      moved: ["hook.js", "tools/hk.js", "h2.js", "h3.js", "build/Makefile"],
    });
  }, 120_000);

  it("command substitutions in quotes and backquotes, npm exec -c, git -c program values, make -f", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const aliases: Record<string, string> = {
      qs: '!git log -1 --format=%s "$(node scripts/msg.js)" >/dev/null 2>&1; true',
      bq: "!echo `node tools/x.js` >/dev/null",
      nx: "!npm exec -c 'node hook' >/dev/null",
      gcf: "!git -c core.fsmonitor='node tools/fsmon.js' status >/dev/null",
      mf: "!make -s -f release.mk",
    };
    const js = (n: string): string => `require("fs").writeFileSync("${join(marks, n)}", "")`;
    await plantsHold(w, marks, {
      aliases,
      plants: [
        `printf '%s\\n' '${js("qs")}' > scripts/msg.js`,
        `printf '%s\\n' '${js("bq")}' > tools/x.js`,
        `printf '%s\\n' '${js("nx")}' > hook.js`,
        `printf '%s\\n' '${js("gcf")}' > tools/fsmon.js`,
        `printf 'all:\\n\\t@touch ${join(marks, "mf")}\\n' > release.mk`,
      ],
      reset: () => {
        for (const f of ["scripts", "tools", "hook.js", "release.mk"])
          rmSync(join(p, f), { recursive: true, force: true });
        for (const d of ["scripts", "tools"]) mkdirSync(join(p, d));
      },
      moved: ["scripts/msg.js", "tools/x.js", "hook.js", "tools/fsmon.js", "release.mk"],
    });
  }, 120_000);

  it("ext:: remotes made by a url rewrite or spelled with git-remote-ext's escapes, -c in an alias of git arguments, a path that leaves the top and comes back, a folder `..` steps out of, links on the way", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const git = (...args: string[]): void => {
      execFileSync("git", args, { cwd: p, env: w.env, stdio: "ignore" });
    };
    git("config", "protocol.ext.allow", "always");
    git("config", "url.ext::.insteadOf", "run:");
    git("config", "remote.fe.url", "run:tools/fe.sh");
    git("config", "remote.sp.url", "ext::sh tools/my% x.sh");
    // Push hooks run in the git dir: `../githooks` is the top's githooks for them.
    git("config", "core.hooksPath", "../githooks");
    const aliases: Record<string, string> = {
      fe: "!git fetch -q fe 2>/dev/null; true",
      sp: "!git fetch -q sp 2>/dev/null; true",
      st: "-c core.fsmonitor=tools/st.sh status",
      up: `!../${basename(p)}/tools/up.sh`,
      dd: "!sub/../tools/dd.sh",
      lk: "!ln2/lk.sh",
      tl: "!tl/tl.sh",
      pu: "!git push -q .git HEAD:refs/heads/p$$ 2>/dev/null; true",
    };
    const plant = (alias: string, file: string): string => plantScript(marks, alias, file);
    await plantsHold(w, marks, {
      aliases,
      plants: [
        plant("fe", "tools/fe.sh"),
        plant("sp", "tools/my x.sh"),
        plant("st", "tools/st.sh"),
        plant("up", "tools/up.sh"),
        // `sub` made a link: its `..` is where the link leads, for the kernel.
        `rmdir sub && mkdir -p evil/d evil/tools && ${plant("dd", "evil/tools/dd.sh")} && ln -s evil/d sub`,
        // Through the project's own link `ln2 -> lib2`.
        plant("lk", "lib2/lk.sh"),
        // A link made on the way, into node_modules.
        `mkdir -p node_modules/x && ${plant("tl", "node_modules/x/tl.sh")} && ln -s node_modules/x tl`,
        `mkdir githooks && ${plant("pu", "githooks/pre-receive")}`,
      ],
      reset: () => {
        for (const f of ["tools", "sub", "evil", "lib2", "ln2", "tl", "node_modules", "githooks"])
          rmSync(join(p, f), { recursive: true, force: true });
        for (const d of ["tools", "sub", "lib2"]) mkdirSync(join(p, d));
        symlinkSync("lib2", join(p, "ln2"));
      },
      moved: [
        "tools/fe.sh",
        "tools/my x.sh",
        "tools/st.sh",
        "tools/up.sh",
        "sub",
        "lib2/lk.sh",
        "tl",
        "githooks",
      ],
    });
  }, 120_000);

  it("a URL as a branch's remote (rewritten too), a remote whose vcs is ext, -c in an alias giving a remote, a url rewrite or core.hooksPath", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const git = (...args: string[]): void => {
      execFileSync("git", args, { cwd: p, env: w.env, stdio: "ignore" });
    };
    const branch = execFileSync("git", ["symbolic-ref", "--short", "HEAD"], {
      cwd: p,
      encoding: "utf8",
    }).trim();
    git("config", "protocol.ext.allow", "always");
    git("config", "user.name", "t");
    git("config", "user.email", "t@example.invalid");
    git("config", `branch.${branch}.remote`, "gh:br.sh");
    git("config", "url.ext::sh tools/b-.insteadOf", "gh:");
    git("config", "remote.vx.vcs", "ext");
    git("config", "remote.vx.url", "sh tools/vx.sh");
    git("config", "remote.origin.url", "gh2:.sh");
    const aliases: Record<string, string> = {
      br: "!git fetch -q 2>/dev/null; true",
      vx: "!git fetch -q vx 2>/dev/null; true",
      cf: "-c remote.evil.url=ext::tools/cf.sh fetch -q evil",
      cu: "-c url.ext::sh\\ tools/cu.insteadOf=gh2: fetch -q origin",
      ci: "-c core.hooksPath=.myhooks commit -q --allow-empty -m ci",
      cj: "!git -c core.hooksPath=.other commit -q --allow-empty -m cj",
    };
    const plant = (alias: string, file: string): string => plantScript(marks, alias, file);
    await plantsHold(w, marks, {
      aliases,
      plants: [
        plant("br", "tools/b-br.sh"),
        plant("vx", "tools/vx.sh"),
        plant("cf", "tools/cf.sh"),
        plant("cu", "tools/cu.sh"),
        `mkdir .myhooks && ${plant("ci", ".myhooks/pre-commit")}`,
        `mkdir .other && ${plant("cj", ".other/pre-commit")}`,
      ],
      reset: () => {
        for (const f of ["tools", ".myhooks", ".other"])
          rmSync(join(p, f), { recursive: true, force: true });
        mkdirSync(join(p, "tools"));
      },
      moved: ["tools/b-br.sh", "tools/vx.sh", "tools/cf.sh", "tools/cu.sh", ".myhooks", ".other"],
    });
  }, 120_000);

  it("uploadpack.packObjectsHook runs in the git dir: `../tools/x.sh` is the top's", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    // git reads the hook from protected config only: the user's own.
    writeFileSync(
      join(w.home, ".gitconfig"),
      "[uploadpack]\n\tpackObjectsHook = sh ../tools/pk.sh\n",
    );
    await plantsHold(w, marks, {
      aliases: {
        pk: "!d=$(mktemp -d) && git clone -q --no-local . $d/c 2>/dev/null; rm -rf $d; true",
      },
      plants: [`printf 'touch ${join(marks, "pk")}\\n' > tools/pk.sh`],
      reset: () => {
        rmSync(join(p, "tools"), { recursive: true, force: true });
        mkdirSync(join(p, "tools"));
      },
      moved: ["tools/pk.sh"],
    });
  }, 120_000);

  it("a hooksPath through a folder `..` steps out of, and a missing one whose folder on the way is made a link: the link is moved aside", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    const git = (...args: string[]): void => {
      execFileSync("git", args, { cwd: p, env: w.env, stdio: "ignore" });
    };
    git("config", "user.name", "t");
    git("config", "user.email", "t@example.invalid");
    git("config", "core.hooksPath", "tools/hooks");
    const plant = (alias: string, file: string): string => plantScript(marks, alias, file);
    await plantsHold(w, marks, {
      aliases: {
        h1: "-c core.hooksPath=sub/../.githooks commit -q --allow-empty -m h1",
        h2: "commit -q --allow-empty -m h2",
      },
      plants: [
        `rmdir sub && mkdir -p evil/d evil/.githooks && ${plant("h1", "evil/.githooks/pre-commit")} && ln -s evil/d sub`,
        `mkdir -p evil2/hooks && ${plant("h2", "evil2/hooks/pre-commit")} && ln -s evil2 tools`,
      ],
      reset: () => {
        for (const f of ["sub", "evil", "evil2", "tools"])
          rmSync(join(p, f), { recursive: true, force: true });
        mkdirSync(join(p, "sub"));
      },
      moved: ["sub", "tools"],
    });
  }, 120_000);

  it("a nested repository: the user's relative hooksPath from its top, and its own config's programs", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const marks = join(w.dir, "marks");
    writeFileSync(
      join(w.home, ".gitconfig"),
      "[core]\n\thooksPath = h\n[user]\n\tname = t\n\temail = t@example.invalid\n",
    );
    execFileSync("git", ["init", "-q", "sub"], { cwd: p, env: w.env, stdio: "ignore" });
    execFileSync("git", ["config", "alias.x", "!sh tools/x.sh"], {
      cwd: join(p, "sub"),
      env: w.env,
    });
    await plantsHold(w, marks, {
      aliases: {
        nh: "!cd sub && git commit -q --allow-empty -m nh 2>/dev/null; true",
        nx: "!cd sub && git x",
      },
      ...hooksAndPrograms(p, marks, { nh: "sub/h" }, { nx: "sub/tools/x.sh" }),
    });
  }, 120_000);

  /** A world whose user config names `t` and has `extra` (user.* set for commits). */
  const gitWorld = (extra = ""): World => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    writeFileSync(
      join(w.home, ".gitconfig"),
      `[user]\n\tname = t\n\temail = t@example.invalid\n${extra}`,
    );
    return w;
  };
  /** A submodule `name` in the project, from a source repository in the world's dir. */
  const submodule = (w: World, name: string): void => {
    const src = join(w.dir, `src-${name}`);
    execFileSync("git", ["init", "-q", src], { env: w.env });
    execFileSync("git", ["commit", "-q", "--allow-empty", "-m", "s"], { cwd: src, env: w.env });
    execFileSync("git", ["-c", "protocol.file.allow=always", "submodule", "add", "-q", src, name], {
      cwd: w.project,
      env: w.env,
      stdio: "ignore",
    });
  };
  const commitIn = (dir: string, mark: string): string =>
    `!cd ${dir} && git commit -q --allow-empty -m ${mark} 2>/dev/null; true`;

  it("a submodule (a `.git` file): its own config's hooksPath and programs, from its top", async () => {
    const w = gitWorld();
    const p = w.project;
    const marks = join(w.dir, "marks");
    submodule(w, "sub");
    for (const [key, value] of [
      ["alias.t", "!sh tools/t.sh"],
      ["core.hooksPath", ".hooks"],
    ] as const)
      execFileSync("git", ["config", key, value], { cwd: join(p, "sub"), env: w.env });
    await plantsHold(w, marks, {
      aliases: { sh: commitIn("sub", "sh"), st: "!cd sub && git t" },
      ...hooksAndPrograms(p, marks, { sh: "sub/.hooks" }, { st: "sub/tools/t.sh" }),
    });
  }, 120_000);

  it("the user's relative hooksPath in a submodule, and the user's alias's -c core.hooksPath in a nested repository", async () => {
    const w = gitWorld(
      "[core]\n\thooksPath = .githooks\n[alias]\n\tci = -c core.hooksPath=.gh commit -q --allow-empty -m ci\n",
    );
    const p = w.project;
    const marks = join(w.dir, "marks");
    submodule(w, "sub");
    execFileSync("git", ["init", "-q", "nest"], { cwd: p, env: w.env, stdio: "ignore" });
    await plantsHold(w, marks, {
      aliases: { ug: commitIn("sub", "ug"), ua: "!cd nest && git ci 2>/dev/null; true" },
      ...hooksAndPrograms(p, marks, { ug: "sub/.githooks", ua: "nest/.gh" }),
    });
  }, 120_000);

  it("a linked worktree of the root repository inside it: the root's hooksPath and programs from the worktree's top", async () => {
    const w = gitWorld();
    const p = w.project;
    const marks = join(w.dir, "marks");
    execFileSync("git", ["worktree", "add", "-q", "--detach", ".worktrees/f"], {
      cwd: p,
      env: w.env,
      stdio: "ignore",
    });
    for (const [key, value] of [
      ["alias.t", "!sh tools/t.sh"],
      ["core.hooksPath", ".husky/_"],
    ] as const)
      execFileSync("git", ["config", key, value], { cwd: p, env: w.env });
    const f = ".worktrees/f";
    await plantsHold(w, marks, {
      aliases: { wh: commitIn(f, "wh"), wt: `!cd ${f} && git t` },
      ...hooksAndPrograms(p, marks, { wh: `${f}/.husky/_` }, { wt: `${f}/tools/t.sh` }),
    });
  }, 120_000);

  it("a nested repository: its alias's -c core.hooksPath, and core.hooksPath in its config.worktree", async () => {
    const w = gitWorld();
    const p = w.project;
    const marks = join(w.dir, "marks");
    execFileSync("git", ["init", "-q", "nest"], { cwd: p, env: w.env, stdio: "ignore" });
    const nest = join(p, "nest");
    for (const args of [
      ["alias.ci", "-c core.hooksPath=.h commit -q --allow-empty -m ci"],
      ["extensions.worktreeConfig", "true"],
      ["--worktree", "core.hooksPath", ".wh"],
    ])
      execFileSync("git", ["config", ...args], { cwd: nest, env: w.env });
    await plantsHold(w, marks, {
      aliases: { na: "!cd nest && git ci 2>/dev/null; true", nw: commitIn("nest", "nw") },
      ...hooksAndPrograms(p, marks, { na: "nest/.h", nw: "nest/.wh" }),
    });
  }, 120_000);

  it("an install of the package a value preloads by its bare name, or whose bin a value runs, keeps it (a dependency, not a plant)", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    mkdirSync(join(p, "vendor"));
    copyFileSync(join(packed, "greeter-1.0.0.tgz"), join(p, "vendor", "greeter-1.0.0.tgz"));
    writeFileSync(
      join(p, "package.json"),
      `${JSON.stringify({ name: "app", version: "1.0.0", dependencies: { greeter: "file:vendor/greeter-1.0.0.tgz" } })}\n`,
    );
    writeFileSync(join(p, "x.js"), "// own\n");
    execFileSync(
      "git",
      ["config", "alias.pre", "!NODE_OPTIONS=--require=greeter/package.json node x.js"],
      {
        cwd: p,
        env: w.env,
      },
    );
    // A package's bin a value runs is the package's: each install may replace it.
    execFileSync("git", ["config", "filter.pass.clean", "node_modules/.bin/greeter"], {
      cwd: p,
      env: w.env,
    });
    const run = await w.run(["--quiet", "npm", "install", "--no-audit", "--no-fund"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stderr, show(run)).not.toContain("moved");
    expect(existsSync(join(p, "node_modules", "greeter", "package.json"))).toBe(true);
    expect(spawnSync("git", ["pre"], { cwd: p, env: w.env }).status).toBe(0);
    // Installed again (a changed package): still kept.
    rmSync(join(p, "node_modules"), { recursive: true });
    const again = await w.run(["--quiet", "npm", "install", "--no-audit", "--no-fund"]);
    expect(again.exitCode, show(again)).toBe(0);
    expect(again.stderr, show(again)).not.toContain("moved");
    expect(existsSync(join(p, "node_modules", ".bin", "greeter"))).toBe(true);
  }, 120_000);

  it("trailer.<x>.cmd, the key that replaced trailer.<x>.command: a program made inside is moved aside", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const mark = join(w.dir, "mark");
    const git = (...args: string[]) =>
      spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: p,
        env: w.env,
      });
    git("config", "trailer.sign.key", "Signed-off-by: ");
    git("config", "trailer.sign.cmd", "node tools/signer.js");
    mkdirSync(join(p, "tools"));
    const plant = `printf '%s\\n' 'require("fs").writeFileSync("${mark}", "")' > tools/signer.js`;
    // (control) planted by the host's shell, the next commit with the trailer runs it.
    execFileSync("sh", ["-c", plant], { cwd: p });
    git("commit", "--allow-empty", "-qm", "y", "--trailer", "sign");
    expect(existsSync(mark)).toBe(true);
    rmSync(mark);
    rmSync(join(p, "tools", "signer.js"));
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(run.stderr, show(run)).toContain(`moved ${join(p, "tools", "signer.js")}`);
    git("commit", "--allow-empty", "-qm", "y", "--trailer", "sign");
    expect(existsSync(mark)).toBe(false);
  }, 120_000);

  it("node . runs the top's package.json main: one changed inside stops the run and is named", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    const mark = join(w.dir, "mark");
    const pkg = JSON.parse(readFileSync(join(p, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    writeFileSync(
      join(p, "package.json"),
      `${JSON.stringify({ ...pkg, main: "server.js" }, null, 2)}\n`,
    );
    writeFileSync(join(p, "server.js"), "// own\n");
    execFileSync("git", ["config", "alias.srv", "!node ."], { cwd: p, env: w.env });
    const plant = `node -e 'const f="package.json",j=JSON.parse(require("fs").readFileSync(f));j.main="evil.js";require("fs").writeFileSync(f,JSON.stringify(j))' && printf 'require("fs").writeFileSync("${mark}", "")\\n' > evil.js`;
    const original = readFileSync(join(p, "package.json"), "utf8");
    // (control) changed by the host's shell, host git runs the new main.
    execFileSync("sh", ["-c", plant], { cwd: p });
    spawnSync("git", ["srv"], { cwd: p, env: w.env, stdio: "ignore" });
    expect(existsSync(mark)).toBe(true);
    rmSync(mark);
    rmSync(join(p, "evil.js"));
    writeFileSync(join(p, "package.json"), original);
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", plant]);
    expect(run.exitCode, show(run)).not.toBe(0);
    expect(run.stderr).toContain(
      `${join(p, "package.json")} was changed inside the sandbox: its "main"`,
    );
    expect(run.stderr).toContain('"evil.js"');
  }, 120_000);

  it("a script an interpreter is given that is missing: one made inside is moved aside", async () => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    const p = w.project;
    execFileSync("git", ["config", "core.fsmonitor", "node --no-warnings made.js"], {
      cwd: p,
      env: w.env,
    });
    const run = await w.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "echo 'process.exit(0)' > made.js",
    ]);
    expect(run.stderr, show(run)).toContain("made.js");
    expect(existsSync(join(p, "made.js"))).toBe(false);
  }, 120_000);
});

describe.skipIf(unavailable !== "")("packing the project", () => {
  let w: World | undefined;
  afterAll(() => w?.dispose());

  it("packs the project's files only, none of the empty stand-ins for missing config files", async () => {
    w = makeWorld({ projectInHome: true, packageJson: { files: undefined } });
    writeFileSync(join(w.project, "index.js"), "module.exports = 1;\n");
    // (control) an ordinary run gets the stand-ins: they show inside.
    const ls = await w.run(["--quiet", "exec", "--", "ls", "-A"]);
    expect(ls.stdout, show(ls)).toContain("bunfig.toml");
    const run = await w.run(["npm", "pack", "--dry-run", "--json"]);
    expect(run.exitCode, show(run)).toBe(0);
    // npm 11 prints an array of packages, npm 12 an object keyed by name.
    type Packed = { files: { path: string }[] };
    const json = JSON.parse(run.stdout) as Packed[] | Record<string, Packed>;
    const [packed] = Array.isArray(json) ? json : Object.values(json);
    const names = (packed?.files ?? []).map((f) => f.path);
    expect(names, show(run)).toContain("index.js");
    for (const standIn of ["bunfig.toml", ".yarnrc", ".yarnrc.yml", ".pnpmfile.cjs", ".env.yarn"])
      expect(names).not.toContain(standIn);
    expect(existsSync(join(w.project, "bunfig.toml"))).toBe(false);
  }, 120_000);
});
