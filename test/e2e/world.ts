/**
 * A throw-away world for one e2e test: a fake $HOME full of planted secrets, a sibling
 * repository, a host process to attack, and a project (a git repository) that depends on the
 * probe package. Everything lives in one temp directory, removed by `dispose`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { execa } from "execa";
import { type ProcStat, procStat } from "../../src/host/procstat.js";
import { cliPath, repoRoot } from "./paths.js";

/**
 * npm 12 runs no dependency's install scripts unless package.json's `allowScripts` approves it
 * (`npm help install-scripts`): by name for registry packages, by spec for `file:` ones. npm 11
 * ignores the field. Every fixture package is approved, as a user approves what they install, so
 * the probes' scripts run and are contained.
 */
export const FIXTURE_SCRIPTS: Record<string, boolean> = Object.fromEntries(
  readdirSync(join(repoRoot, "fixtures", "packages")).flatMap((dir) => {
    const file = join(repoRoot, "fixtures", "packages", dir, "package.json");
    const { name, version } = JSON.parse(readFileSync(file, "utf8")) as {
      name: string;
      version: string;
    };
    return [
      [name, true],
      [`file:vendor/${name}-${version}.tgz`, true],
    ];
  }),
);

export const SECRETS = {
  sshKey: "-----BEGIN OPENSSH PRIVATE KEY----- SSH-KEY-SECRET",
  aws: "[default]\naws_secret_access_key = AWS-FILE-SECRET\n",
  gh: "github.com:\n  oauth_token: GH-FILE-SECRET\n",
  npmToken: "NPM-FILE-TOKEN-SECRET",
  sibling: "SIBLING-REPO-SECRET",
  hostTmp: "HOST-TMP-SECRET",
};

/** Secret-looking variables planted in safe-npm's own environment. */
export const SECRET_ENV: Record<string, string> = {
  NPM_TOKEN: "ENV-NPM-TOKEN-SECRET",
  GITHUB_TOKEN: "ENV-GITHUB-TOKEN-SECRET",
  AWS_SECRET_ACCESS_KEY: "ENV-AWS-SECRET",
  AWS_ACCESS_KEY_ID: "ENV-AWS-KEY-ID",
  SSH_AUTH_SOCK: "/tmp/ssh-agent.sock",
  MY_API_KEY: "ENV-API-KEY-SECRET",
  DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1000/bus",
};

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface World {
  dir: string;
  home: string;
  cache: string;
  project: string;
  sibling: string;
  hostTmpFile: string;
  victim: ChildProcess & { pid: number };
  victimMarker: string;
  env: Record<string, string>;
  /** Runs the built CLI (real bwrap, real npm). */
  run(
    args: string[],
    options?: {
      cwd?: string;
      env?: Record<string, string | undefined>;
      input?: string;
      /** Start dist/cli.cjs itself, as the installed command (its sh lines, then `node` on PATH). */
      asInstalled?: boolean;
    },
  ): Promise<RunResult>;
  /** Path → content hash of every file under `root`, to prove the host side did not change. */
  snapshot(root: string): Record<string, string>;
  gitStatus(): string;
  dispose(): void;
}

export interface WorldOptions {
  /** Put the project under the fake $HOME (`~/code/app`) or elsewhere (`<tmp>/elsewhere/app`). */
  projectInHome: boolean;
  /** package.json of the project (name/version are filled in). */
  packageJson?: Record<string, unknown>;
  /** Fixture tarballs (from the `packedFixtures` dir) copied to `vendor/` and committed. */
  vendor?: { packed: string; files: string[] };
}

export function makeWorld(options: WorldOptions): World {
  const dir = mkdtempSync(join(tmpdir(), "safe-npm-e2e-"));
  const home = join(dir, "home");
  const cache = join(dir, "cache");
  write(join(home, ".ssh", "id_rsa"), SECRETS.sshKey);
  write(join(home, ".aws", "credentials"), SECRETS.aws);
  write(join(home, ".config", "gh", "hosts.yml"), SECRETS.gh);
  // A hermetic registry address (nothing listens on port 9) next to the token.
  write(
    join(home, ".npmrc"),
    `//registry.npmjs.org/:_authToken=${SECRETS.npmToken}\nregistry=http://127.0.0.1:9/\nupdate-notifier=false\n`,
  );
  write(join(home, ".bashrc"), "# the user's own bashrc\n");
  const sibling = join(home, "code", "other-repo");
  write(join(sibling, "secret.txt"), SECRETS.sibling);
  const hostTmpFile = join(dir, "host-tmp-secret.txt");
  write(hostTmpFile, SECRETS.hostTmp);

  const project = options.projectInHome ? join(home, "code", "app") : join(dir, "elsewhere", "app");
  mkdirSync(project, { recursive: true });
  write(
    join(project, "package.json"),
    `${JSON.stringify({ name: "app", version: "1.0.0", private: true, allowScripts: FIXTURE_SCRIPTS, ...options.packageJson }, null, 2)}\n`,
  );
  write(
    join(project, ".npmrc"),
    "registry=http://127.0.0.1:9/\naudit=false\nfund=false\nupdate-notifier=false\n",
  );
  write(join(project, ".gitignore"), "node_modules/\n.probe/\n");
  for (const file of options.vendor?.files ?? []) {
    mkdirSync(join(project, "vendor"), { recursive: true });
    copyFileSync(join(options.vendor?.packed ?? "", file), join(project, "vendor", file));
  }
  const git = (...args: string[]): string =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
      cwd: project,
      encoding: "utf8",
    });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-qm", "init");

  const victimMarker = `safe-npm-e2e-victim-${randomBytes(4).toString("hex")}`;
  const victim = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e6)", victimMarker], {
    stdio: "ignore",
  }) as ChildProcess & { pid: number };

  // The world's own temp dir: what a run killed with SIGKILL cannot remove (its proxy's socket
  // dir) goes with the world, not into the machine's /tmp.
  const tmp = join(dir, "tmp");
  mkdirSync(tmp);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CACHE_HOME: cache,
    TMPDIR: tmp,
    USER: process.env.USER ?? "user",
    LANG: "C.UTF-8",
    TERM: "dumb",
    ...SECRET_ENV,
  };

  return {
    dir,
    home,
    cache,
    project,
    sibling,
    hostTmpFile,
    victim,
    victimMarker,
    env,
    async run(args, runOptions = {}) {
      const [file, argv] = runOptions.asInstalled
        ? [cliPath, args]
        : [process.execPath, [cliPath, ...args]];
      const result = await execa(file, argv, {
        cwd: runOptions.cwd ?? project,
        env: { ...env, ...runOptions.env },
        extendEnv: false,
        reject: false,
        ...(runOptions.input === undefined
          ? { stdin: "ignore" as const }
          : { input: runOptions.input }),
      });
      return {
        exitCode: result.exitCode ?? -1,
        stdout: String(result.stdout),
        stderr: String(result.stderr),
      };
    },
    snapshot(root) {
      const out: Record<string, string> = {};
      const walk = (d: string): void => {
        for (const entry of readdirSync(d)) {
          const path = join(d, entry);
          const rel = relative(root, path);
          const st = statSync(path);
          if (st.isDirectory()) {
            out[`${rel}/`] = "dir";
            walk(path);
          } else {
            out[rel] = createHash("sha256").update(readFileSync(path)).digest("hex");
          }
        }
      };
      if (existsSync(root)) walk(root);
      return out;
    },
    gitStatus() {
      return git("status", "--porcelain", "--untracked-files=all").trim();
    },
    dispose() {
      victim.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/**
 * The user names `url` as their registry in ~/.npmrc: a fixture registry on 127.0.0.1 that only
 * the project's files named would be refused (an internal address only a cloned repository
 * names), as the user's own naming of it is what lets it through.
 */
export function nameRegistryInHome(world: Pick<World, "home">, url: string): void {
  appendFileSync(join(world.home, ".npmrc"), `registry=${url}\n`);
}

/** True while `pid` exists on the host. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs the built safe-npm into `project/node_modules/safe-npm` (the bundled dist, which needs
 * no other package, and package.json) with its `node_modules/.bin/safe-npm` link, as
 * `npm install -D safe-npm` would: package.json scripts can then use it as a prefix, and it is
 * visible inside the sandbox.
 */
export function installSelfInto(project: string): void {
  const target = join(project, "node_modules", "safe-npm");
  mkdirSync(target, { recursive: true });
  cpSync(join(repoRoot, "dist"), join(target, "dist"), { recursive: true });
  cpSync(join(repoRoot, "package.json"), join(target, "package.json"));
  mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
  symlinkSync("../safe-npm/dist/cli.cjs", join(project, "node_modules", ".bin", "safe-npm"));
}

/** Host processes whose command line contains `marker` (anything a sandbox left behind). */
export function processesWith(marker: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The process runs in another pid namespace than the tests (inside a sandbox). */
export function inSandbox(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`) !== readlinkSync("/proc/self/ns/pid");
  } catch {
    return false;
  }
}

/** The file name a process runs (argv[0]), or "" once it is gone. */
export function processName(pid: number): string {
  // The program's file name (argv[0]), not /proc/<pid>/comm: Node 24 names its main thread
  // "MainThread", and comm is that thread's name.
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
    return basename(argv0);
  } catch {
    return "";
  }
}

/** A run's exit code and output, for an assertion's message. */
export function show(r: RunResult): string {
  return `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
}

/** `/proc/<pid>/stat` of a live process; throws when it is gone (a test then fails, never passes). */
export function statOf(pid: number | undefined): ProcStat {
  const stat = pid === undefined ? null : procStat(pid);
  if (stat === null) throw new Error(`no process ${pid}`);
  return stat;
}

/** The argv of `safe-npm --quiet exec -- <command…>` run by this node. */
export function safeNpmExec(...command: string[]): string[] {
  return [process.execPath, cliPath, "--quiet", "exec", "--", ...command];
}

/** Polls `condition` every 50 ms, for 30 s at most (a hang, not a timing assertion). */
export async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
