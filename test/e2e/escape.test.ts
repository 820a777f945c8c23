/**
 * The probe dependency tries, from its preinstall and postinstall scripts, what a worm would:
 * read the user's secrets, plant persistence, read secret env vars, see and kill host processes,
 * use root's capabilities. Each attempt must fail, the install itself must succeed, and the host
 * side must be unchanged afterwards.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { plantTargets, type Report, readReports } from "./probe.js";
import { alive, makeWorld, SECRET_ENV, SECRETS, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

for (const projectInHome of [true, false]) {
  describe.skipIf(unavailable !== "")(
    `a hostile install script (project ${projectInHome ? "under $HOME" : "outside $HOME"})`,
    () => {
      let world: World;
      let result: { exitCode: number; stdout: string; stderr: string };
      let homeBefore: Record<string, string>;
      const reports: Report[] = [];

      // The home without the project and without safe-npm's own host state (the registry
      // gateway's local CA in ~/.local/state/safe-npm, written by safe-npm on the host; the
      // sandbox never sees it — test/unit/network/ca.test.ts and the gateway e2e test cover it).
      const homeSnapshot = (): Record<string, string> => {
        const rel = relative(world.home, world.project);
        return Object.fromEntries(
          Object.entries(world.snapshot(world.home)).filter(
            ([path]) =>
              !path.startsWith(`${rel}/`) &&
              !path.startsWith(".local/state/safe-npm/") &&
              ![".local/", ".local/state/"].includes(path),
          ),
        );
      };

      beforeAll(async () => {
        world = makeWorld({
          projectInHome,
          packageJson: { dependencies: { probe: "file:vendor/probe-1.0.0.tgz" } },
          vendor: { packed, files: ["probe-1.0.0.tgz"] },
        });
        plantTargets(world);
        homeBefore = homeSnapshot();
        result = await world.run(["install", "--no-audit", "--no-fund"]);
        reports.push(...readReports(world));
      });
      afterAll(() => world?.dispose());

      it("lets the legitimate install succeed", () => {
        expect(result.stderr).not.toMatch(/✗/);
        expect(result.exitCode).toBe(0);
        expect(existsSync(join(world.project, "node_modules", "probe", "package.json"))).toBe(true);
        expect(existsSync(join(world.project, "package-lock.json"))).toBe(true);
        // Both lifecycle scripts ran inside and could write to the project.
        expect(reports.map((r) => r.phase)).toEqual(["preinstall", "postinstall"]);
        for (const r of reports) expect(r.writes.project?.ok).toBe(true);
        // npm's cache went to the private home, not the user's.
        const homes = join(world.cache, "safe-npm", "homes");
        expect(existsSync(homes)).toBe(true);
        expect(existsSync(join(world.home, ".npm"))).toBe(false);
      });

      it("cannot read the user's secrets, other repositories or the host's /tmp", () => {
        for (const r of reports) {
          for (const name of ["ssh", "aws", "gh", "sibling", "hostTmp"]) {
            expect(r.reads[name], `${r.phase} read ${name}`).toMatchObject({ ok: false });
          }
          // ~/.npmrc enters as a sanitized copy: registry kept, token gone.
          const npmrc = r.reads.npmrc;
          expect(npmrc?.ok).toBe(true);
          expect(String(npmrc?.value)).toContain("registry=http://127.0.0.1:9/");
          expect(String(npmrc?.value)).not.toContain(SECRETS.npmToken);
          expect(String(npmrc?.value)).not.toContain("_authToken");
        }
      });

      it("cannot write outside the project, nor into its .git", () => {
        for (const r of reports) {
          for (const name of ["gitHook", "gitConfig", "usr", "etc"]) {
            expect(r.writes[name], `${r.phase} write ${name}`).toMatchObject({ ok: false });
          }
        }
        // Writes into "$HOME" land in the private home: the real one is byte for byte unchanged.
        expect(homeSnapshot()).toEqual(homeBefore);
        expect(readFileSync(join(world.home, ".bashrc"), "utf8")).toBe("# the user's own bashrc\n");
        expect(existsSync(join(world.project, ".git", "hooks", "pre-commit"))).toBe(false);
        // Nothing but what npm itself writes shows up in the project.
        expect(world.gitStatus()).toBe("?? package-lock.json");
      });

      it("sees no secret environment variable", () => {
        for (const r of reports) {
          expect(r.env.leaked).toEqual([]);
          expect(r.env.procLeaks).toEqual([]);
          for (const name of r.env.names)
            expect(name).not.toMatch(/TOKEN|SECRET|AWS_|SSH_AUTH|DBUS/);
        }
      });

      it("cannot see or signal host processes", () => {
        for (const r of reports) {
          expect(r.proc.seesVictim).toBe(false);
          expect(r.proc.killVictim.ok).toBe(false);
          expect(r.proc.pids).not.toContain(world.victim.pid);
        }
        expect(alive(world.victim.pid)).toBe(true);
      });

      it("holds no capability and cannot mount, mknod or create namespaces, even as root", () => {
        for (const r of reports) {
          expect(r.privileges.capEff).toBe("0000000000000000");
          expect(r.privileges.mount.ok).toBe(false);
          expect(r.privileges.mknod.ok).toBe(false);
          expect(r.privileges.unshare.ok).toBe(false);
          expect(r.privileges.sysctl.ok).toBe(false);
        }
      });
    },
  );
}

// The control: the same probe under bare npm must succeed at every attack, or the assertions
// above would prove nothing.
describe.skipIf(unavailable !== "")("the probe without safe-npm (control)", () => {
  let world: World;
  let reports: Report[];
  beforeAll(async () => {
    world = makeWorld({
      projectInHome: true,
      packageJson: { dependencies: { probe: "file:vendor/probe-1.0.0.tgz" } },
      vendor: { packed, files: ["probe-1.0.0.tgz"] },
    });
    plantTargets(world);
    await execa("npm", ["install", "--no-audit", "--no-fund"], {
      cwd: world.project,
      env: world.env,
      extendEnv: false,
    });
    reports = readReports(world);
  });
  afterAll(() => world?.dispose());

  it("reads the secrets, leaks the environment, sees and kills the host process", () => {
    const [pre] = reports;
    expect(pre?.reads.ssh?.ok).toBe(true);
    expect(pre?.reads.sibling?.value).toBe(SECRETS.sibling);
    expect(pre?.reads.hostTmp?.value).toBe(SECRETS.hostTmp);
    expect(String(pre?.reads.npmrc?.value)).toContain(SECRETS.npmToken);
    expect(pre?.writes.gitHook?.ok).toBe(true);
    expect(pre?.env.leaked).toEqual(expect.arrayContaining(["NPM_TOKEN", "AWS_SECRET_ACCESS_KEY"]));
    expect(pre?.env.procLeaks.some((l) => l.includes(SECRET_ENV.NPM_TOKEN as string))).toBe(true);
    expect(pre?.proc.seesVictim).toBe(true);
    expect(pre?.proc.killVictim.ok).toBe(true);
    expect(readFileSync(join(world.home, ".bashrc"), "utf8")).toContain("pwned by probe");
    // Kernel settings are writable by root (only the uid is checked), not by other users.
    expect(pre?.privileges.sysctl.ok).toBe(process.getuid?.() === 0);
  });
});
