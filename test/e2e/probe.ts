/** The probe fixture package's side of the e2e tests: what to attack, and what it reported. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECRET_ENV, type World } from "./world.js";

export interface Attempt {
  ok: boolean;
  value?: unknown;
  error?: string;
}
export interface Report {
  phase: string;
  reads: Record<string, Attempt>;
  writes: Record<string, Attempt>;
  env: { names: string[]; leaked: string[] };
  proc: { seesVictim: boolean; killVictim: Attempt; pids: number[] };
  privileges: { capEff: string; capBnd: string; mount: Attempt; mknod: Attempt; unshare: Attempt };
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
