/**
 * pnpm's store and bun's cache move into the project's node_modules for an install and back
 * after (src/sandbox/linkedstore.ts), so the manager hard-links instead of copying. For pnpm 10,
 * the latest pnpm and bun, with real bwrap and a fixture registry on 127.0.0.1:
 * - the installed files are hard links of the store's (same inode, st_nlink > 1); control: with
 *   the store held by another live run, the same install copies (st_nlink 1);
 * - the store is back in the private home, nothing is left in the project, and it survives
 *   `rm -rf node_modules` (the next install fetches no tarball);
 * - a run ended by SIGTERM puts the store back; one killed with SIGKILL leaves it in node_modules
 *   and the next run reclaims it;
 * - code inside that takes the store's write permission away (which rename(2) to another parent
 *   needs, without CAP_DAC_OVERRIDE) does not keep it from moving back;
 * - a link planted in the store's place, or node_modules swapped for a link to a directory of
 *   the user's during the run, makes the host move or follow nothing (control: the plant is in
 *   place, and a path-based move would have taken the user's directory).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { BUN_CACHE, type LinkedStore, PNPM_STORE } from "../../src/sandbox/linkedstore.js";
import { type FixtureRegistry, startSmallTree } from "./fixture-registry.js";
import { cliPath } from "./paths.js";
import { PNPM_LATEST_YAML, TOOL_BINS, versionOf } from "./tools.js";
import {
  makeWorld,
  nameRegistryInHome,
  type RunResult,
  show,
  statOf,
  type World,
} from "./world.js";

const unavailable = inject("sandboxUnavailable");

interface Manager {
  name: string;
  tool: "pnpm" | "bun";
  bin: string;
  packageManager: string;
  store: LinkedStore;
  files: Record<string, string>;
}

const MANAGERS: Manager[] = [
  {
    name: "pnpm 10",
    tool: "pnpm",
    bin: TOOL_BINS.pnpm,
    packageManager: `pnpm@${versionOf("pnpm")}`,
    store: PNPM_STORE,
    files: {},
  },
  {
    name: `pnpm ${versionOf("pnpm-latest").split(".")[0]} (latest)`,
    tool: "pnpm",
    bin: TOOL_BINS.pnpmLatest,
    packageManager: `pnpm@${versionOf("pnpm-latest")}`,
    store: PNPM_STORE,
    files: { "pnpm-workspace.yaml": PNPM_LATEST_YAML },
  },
  {
    name: "bun",
    tool: "bun",
    bin: TOOL_BINS.bun,
    packageManager: `bun@${versionOf("bun")}`,
    store: BUN_CACHE,
    files: {},
  },
];

/**
 * The project's own postinstall (root scripts run without approval): with `hook-mode` holding
 * "block" it marks that it runs and waits forever (to be killed); with "swap <dir>" it moves
 * node_modules aside and puts a link to `<dir>` in its place.
 */
const HOOK = `const fs = require("node:fs");
const mode = fs.existsSync("hook-mode") ? fs.readFileSync("hook-mode", "utf8").trim().split(" ") : [];
if (mode[0] === "block") {
  fs.writeFileSync("hook-blocked", "");
  setInterval(() => {}, 1e9);
} else if (mode[0] === "lock") {
  // As the same user: no write permission on the store (rename(2) to another parent needs it).
  fs.chmodSync(mode[1], 0o555);
  fs.writeFileSync("hook-locked", "");
} else if (mode[0] === "swap") {
  fs.renameSync("node_modules", "nm-real");
  fs.symlinkSync(mode[1], "node_modules");
  fs.writeFileSync("hook-swapped", "");
}
`;

/** Polls `condition` every 100 ms for up to `ms`: a bound, never a synchronisation by time. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Some process's command line on the host holds `token`. */
function running(token: string): boolean {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(token)) return true;
    } catch {}
  }
  return false;
}

/** Every inode under `dir` (no link followed). */
function inodes(dir: string): Set<number> {
  const out = new Set<number>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.add(lstatSync(p).ino);
    }
  };
  walk(dir);
  return out;
}

for (const manager of MANAGERS) {
  describe.skipIf(unavailable !== "")(`${manager.name}: the store on the project's mount`, () => {
    let world: World;
    let registry: FixtureRegistry;
    let env: { PATH: string };
    let direct: string[];
    let nodeModules: string;
    let inProject: string;
    const token = `safe-npm-e2e-hook-${randomBytes(4).toString("hex")}`;

    /** The one private home (beside it: its record, and the lock while a run holds the store). */
    const home = (): string => {
      const homes = join(world.cache, "safe-npm", "homes");
      const names = readdirSync(homes).filter((n) => /-[0-9a-f]{12}$/.test(n));
      expect(names).toHaveLength(1);
      return join(homes, names[0] as string);
    };
    const storeHome = (): string => join(home(), manager.store.home);
    const install = async (
      args: string[] = ["--quiet"],
    ): Promise<RunResult & { fetched: number }> => {
      const before = registry.stats().tarballs;
      const r = await world.run([...args, "install"], { env });
      return { ...r, fetched: registry.stats().tarballs - before };
    };
    /** Each direct dependency's package.json: a hard link of a file in the store (or not). */
    const linkedFromStore = (): boolean[] => {
      const store = inodes(storeHome());
      return direct.map((name) => {
        const st = statSync(join(nodeModules, name, "package.json"));
        return st.nlink > 1 && store.has(st.ino);
      });
    };
    /**
     * `safe-npm --quiet install` from scratch (pnpm 12 runs no postinstall for a node_modules
     * already up to date) with the project's postinstall blocking: `whileBlocked` once the hook
     * runs, then the run is killed whatever happened.
     */
    const whileHookBlocks = async (
      whileBlocked: (child: ChildProcess, exited: Promise<unknown>) => Promise<void>,
    ): Promise<void> => {
      writeFileSync(join(world.project, "hook-mode"), "block");
      rmSync(nodeModules, { recursive: true, force: true });
      const child: ChildProcess = spawn(process.execPath, [cliPath, "--quiet", "install"], {
        cwd: world.project,
        env: { ...world.env, ...env },
        stdio: "ignore",
      });
      const exited = new Promise((r) => child.once("exit", r));
      try {
        await until(() => existsSync(join(world.project, "hook-blocked")), 180_000, "the hook");
        await whileBlocked(child, exited);
      } finally {
        child.kill("SIGKILL");
      }
      rmSync(join(world.project, "hook-mode"));
      rmSync(join(world.project, "hook-blocked"));
    };
    const expectNothingLeft = (): void => {
      expect(lstatSync(inProject, { throwIfNoEntry: false })).toBeUndefined();
      expect(existsSync(`${home()}.store-lock`)).toBe(false);
      expect(world.gitStatus()).not.toMatch(/safe-npm-|store/);
    };

    beforeAll(async () => {
      const tree = await startSmallTree();
      registry = tree.registry;
      direct = Object.keys(tree.dependencies);
      world = makeWorld({
        projectInHome: true,
        packageJson: {
          packageManager: manager.packageManager,
          dependencies: tree.dependencies,
          scripts: { postinstall: `node hook.js ${token}` },
        },
      });
      for (const [rel, content] of Object.entries({
        ".npmrc": `registry=${registry.url}\n`,
        "hook.js": HOOK,
        ".gitignore": "node_modules/\n.probe/\nhook-*\nnm-real/\n",
        ...manager.files,
      }))
        writeFileSync(join(world.project, rel), content);
      // A loopback registry is dialled only when the user's own files name it.
      nameRegistryInHome(world, registry.url);
      await execa("git", ["add", "-A"], { cwd: world.project });
      await execa(
        "git",
        ["-c", "user.name=t", "-c", "user.email=t@e.invalid", "commit", "-qm", "f"],
        {
          cwd: world.project,
        },
      );
      const bin = join(world.dir, "pm-bin");
      mkdirSync(bin);
      symlinkSync(manager.bin, join(bin, manager.tool));
      env = { PATH: `${bin}:${world.env.PATH}` };
      nodeModules = join(world.project, "node_modules");
      inProject = join(nodeModules, manager.store.name);
    }, 60_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("hard-links from the store, puts it back in the private home, and keeps it through `rm -rf node_modules` (control: copies while another run holds it)", async () => {
      const first = await install();
      expect(first.exitCode, show(first)).toBe(0);
      expect(first.fetched).toBeGreaterThan(0);
      expect(linkedFromStore()).toEqual(direct.map(() => true));
      expectNothingLeft();
      // Warm: the same store, back from the project.
      rmSync(nodeModules, { recursive: true, force: true });
      const warm = await install();
      expect(warm.exitCode, show(warm)).toBe(0);
      expect(warm.fetched).toBe(0);
      expect(linkedFromStore()).toEqual(direct.map(() => true));
      expectNothingLeft();
      // Control: a live process (the world's victim) holds the lock; the install copies.
      const lock = `${home()}.store-lock`;
      writeFileSync(lock, `${world.victim.pid} ${statOf(world.victim.pid).startTime}\n`);
      rmSync(nodeModules, { recursive: true, force: true });
      const copied = await install(["--verbose"]);
      expect(copied.exitCode, show(copied)).toBe(0);
      expect(copied.stderr).toContain("copied: another safe-npm run of this project holds it");
      expect(linkedFromStore()).toEqual(direct.map(() => false));
      unlinkSync(lock);
      expectNothingLeft();
    }, 300_000);

    if (manager.tool === "pnpm") {
      it("records the host's default store path, which bare pnpm on the host accepts", async () => {
        const modules = readFileSync(join(nodeModules, ".modules.yaml"), "utf8");
        expect(modules).toContain(`${join(world.home, manager.store.home)}/v`);
        expect(modules).not.toContain(manager.store.name);
        const r = await execa("pnpm", ["install", "--frozen-lockfile"], {
          cwd: world.project,
          env: { ...world.env, ...env },
          extendEnv: false,
          reject: false,
          stdin: "ignore",
        });
        expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(`${r.stdout}${r.stderr}`).not.toContain("UNEXPECTED_STORE");
      }, 120_000);
    }

    it("moves the store back when the run ends on SIGTERM", async () => {
      const ino = lstatSync(storeHome()).ino;
      await whileHookBlocks(async (child, exited) => {
        expect(lstatSync(inProject).ino).toBe(ino);
        child.kill("SIGTERM");
        await exited;
      });
      expect(lstatSync(storeHome()).ino).toBe(ino);
      expectNothingLeft();
    }, 300_000);

    it("reclaims the store a run killed with SIGKILL left in node_modules", async () => {
      const ino = lstatSync(storeHome()).ino;
      await whileHookBlocks(async (child, exited) => {
        // The store is in the project now, not in the home.
        expect(lstatSync(inProject).ino).toBe(ino);
        expect(existsSync(storeHome())).toBe(false);
        child.kill("SIGKILL");
        await exited;
        // bwrap's --die-with-parent ends the sandbox; wait until nothing inside runs any more.
        await until(() => !running(token), 60_000, "the sandbox to end");
      });
      // Left behind by the killed run: the store in node_modules, the lock of a dead process.
      expect(lstatSync(inProject).ino).toBe(ino);
      expect(existsSync(`${home()}.store-lock`)).toBe(true);
      const next = await install(["--verbose"]);
      expect(next.exitCode, show(next)).toBe(0);
      expect(next.stderr).toContain("reclaimed from node_modules");
      expect(lstatSync(storeHome()).ino).toBe(ino);
      expectNothingLeft();
      rmSync(nodeModules, { recursive: true, force: true });
      const warm = await install();
      expect(warm.exitCode, show(warm)).toBe(0);
      expect(warm.fetched).toBe(0);
    }, 400_000);

    it("moves the store back although code inside took its write permission away", async () => {
      const ino = lstatSync(storeHome()).ino;
      writeFileSync(join(world.project, "hook-mode"), `lock node_modules/${manager.store.name}`);
      rmSync(nodeModules, { recursive: true, force: true });
      const r = await install();
      rmSync(join(world.project, "hook-mode"));
      expect(r.exitCode, show(r)).toBe(0);
      // The hook ran inside, on the store in the project.
      expect(existsSync(join(world.project, "hook-locked"))).toBe(true);
      rmSync(join(world.project, "hook-locked"));
      expect(r.stderr).not.toContain("could not move");
      expect(lstatSync(storeHome()).ino).toBe(ino);
      expect(lstatSync(storeHome()).mode & 0o777).toBe(0o700);
      expectNothingLeft();
      // The next install links from it again.
      rmSync(nodeModules, { recursive: true, force: true });
      const next = await install(["--verbose"]);
      expect(next.exitCode, show(next)).toBe(0);
      expect(next.stderr).not.toContain("copied");
      expect(next.fetched).toBe(0);
      expect(linkedFromStore()).toEqual(direct.map(() => true));
      expectNothingLeft();
    }, 300_000);

    it("removes a link planted in the store's place without following it", async () => {
      const victim = join(world.home, "victim-store");
      mkdirSync(victim);
      writeFileSync(join(victim, "data"), "the user's");
      symlinkSync(victim, inProject);
      const r = await install(["--verbose"]);
      expect(r.exitCode, show(r)).toBe(0);
      expect(r.stderr).toContain(`${inProject}, not a directory, was removed`);
      expect(readdirSync(victim)).toEqual(["data"]);
      expect(linkedFromStore()).toEqual(direct.map(() => true));
      expectNothingLeft();
    }, 300_000);

    it("takes the store back from the node_modules it opened when code inside swaps node_modules for a link (control: a path-based move would take the user's directory)", async () => {
      // A directory of the user's, shaped like node_modules holding the store.
      const victim = join(world.home, "victim-nm");
      mkdirSync(join(victim, manager.store.name), { recursive: true });
      writeFileSync(join(victim, manager.store.name, "secret"), "the user's");
      const ino = lstatSync(storeHome()).ino;
      writeFileSync(join(world.project, "hook-mode"), `swap ${victim}`);
      // From scratch, so that every manager runs the project's postinstall.
      rmSync(nodeModules, { recursive: true, force: true });
      await install();
      rmSync(join(world.project, "hook-mode"));
      // The hook ran: node_modules became a link to the user's directory, which the after-run
      // check then moved aside (a linked node_modules brings a .bin from elsewhere).
      expect(existsSync(join(world.project, "hook-swapped"))).toBe(true);
      const swapped = `${nodeModules}.quarantined-by-safe-npm`;
      expect(lstatSync(swapped).isSymbolicLink()).toBe(true);
      // The store came back from the real node_modules; the user's directory stayed.
      expect(lstatSync(storeHome()).ino).toBe(ino);
      expect(readFileSync(join(victim, manager.store.name, "secret"), "utf8")).toBe("the user's");
      expect(existsSync(`${home()}.store-lock`)).toBe(false);
      // Control: moving by the path, as a host that trusted the project would, takes it.
      const naive = join(world.dir, "naive-move");
      renameSync(join(swapped, manager.store.name), naive);
      expect(readdirSync(naive)).toEqual(["secret"]);
      rmSync(join(world.project, "hook-swapped"));
      unlinkSync(swapped);
      rmSync(join(world.project, "nm-real"), { recursive: true, force: true });
    }, 300_000);
  });
}
