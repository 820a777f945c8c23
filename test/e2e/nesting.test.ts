/**
 * safe-npm as a package.json script prefix: sandboxed when the script runs outside, run directly
 * (no nested bwrap) when the script already runs inside — and the marker that tells the two
 * apart cannot be forged from outside.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { installSelfInto, makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

const REPORT =
  'echo "event=$npm_lifecycle_event"; echo "path=$PATH"; echo "host=$(hostname)"; cat /run/safe-npm/sandbox.json 2>/dev/null || echo no-marker';

describe.skipIf(unavailable !== "")("safe-npm as a script prefix", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { inner: `safe-npm exec -- sh -c '${REPORT}'` } },
    });
    installSelfInto(world.project);
  });
  afterAll(() => world?.dispose());

  it("sandboxes the script's command when run by a bare package manager", async () => {
    const r = await execa("npm", ["run", "--silent", "inner"], {
      cwd: world.project,
      env: world.env,
      extendEnv: false,
      reject: false,
    });
    expect(r.stderr).not.toContain("✗");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("host=safe-npm");
    expect(r.stdout).toContain(`"projectRoot":"${world.project}"`);
    // The script's context comes along: its lifecycle event and the node_modules/.bin chain.
    expect(r.stdout).toContain("event=inner");
    expect(r.stdout).toMatch(new RegExp(`path=.*${world.project}/node_modules/\\.bin`));
  });

  it("runs the command directly when the script already runs inside a sandbox", async () => {
    const r = await world.run(["--quiet", "run", "--silent", "inner"]);
    expect(r.stderr).not.toContain("✗");
    expect(r.exitCode).toBe(0);
    // One sandbox, not two: the inner safe-npm did not start bwrap (it could not: nested user
    // namespaces are disabled inside) and the marker is the outer one.
    expect(r.stdout).toContain("host=safe-npm");
    expect(r.stdout).toContain(`"projectRoot":"${world.project}"`);
    expect(r.stdout).toContain("event=inner");
  });

  it.runIf(process.getuid?.() === 0)(
    "ignores a forged marker file outside a sandbox (needs root to write /run)",
    async () => {
      const dir = "/run/safe-npm";
      const existed = existsSync(dir);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "sandbox.json"),
        '{"version":"0","projectRoot":"/","network":"full"}',
      );
      try {
        const r = await world.run([
          "--quiet",
          "exec",
          "--",
          "sh",
          "-c",
          "hostname; cat /proc/self/status",
        ]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toContain("safe-npm\n");
        expect(r.stdout).toMatch(/CapEff:\s*0+\n/);
      } finally {
        if (existed) rmSync(join(dir, "sandbox.json"), { force: true });
        else rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
