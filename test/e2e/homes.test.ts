/**
 * `safe-npm homes`, `homes prune` and doctor's homes and registries lines, through the built CLI:
 * two projects that ran sandboxes under a temporary $HOME and $XDG_CACHE_HOME, one of them then
 * deleted. What code inside plants in a private home (a link to a host directory, old
 * timestamps) must neither be followed by the size count or the removal nor decide what is
 * pruned: only the record safe-npm writes beside each home does.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliPath } from "./paths.js";
import { makeWorld, type RunResult, SECRETS, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

interface HomeJson {
  path: string;
  project: string | null;
  projectExists: boolean | null;
  lastUse: string | null;
  bytes: number;
}
interface ListJson {
  dir: string;
  homes: HomeJson[];
  bytes: number;
}
interface PruneJson {
  dryRun: boolean;
  removed: (HomeJson & { reason: string; freed: number; kept: string[] })[];
  freed: number;
}

const DAY = 24 * 60 * 60 * 1000;
/** A file bigger than everything else in a home: if the count followed a link to it, it would show. */
const BIG = 8_000_000;

function homeName(project: string): string {
  const name = project.split("/").filter(Boolean).pop() ?? "root";
  return `${name.replace(/[^\w.-]/g, "_")}-${createHash("sha256").update(project).digest("hex").slice(0, 12)}`;
}

describe.skipIf(unavailable !== "")("safe-npm homes", () => {
  let world: World;
  let gone: string;
  let homes: string;
  let keptHome: string;
  let goneHome: string;
  /** A host directory outside every home, linked to from inside a home. */
  let hostDir: string;

  const list = async (): Promise<ListJson> => {
    const r = await world.run(["homes", "--json"]);
    expect(r.exitCode, show(r)).toBe(0);
    return JSON.parse(r.stdout) as ListJson;
  };
  const entry = (doc: ListJson, path: string): HomeJson => {
    const found = doc.homes.find((h) => h.path === path);
    if (found === undefined) throw new Error(`${path} not listed in ${JSON.stringify(doc)}`);
    return found;
  };

  beforeAll(async () => {
    world = makeWorld({ projectInHome: true });
    homes = join(world.cache, "safe-npm", "homes");
    gone = join(world.home, "code", "gone");
    mkdirSync(gone, { recursive: true });
    writeFileSync(join(gone, "package.json"), JSON.stringify({ name: "gone", version: "1.0.0" }));
    writeFileSync(join(gone, ".npmrc"), "registry=http://127.0.0.1:9/\n");
    execFileSync("git", ["init", "-q"], { cwd: gone });
    hostDir = world.sibling;
    writeFileSync(join(hostDir, "big.bin"), Buffer.alloc(BIG, 1));
    keptHome = join(homes, homeName(world.project));
    goneHome = join(homes, homeName(gone));

    // Code inside: a 300 kB cache file, a link to a host directory, timestamps from 2001.
    const plant = [
      "head -c 300000 /dev/zero > ~/.npm/cached.bin",
      `ln -s ${hostDir} ~/.cache/host-dir`,
      `ln -s ${hostDir} ~/.npm/_cacache`,
      "touch -h -d 2001-01-01 ~/.npm ~/.npm/cached.bin ~/.cache ~/.cache/host-dir",
    ].join(" && ");
    for (const cwd of [world.project, gone]) {
      const r = await world.run(["--quiet", "exec", "--", "sh", "-c", plant], { cwd });
      expect(r.exitCode, show(r)).toBe(0);
    }
    rmSync(gone, { recursive: true, force: true });
  }, 120_000);
  afterAll(() => world?.dispose());

  it("the planted links lead to the host directory (the control: following them would count and remove it)", () => {
    for (const home of [keptHome, goneHome]) {
      expect(lstatSync(join(home, ".cache", "host-dir")).isSymbolicLink()).toBe(true);
      expect(readFileSync(join(home, ".cache", "host-dir", "secret.txt"), "utf8")).toBe(
        SECRETS.sibling,
      );
      // du following links (-L) counts the host directory's big file in the home.
      const followed = Number(
        execFileSync("du", ["-sLB1", home], { encoding: "utf8" }).split("\t")[0],
      );
      expect(followed).toBeGreaterThan(BIG);
    }
  });

  it("lists both homes with their project, last use from the record, size without what links point at, and which project is missing", async () => {
    const doc = await list();
    expect(doc.dir).toBe(homes);
    const kept = entry(doc, keptHome);
    expect(kept.project).toBe(world.project);
    expect(kept.projectExists).toBe(true);
    const missing = entry(doc, goneHome);
    expect(missing.project).toBe(gone);
    expect(missing.projectExists).toBe(false);
    for (const home of [kept, missing]) {
      // Today's run, not the 2001 that code inside wrote on the home's files.
      expect(Date.now() - Date.parse(home.lastUse ?? "")).toBeLessThan(DAY);
      expect(home.bytes).toBeGreaterThanOrEqual(300_000);
      expect(home.bytes).toBeLessThan(BIG);
    }
    expect(doc.bytes).toBe(kept.bytes + missing.bytes);

    const text = await world.run(["homes"]);
    expect(text.exitCode, show(text)).toBe(0);
    expect(text.stdout).toContain(`2 private homes in ${homes}`);
    expect(text.stdout).toMatch(
      new RegExp(`\\d+ kB  ${world.project}  last use \\d{4}-\\d\\d-\\d\\d \\(today\\)\\n`),
    );
    expect(text.stdout).toMatch(new RegExp(`${gone}  last use .* PROJECT MISSING`));
    expect(text.stdout).toContain("`safe-npm homes prune` removes the homes of missing projects.");
  });

  it("doctor shows the homes' total and names the registries registry mode would allow", async () => {
    const r = await world.run(["doctor"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`✓ private homes: 2 in ${homes}, \\d+ kB in total, 1 of missing projects`),
    );
    expect(r.stdout).toMatch(
      /✓ registries: registry mode allows 127\.0\.0\.1:9 \(project \.npmrc registry\)$/m,
    );
  });

  it("prune --dry-run names the missing project's home and removes nothing", async () => {
    const r = await world.run(["homes", "prune", "--dry-run"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toContain(`would remove ${goneHome} (${gone}: project missing)`);
    expect(r.stdout).not.toContain(keptHome);
    expect(existsSync(goneHome)).toBe(true);
  });

  it("prune removes only the missing project's home and its record, the link but not the host directory it pointed at", async () => {
    const before = entry(await list(), goneHome);
    const r = await world.run(["homes", "prune", "--json"]);
    expect(r.exitCode, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as PruneJson;
    expect(doc.removed.map((h) => h.path)).toEqual([goneHome]);
    expect(doc.removed[0]?.reason).toBe("project missing");
    expect(doc.removed[0]?.kept).toEqual([]);
    // What was counted is what was freed: the host directory behind the link was neither.
    expect(doc.freed).toBe(before.bytes);
    expect(existsSync(goneHome)).toBe(false);
    expect(existsSync(`${goneHome}.json`)).toBe(false);
    expect(readFileSync(join(hostDir, "secret.txt"), "utf8")).toBe(SECRETS.sibling);
    expect(lstatSync(join(hostDir, "big.bin")).size).toBe(BIG);
    expect(existsSync(keptHome)).toBe(true);
    expect(readdirSync(homes).sort()).toEqual([
      homeName(world.project),
      `${homeName(world.project)}.json`,
    ]);
  });

  it("--older-than goes by the host-written last use, not by the timestamps code inside set", async () => {
    // The files in the home say 2001; the record says today: nothing is idle for 30 days.
    const fresh = await world.run(["homes", "prune", "--older-than", "30d"]);
    expect(fresh.exitCode, show(fresh)).toBe(0);
    expect(fresh.stdout).toContain("nothing to prune");
    expect(existsSync(keptHome)).toBe(true);

    // A record from 40 days ago (as safe-npm would have written it then).
    const record = `${keptHome}.json`;
    const old = new Date(Date.now() - 40 * DAY).toISOString();
    writeFileSync(record, JSON.stringify({ project: world.project, lastUse: old }));
    const notYet = await world.run(["homes", "prune", "--older-than=60d"]);
    expect(notYet.stdout).toContain("nothing to prune");
    expect(existsSync(keptHome)).toBe(true);

    const r = await world.run(["homes", "prune", "--older-than", "30d"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toContain(
      `removed ${keptHome} (${world.project}: idle, last used 40 days ago)`,
    );
    expect(r.stdout).toMatch(/freed \d+ kB/);
    expect(existsSync(keptHome)).toBe(false);
    expect(readFileSync(join(hostDir, "secret.txt"), "utf8")).toBe(SECRETS.sibling);
  });

  it("a record that names another project than the home's hash is not believed", async () => {
    const run = await world.run(["--quiet", "exec", "--", "true"]);
    expect(run.exitCode, show(run)).toBe(0);
    const record = `${keptHome}.json`;
    writeFileSync(
      record,
      JSON.stringify({ project: "/nonexistent", lastUse: new Date().toISOString() }),
    );
    const doc = await list();
    expect(entry(doc, keptHome).project).toBeNull();
    const r = await world.run(["homes", "prune"]);
    expect(r.stdout).toContain("kept 1 home with no record of its project");
    expect(existsSync(keptHome)).toBe(true);
    // The next run writes the true record again.
    await world.run(["--quiet", "exec", "--", "true"]);
    expect(entry(await list(), keptHome).project).toBe(world.project);
  });

  it("a home without a record (an older safe-npm's) is listed as unknown and removed only with --unrecorded", async () => {
    const old = join(homes, "old-0123456789ab");
    mkdirSync(join(old, ".npm"), { recursive: true });
    writeFileSync(join(old, ".npm", "x"), "x");
    const text = await world.run(["homes"]);
    expect(text.stdout).toContain(`${old}  project unknown (no record`);
    const kept = await world.run(["homes", "prune"]);
    expect(kept.stdout).toContain("safe-npm homes prune --unrecorded");
    expect(existsSync(old)).toBe(true);
    const r = await world.run(["homes", "prune", "--unrecorded"]);
    expect(r.exitCode, show(r)).toBe(0);
    expect(r.stdout).toContain(`removed ${old} (project unknown: no record of its project)`);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(keptHome)).toBe(true);
  });

  it("a bad --older-than is a usage error naming the value", async () => {
    const r = await world.run(["homes", "prune", "--older-than", "30 days"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain('--older-than needs a duration like 30d, 12h or 2w, got "30 days"');
  });
});

/** Root only: a mount inside a home, made in a mount namespace of the test's own. */
const canMount = process.getuid?.() === 0 && existsSync("/usr/bin/unshare");

describe.skipIf(unavailable !== "" || !canMount)("safe-npm homes prune and mounts", () => {
  let world: World;
  afterAll(() => world?.dispose());

  it("does not count, enter or remove a mount inside a home; the rest goes, the home stays and is named", async () => {
    world = makeWorld({ projectInHome: false });
    const run = await world.run(["--quiet", "exec", "--", "true"]);
    expect(run.exitCode, show(run)).toBe(0);
    const home = join(world.cache, "safe-npm", "homes", homeName(world.project));
    const mnt = join(home, ".cache", "mnt");
    mkdirSync(mnt);
    writeFileSync(join(home, ".npm", "beside"), "removed");
    rmSync(world.project, { recursive: true, force: true });
    // In a namespace of its own: a tmpfs on <home>/.cache/mnt holding a file, then prune, then
    // whether the file on the mount survived (the control: the file beside it did not).
    const script = [
      `mount -t tmpfs none ${mnt}`,
      `head -c ${BIG} /dev/zero > ${mnt}/on-the-mount`,
      `"$@" homes --json > ${world.dir}/list.json`,
      `"$@" homes prune > ${world.dir}/prune.txt; echo $? > ${world.dir}/prune.rc`,
      `test -f ${mnt}/on-the-mount && echo survived > ${world.dir}/mount.txt`,
    ].join("\n");
    execFileSync(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", script, "sh", process.execPath, cliPath],
      {
        env: world.env,
        cwd: world.dir,
      },
    );
    const listed = (JSON.parse(readFileSync(join(world.dir, "list.json"), "utf8")) as ListJson)
      .homes;
    expect(listed[0]?.bytes).toBeLessThan(BIG);
    const prune = readFileSync(join(world.dir, "prune.txt"), "utf8");
    expect(prune).toContain(`kept ${mnt} (another mount)`);
    expect(readFileSync(join(world.dir, "prune.rc"), "utf8").trim()).toBe("125");
    expect(readFileSync(join(world.dir, "mount.txt"), "utf8").trim()).toBe("survived");
    expect(existsSync(join(home, ".npm", "beside"))).toBe(false);
    expect(existsSync(mnt)).toBe(true);
    expect(existsSync(`${home}.json`)).toBe(true);
  });

  it("does not count, enter or remove a bind mount of the same filesystem inside a home (same device, another mount)", async () => {
    const bound = makeWorld({ projectInHome: false });
    try {
      const run = await bound.run(["--quiet", "exec", "--", "true"]);
      expect(run.exitCode, show(run)).toBe(0);
      const home = join(bound.cache, "safe-npm", "homes", homeName(bound.project));
      const bm = join(home, ".cache", "bm");
      mkdirSync(bm);
      // On the same filesystem as the home: a bind mount of it keeps the device number.
      const victim = join(bound.dir, "victim");
      mkdirSync(victim);
      writeFileSync(join(victim, "file"), Buffer.alloc(BIG, 1));
      writeFileSync(join(home, ".npm", "beside"), "removed");
      rmSync(bound.project, { recursive: true, force: true });
      const out = (name: string): string => join(bound.dir, name);
      const script = [
        `mount --bind ${victim} ${bm}`,
        // The control: the mount point and the home have the same st_dev.
        `stat -c %d ${bm} ${home} > ${out("devs.txt")}`,
        `"$@" homes --json > ${out("list.json")}`,
        `"$@" homes prune > ${out("prune.txt")}; echo $? > ${out("prune.rc")}`,
      ].join("\n");
      execFileSync(
        "unshare",
        [
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          script,
          "sh",
          process.execPath,
          cliPath,
        ],
        { env: bound.env, cwd: bound.dir },
      );
      const devs = readFileSync(out("devs.txt"), "utf8").trim().split("\n");
      expect(devs).toHaveLength(2);
      expect(devs[0]).toBe(devs[1]);
      const listed = (JSON.parse(readFileSync(out("list.json"), "utf8")) as ListJson).homes;
      expect(listed[0]?.bytes).toBeLessThan(BIG);
      expect(readFileSync(out("prune.txt"), "utf8")).toContain(`kept ${bm} (another mount)`);
      expect(readFileSync(out("prune.rc"), "utf8").trim()).toBe("125");
      expect(lstatSync(join(victim, "file")).size).toBe(BIG);
      expect(existsSync(join(home, ".npm", "beside"))).toBe(false);
      expect(existsSync(`${home}.json`)).toBe(true);
    } finally {
      bound.dispose();
    }
  });
});

describe.skipIf(unavailable !== "")(
  "safe-npm homes and a home nested deeper than a walk can recurse",
  () => {
    let world: World;
    let other: string;
    let deepHome: string;
    let otherHome: string;
    /** What code inside nests under ~/.npm: a directory per level, a file at the bottom. */
    const DEPTH = 10_000;
    const BOTTOM = 3_000_000;
    /** The CLI with few descriptors: a walk holding one per level would run out long before. */
    const runLimited = (args: string[]): RunResult => {
      try {
        const stdout = execFileSync(
          "prlimit",
          ["--nofile=128", "--", process.execPath, cliPath, ...args],
          { env: world.env, cwd: world.dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
        );
        return { exitCode: 0, stdout, stderr: "" };
      } catch (error) {
        const e = error as { status: number; stdout: string; stderr: string };
        return { exitCode: e.status, stdout: e.stdout, stderr: e.stderr };
      }
    };

    beforeAll(async () => {
      world = makeWorld({ projectInHome: false });
      other = join(world.dir, "other");
      mkdirSync(other);
      writeFileSync(
        join(other, "package.json"),
        JSON.stringify({ name: "other", version: "1.0.0" }),
      );
      deepHome = join(world.cache, "safe-npm", "homes", homeName(world.project));
      otherHome = join(world.cache, "safe-npm", "homes", homeName(other));
      const nest = [
        'const fs = require("fs");',
        'process.chdir(require("os").homedir() + "/.npm");',
        `for (let i = 0; i < ${DEPTH}; i++) { fs.mkdirSync("d"); process.chdir("d"); }`,
        `fs.writeFileSync("bottom", Buffer.alloc(${BOTTOM}, 1));`,
      ].join(" ");
      const r = await world.run(["--quiet", "exec", "--", "node", "-e", nest]);
      expect(r.exitCode, show(r)).toBe(0);
      const o = await world.run(["--quiet", "exec", "--", "sh", "-c", "echo x > ~/.npm/x"], {
        cwd: other,
      });
      expect(o.exitCode, show(o)).toBe(0);
    }, 300_000);
    afterAll(() => {
      // rm (fts) removes any depth; node's recursive rmSync may not.
      if (world !== undefined) execFileSync("rm", ["-rf", world.dir]);
      world?.dispose();
    });

    it("lists the home's whole size, as du counts it, with a bounded number of descriptors", () => {
      // The control: du (fts, no recursion) sees the file at the bottom.
      const du = Number(
        execFileSync("du", ["-sB1", deepHome], { encoding: "utf8" }).split("\t")[0],
      );
      expect(du).toBeGreaterThan(BOTTOM + DEPTH * 4096 * 0.9);
      const r = runLimited(["homes", "--json"]);
      expect(r.exitCode, show(r)).toBe(0);
      const home = (JSON.parse(r.stdout) as ListJson).homes.find((h) => h.path === deepHome);
      expect(home?.bytes).toBe(du);
      expect(home).toMatchObject({ unreadable: [] });
    }, 300_000);

    it("prune removes the deep home and the others, one after another", () => {
      rmSync(world.project, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
      const r = runLimited(["homes", "prune"]);
      expect(r.exitCode, show(r)).toBe(0);
      expect(r.stdout).toContain(`removed ${deepHome} (${world.project}: project missing)`);
      expect(r.stdout).toContain(`removed ${otherHome} (${other}: project missing)`);
      expect(existsSync(deepHome)).toBe(false);
      expect(existsSync(otherHome)).toBe(false);
    }, 300_000);
  },
);

describe.skipIf(unavailable !== "")(
  "safe-npm homes and a project path made to print a fake line",
  () => {
    let world: World;
    afterAll(() => world?.dispose());

    it("prints the path's newline and escape sequences as escapes: no fake line, no cursor movement", async () => {
      world = makeWorld({ projectInHome: false });
      const fake = "1.0 GB  /root/.ssh  last use 2026-11-29 (today)  PROJECT MISSING";
      const evil = join(world.dir, `x\n   ${fake}\u001b[1A\u001b[2K`);
      // Its slashes make directories on the way: any path can be spelled.
      mkdirSync(evil, { recursive: true });
      writeFileSync(join(evil, "package.json"), JSON.stringify({ name: "x", version: "1.0.0" }));
      const run = await world.run(["--quiet", "exec", "--", "true"], { cwd: evil });
      expect(run.exitCode, show(run)).toBe(0);
      // The control: the record names the raw path, newline and escapes included.
      const json = await world.run(["homes", "--json"]);
      const listed = (JSON.parse(json.stdout) as ListJson).homes.map((h) => h.project);
      expect(listed).toContain(evil);

      rmSync(join(world.dir, "x\n   1.0 GB  "), { recursive: true, force: true });
      for (const args of [["homes"], ["homes", "prune"]]) {
        const r = await world.run(args);
        expect(r.exitCode, show(r)).toBe(0);
        expect(r.stdout).toContain(`x\\n   ${fake}\\x1b[1A\\x1b[2K`);
        expect(r.stdout).not.toContain("\u001b");
        expect(r.stdout.split("\n").filter((line) => line.includes("/root/.ssh"))).toHaveLength(1);
        expect(r.stdout).not.toMatch(/^\s*1\.0 GB {2}\/root\/\.ssh/m);
      }
    });
  },
);
