/**
 * A read-only bind holds only while its mount point lives: a mount point removed in one mount
 * namespace is gone from all (Linux 3.18+). So another safe-npm run in the same project that
 * removes its own stand-ins, or an editor or git on the host that replaces a file by renaming
 * over it, leaves a guarded path writable inside for the rest of a run. These tests let exactly
 * that happen, have code inside write the host-run config then (its write succeeds: the attack
 * is real), and check that the run's after-run check moves what it wrote aside.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { makeWorld, show, type World, waitFor } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const PLANT = "yarnPath: .yarn/releases/y.cjs\n";

/**
 * Inside: waits until `gate` exists (when given), then tries to write .yarnrc.yml until it can
 * (at most ~60 s), and a release under .yarn/releases; reports what it managed.
 */
const ATTACK = `
const fs = require("node:fs");
const [gate] = process.argv.slice(2);
fs.writeFileSync(".attack-started", "");
const deadline = Date.now() + 60000;
const report = (r) => fs.writeFileSync(".attack.json", JSON.stringify(r));
const tryWrite = () => {
  if (gate && !fs.existsSync(gate)) return false;
  try { fs.writeFileSync(".yarnrc.yml", ${JSON.stringify(PLANT)}); } catch { return false; }
  let release = "no";
  try {
    fs.mkdirSync(".yarn/releases", { recursive: true });
    fs.writeFileSync(".yarn/releases/y.cjs", "require('fs').writeFileSync('/tmp/never','')");
    release = "yes";
  } catch (e) { release = e.code; }
  report({ wrote: true, release });
  return true;
};
const loop = () => {
  if (tryWrite()) return;
  if (Date.now() > deadline) { report({ wrote: false }); return; }
  setTimeout(loop, 100);
};
loop();
`;

/**
 * Inside: marks that it started, then once `.gate` exists appends `line` to `file` until it can
 * (at most ~60 s); reports whether it managed.
 */
const appendOnceGated = (file: string, line: string): string => `
const fs = require("node:fs");
fs.writeFileSync(".attack-started", "");
const deadline = Date.now() + 60000;
const loop = () => {
  if (fs.existsSync(".gate")) {
    try { fs.appendFileSync(${JSON.stringify(file)}, ${JSON.stringify(line)}); fs.writeFileSync(".attack.json", '{"wrote":true}'); return; } catch {}
  }
  if (Date.now() > deadline) { fs.writeFileSync(".attack.json", '{"wrote":false}'); return; }
  setTimeout(loop, 100);
};
loop();
`;

const quarantined = (w: World, name: string): string[] =>
  readdirSync(w.project).filter((f) => f.startsWith(`${name}.quarantined-by-safe-npm`));

describe.skipIf(unavailable !== "")("guarded config a mount cannot hold alone", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  const world = (): World => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    writeFileSync(join(w.project, "attack.cjs"), ATTACK);
    return w;
  };

  it("another run's stand-ins removed mid-run: what this run wrote there is moved aside", async () => {
    const w = world();
    const yarnrc = join(w.project, ".yarnrc.yml");
    // Run A: its empty stand-in for the missing .yarnrc.yml appears while it sleeps.
    const a = w.run(["--quiet", "exec", "--", "sleep", "4"]);
    await waitFor(() => existsSync(yarnrc), "run A's stand-in for .yarnrc.yml");
    // Run B starts meanwhile: it takes A's stand-in for the project's file and binds it.
    const b = w.run(["--quiet", "exec", "--", "node", "attack.cjs"]);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.exitCode, show(ra)).toBe(0);
    expect(rb.exitCode, show(rb)).toBe(0);
    const report = JSON.parse(readFileSync(join(w.project, ".attack.json"), "utf8"));
    // The attack got through inside: the write succeeded once A removed its stand-in.
    expect(report.wrote, show(rb)).toBe(true);
    // …and after B's run nothing of it is where host yarn would read it.
    expect(existsSync(yarnrc) ? readFileSync(yarnrc, "utf8") : "").not.toContain("yarnPath");
    expect(quarantined(w, ".yarnrc.yml")).toHaveLength(1);
    // Whichever run checks after the write reports it: B, or A when B writes in the moment
    // between A removing its stand-in and A's own check (A recorded no .yarnrc.yml either).
    const moved = `moved ${yarnrc} to ${yarnrc}.quarantined-by-safe-npm`;
    expect(
      [ra.stderr, rb.stderr].filter((s) => s.includes(moved)),
      show(ra) + show(rb),
    ).toHaveLength(1);
    expect(existsSync(join(w.project, ".yarn", "releases", "y.cjs"))).toBe(false);
  }, 240_000);

  it("a file the host replaces by renaming over it mid-run: what the run wrote into it is moved aside", async () => {
    const w = world();
    const yarnrc = join(w.project, ".yarnrc.yml");
    writeFileSync(yarnrc, "enableTelemetry: false\n");
    const gate = join(w.project, ".gate");
    const b = w.run(["--quiet", "exec", "--", "node", "attack.cjs", ".gate"]);
    // The host saves the file as editors do (a new file renamed over it) while B runs.
    await waitFor(
      () => existsSync(join(w.project, ".attack-started")),
      "the script inside to start",
    );
    writeFileSync(`${yarnrc}.tmp`, "enableTelemetry: false\nnodeLinker: node-modules\n");
    renameSync(`${yarnrc}.tmp`, yarnrc);
    writeFileSync(gate, "");
    const rb = await b;
    expect(rb.exitCode, show(rb)).toBe(0);
    const report = JSON.parse(readFileSync(join(w.project, ".attack.json"), "utf8"));
    expect(report.wrote, show(rb)).toBe(true);
    expect(existsSync(yarnrc) ? readFileSync(yarnrc, "utf8") : "").not.toContain("yarnPath");
    expect(quarantined(w, ".yarnrc.yml")).toHaveLength(1);
  }, 240_000);

  it("a guarded folder the host recreates mid-run (ext4 gives it the same inode): a file changed in it is moved aside", async () => {
    const w = world();
    const releases = join(w.project, ".yarn", "releases");
    const release = join(releases, "yarn-4.cjs");
    mkdirSync(releases, { recursive: true });
    writeFileSync(release, "// yarn\n");
    writeFileSync(join(w.project, ".yarnrc.yml"), "yarnPath: .yarn/releases/yarn-4.cjs\n");
    writeFileSync(
      join(w.project, "append.cjs"),
      appendOnceGated(".yarn/releases/yarn-4.cjs", "evil()\n"),
    );
    const b = w.run(["--quiet", "exec", "--", "node", "append.cjs"]);
    await waitFor(
      () => existsSync(join(w.project, ".attack-started")),
      "the script inside to start",
    );
    // What a git checkout does to a folder it replaces.
    rmSync(releases, { recursive: true });
    mkdirSync(releases);
    writeFileSync(release, "// yarn\n");
    writeFileSync(join(w.project, ".gate"), "");
    const rb = await b;
    const report = JSON.parse(readFileSync(join(w.project, ".attack.json"), "utf8"));
    expect(report.wrote, show(rb)).toBe(true);
    expect(existsSync(release) ? readFileSync(release, "utf8") : "").not.toContain("evil");
    expect(rb.stderr).toContain("quarantined-by-safe-npm");
  }, 240_000);

  it("a protect entry the host saves by renaming over it mid-run: what the run appended is moved aside", async () => {
    const w = world();
    const env = join(w.project, ".env");
    writeFileSync(env, "API=1\n");
    writeFileSync(
      join(w.project, ".sandboxrc.json"),
      JSON.stringify({ protect: [".git", ".env"] }),
    );
    writeFileSync(
      join(w.project, "append.cjs"),
      appendOnceGated(".env", "NPM_CONFIG_REGISTRY=http://evil.invalid/\n"),
    );
    const b = w.run(["--quiet", "exec", "--", "node", "append.cjs"]);
    await waitFor(
      () => existsSync(join(w.project, ".attack-started")),
      "the script inside to start",
    );
    writeFileSync(`${env}.tmp`, "API=2\n");
    renameSync(`${env}.tmp`, env);
    writeFileSync(join(w.project, ".gate"), "");
    const rb = await b;
    const report = JSON.parse(readFileSync(join(w.project, ".attack.json"), "utf8"));
    expect(report.wrote, show(rb)).toBe(true);
    expect(existsSync(env) ? readFileSync(env, "utf8") : "").not.toContain("evil.invalid");
    expect(quarantined(w, ".env")).toHaveLength(1);
    expect(rb.stderr).toContain("its mount was lost during the run");
  }, 240_000);

  it("a repository one run planted and another put back after the first one's check is moved aside by the second", async () => {
    const w = world();
    const marker = join(w.dir, "fsmonitor-ran");
    const src = join(w.project, "src");
    mkdirSync(src);
    writeFileSync(join(src, "index.js"), "// the package's own\n");
    // Run A makes src a git dir, then waits for run B to start before it ends (and is checked).
    writeFileSync(
      join(w.project, "plant.cjs"),
      `const fs = require("node:fs");
fs.mkdirSync("src/objects", { recursive: true });
fs.mkdirSync("src/refs/heads", { recursive: true });
fs.writeFileSync("src/HEAD", "ref: refs/heads/main\\n");
fs.writeFileSync("src/config", "[core]\\n\\trepositoryformatversion = 0\\n\\tworktree = ..\\n\\tfsmonitor = \\"touch ${marker} #\\"\\n");
fs.writeFileSync(".planted", "");
const deadline = Date.now() + 60000;
const wait = () => { if (!fs.existsSync(".b-started") && Date.now() < deadline) setTimeout(wait, 50); };
wait();
`,
    );
    // Run B, started after the plant: once A's check moved HEAD aside, it puts it back.
    writeFileSync(
      join(w.project, "restore.cjs"),
      `const fs = require("node:fs");
fs.writeFileSync(".b-started", "");
const deadline = Date.now() + 60000;
const loop = () => {
  try { fs.renameSync("src/HEAD.quarantined-by-safe-npm", "src/HEAD"); fs.writeFileSync(".restored", ""); return; } catch {}
  if (Date.now() < deadline) setTimeout(loop, 50);
};
loop();
`,
    );
    const a = w.run(["--quiet", "exec", "--", "node", "plant.cjs"]);
    await waitFor(() => existsSync(join(w.project, ".planted")), "run A's plant");
    const b = w.run(["--quiet", "exec", "--", "node", "restore.cjs"]);
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.stderr, show(ra)).toContain(`moved ${join(src, "HEAD")} to`);
    // The attack got through inside B: A's quarantined HEAD was put back.
    expect(existsSync(join(w.project, ".restored")), show(rb)).toBe(true);
    // B's own snapshot had src as a repository already; judged against A's, it is new.
    expect(rb.stderr).toContain(`moved ${join(src, "HEAD")} to`);
    expect(existsSync(join(src, "HEAD"))).toBe(false);
    spawnSync("git", ["-C", src, "status"], { stdio: "ignore" });
    expect(existsSync(marker)).toBe(false);
    expect(readFileSync(join(src, "index.js"), "utf8")).toBe("// the package's own\n");
  }, 240_000);

  it("a failure of safe-npm's own during the run ends the sandbox, and the check still runs", async () => {
    const w = world();
    const sub = join(w.project, "sub");
    // Loaded into the safe-npm process on the host: once the command inside has planted a
    // repository, an exception nothing catches, as a bug in the proxy would throw.
    const crash = join(w.dir, "crash.cjs");
    writeFileSync(
      crash,
      `const fs = require("node:fs");
const t = setInterval(() => {
  if (!fs.existsSync(${JSON.stringify(join(sub, "config"))})) return;
  clearInterval(t);
  throw new Error("simulated failure inside safe-npm");
}, 50);
t.unref();
`,
    );
    const script =
      "mkdir -p sub/objects sub/refs/heads && printf 'ref: refs/heads/main\\n' > sub/HEAD && " +
      "printf '[core]\\n\\tfsmonitor = evil\\n' > sub/config && echo planted; sleep 60; echo slept";
    const r = await w.run(["--quiet", "exec", "--", "sh", "-c", script], {
      env: { NODE_OPTIONS: `--require ${crash}` },
    });
    expect(r.stdout, show(r)).toContain("planted");
    // The sandbox was ended, not waited for.
    expect(r.stdout).not.toContain("slept");
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("simulated failure inside safe-npm");
    // …and the repository it planted is not one host git would use.
    expect(r.stderr).toContain(`moved ${join(sub, "HEAD")} to`);
    expect(existsSync(join(sub, "HEAD"))).toBe(false);
  }, 120_000);

  it("something the after-run check cannot move aside makes the run fail (exit 125), not succeed", async () => {
    const w = world();
    // A repository under a name too long to take the quarantine suffix (255 bytes), there
    // before the run, whose config is changed inside: moved whole, which cannot be done.
    const name = "r".repeat(250);
    mkdirSync(join(w.project, name, "objects"), { recursive: true });
    mkdirSync(join(w.project, name, "refs"));
    writeFileSync(join(w.project, name, "HEAD"), "ref: refs/heads/main\n");
    const script = `printf '[core]\\n\\tfsmonitor = evil\\n' > ${name}/config && echo planted`;
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", script]);
    expect(run.stdout, show(run)).toContain("planted");
    expect(run.stderr).toContain("could not be moved aside");
    expect(run.exitCode).toBe(125);
  }, 120_000);

  it("yarn 4's .env.yarn cannot be created inside", async () => {
    const w = world();
    const run = await w.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "echo 'NODE_OPTIONS=--require ./x.js' > .env.yarn && echo wrote || echo refused",
    ]);
    expect(run.stdout, show(run)).toContain("refused");
    expect(existsSync(join(w.project, ".env.yarn"))).toBe(false);
  }, 120_000);

  it("pnpm 11+'s .pnpmfile.mjs cannot be created inside", async () => {
    const w = world();
    const run = await w.run([
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "echo 'export default {}' > .pnpmfile.mjs && echo wrote || echo refused",
    ]);
    expect(run.stdout, show(run)).toContain("refused");
    expect(existsSync(join(w.project, ".pnpmfile.mjs"))).toBe(false);
  }, 120_000);
});
