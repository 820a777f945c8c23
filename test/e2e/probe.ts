/** The probe fixture package's side of the e2e tests: what to attack, and what it reported. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { alive, SECRET_ENV, SECRETS, type World } from "./world.js";

export interface Attempt {
  ok: boolean;
  value?: unknown;
  error?: string;
}
export interface Report {
  phase: string;
  reads: Record<string, Attempt>;
  writes: Record<string, Attempt>;
  env: { names: string[]; leaked: string[]; procLeaks: string[] };
  proc: { seesVictim: boolean; killVictim: Attempt; pids: number[] };
  privileges: {
    capEff: string;
    capBnd: string;
    mount: Attempt;
    mknod: Attempt;
    unshare: Attempt;
    sysctl: Attempt;
  };
}

/** Tells the probe what to attack: the world's planted secrets, paths and victim process. */
export function plantTargets(world: World): void {
  writeFileSync(
    join(world.project, "probe-targets.json"),
    JSON.stringify({
      readFiles: {
        ssh: join(world.home, ".ssh", "id_rsa"),
        aws: join(world.home, ".aws", "credentials"),
        gh: join(world.home, ".config", "gh", "hosts.yml"),
        npmrc: join(world.home, ".npmrc"),
        sibling: join(world.sibling, "secret.txt"),
        hostTmp: world.hostTmpFile,
      },
      writeFiles: {
        bashrc: join(world.home, ".bashrc"),
        autostart: join(world.home, ".config", "autostart", "worm.desktop"),
        sibling: join(world.sibling, "planted.txt"),
        gitHook: join(world.project, ".git", "hooks", "pre-commit"),
        gitConfig: join(world.project, ".git", "config"),
        usr: "/usr/pwned",
        etc: "/etc/pwned",
      },
      secretEnv: Object.keys(SECRET_ENV),
      secretValues: Object.values(SECRET_ENV),
      victimPid: world.victim.pid,
      victimMarker: world.victimMarker,
    }),
  );
  // probe-targets.json is the test's own scaffolding: keep it out of `git status`.
  writeFileSync(join(world.project, ".git", "info", "exclude"), "probe-targets.json\n");
}

export function readReports(world: World): Report[] {
  return ["preinstall", "postinstall"].flatMap((phase) => {
    const file = join(world.project, ".probe", `${phase}.json`);
    return existsSync(file) ? [JSON.parse(readFileSync(file, "utf8")) as Report] : [];
  });
}

/**
 * The verdicts every sandboxed lifecycle script must get, whichever package manager ran it:
 * the project is writable, nothing else is — no secret is read, no persistence is planted, no
 * secret variable leaks, no host process is seen or signalled, no capability is held.
 */
export function expectContained(report: Report, world: World): void {
  const where = (what: string): string => `${report.phase}: ${what}`;
  expect(report.writes.project?.ok, where("write into the project")).toBe(true);
  for (const name of ["ssh", "aws", "gh", "sibling", "hostTmp"]) {
    expect(report.reads[name], where(`read ${name}`)).toMatchObject({ ok: false });
  }
  // ~/.npmrc enters as a sanitized copy: registry kept, token gone.
  const npmrc = report.reads.npmrc;
  expect(npmrc?.ok, where("read ~/.npmrc")).toBe(true);
  expect(String(npmrc?.value)).toContain("registry=http://127.0.0.1:9/");
  expect(String(npmrc?.value)).not.toContain(SECRETS.npmToken);
  expect(String(npmrc?.value)).not.toContain("_authToken");
  for (const name of ["gitHook", "gitConfig", "usr", "etc"]) {
    expect(report.writes[name], where(`write ${name}`)).toMatchObject({ ok: false });
  }
  // Writes into "$HOME" land in the private home: the real one is untouched.
  expect(readFileSync(join(world.home, ".bashrc"), "utf8")).toBe("# the user's own bashrc\n");
  expect(existsSync(join(world.home, ".config", "autostart"))).toBe(false);
  expect(existsSync(join(world.sibling, "planted.txt"))).toBe(false);
  expect(existsSync(join(world.project, ".git", "hooks", "pre-commit"))).toBe(false);
  expect(report.env.leaked, where("secret variables")).toEqual([]);
  expect(report.env.procLeaks, where("/proc/*/environ and cmdline")).toEqual([]);
  for (const name of report.env.names) {
    expect(name, where("variable names")).not.toMatch(/TOKEN|SECRET|AWS_|SSH_AUTH|DBUS/);
  }
  expect(report.proc.seesVictim, where("sees the host process")).toBe(false);
  expect(report.proc.killVictim.ok, where("kills the host process")).toBe(false);
  expect(report.proc.pids).not.toContain(world.victim.pid);
  expect(alive(world.victim.pid)).toBe(true);
  expect(report.privileges.capEff, where("CapEff")).toBe("0000000000000000");
  expect(report.privileges.mount.ok, where("mount")).toBe(false);
  expect(report.privileges.mknod.ok, where("mknod")).toBe(false);
  expect(report.privileges.unshare.ok, where("unshare")).toBe(false);
  expect(report.privileges.sysctl.ok, where("write a kernel setting")).toBe(false);
}
