/** The runner seen from outside: exit statuses, signals, --dry-run, errors, working directory. */
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliPath } from "./paths.js";
import { makeWorld, processesWith, SECRETS, type World, waitFor } from "./world.js";

const unavailable = inject("sandboxUnavailable");

/** Names unique to this run of the file: another suite on the machine has processes of its own. */
const TAG = Math.random().toString(36).slice(2, 8);
const LONG = `long-${TAG}.cjs`;
const SLEEP = 600 + Math.floor(Math.random() * 300);

/** A PATH directory holding only the named host tools (to hide bwrap or npm from safe-npm). */
function pathWith(world: World, name: string, tools: Record<string, string>): string {
  const dir = join(world.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [tool, target] of Object.entries(tools)) symlinkSync(target, join(dir, tool));
  return dir;
}

describe.skipIf(unavailable !== "")("safe-npm command line", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({
      projectInHome: true,
      packageJson: {
        scripts: {
          fail: 'node -e "process.exit(3)"',
          long: `node ${LONG}`,
          where: 'node -e "console.log(process.cwd())"',
        },
      },
    });
    // A long script that cleans up on SIGINT, to prove the signal reaches it.
    writeFileSync(
      join(world.project, LONG),
      `const fs = require("node:fs");
process.on("SIGINT", () => { fs.writeFileSync(".probe/cleaned", "yes"); process.exit(130); });
fs.mkdirSync(".probe", { recursive: true });
fs.writeFileSync(".probe/started", String(process.pid));
setInterval(() => {}, 1000);
`,
    );
    mkdirSync(join(world.project, "packages", "web"), { recursive: true });
  });
  afterAll(() => world?.dispose());

  it("exits with the script's own status", async () => {
    const r = await world.run(["--quiet", "run", "fail"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).not.toContain("✗");
  });

  it("exits 127 for a command not found inside and 126 for one that cannot run", async () => {
    expect((await world.run(["exec", "--", "no-such-command-xyz"])).exitCode).toBe(127);
    // /etc/passwd exists inside but is not executable.
    expect((await world.run(["exec", "--", "/etc/passwd"])).exitCode).toBe(126);
    // A host path that the sandbox does not contain is "not found" inside.
    const hostOnly = join(world.dir, "host-only.sh");
    writeFileSync(hostOnly, "#!/bin/sh\necho escaped\n");
    chmodSync(hostOnly, 0o755);
    const r = await world.run(["exec", "--", hostOnly]);
    expect(r.exitCode).toBe(127);
    expect(r.stdout).not.toContain("escaped");
  });

  it("reports death by signal as 128+N", async () => {
    expect((await world.run(["exec", "--", "sh", "-c", "kill -TERM $$"])).exitCode).toBe(143);
  });

  it("forwards SIGINT to the running script, which cleans up; nothing is left running", async () => {
    const child = spawn(process.execPath, [cliPath, "--quiet", "run", "long"], {
      cwd: world.project,
      env: world.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    await waitFor(
      () => existsSync(join(world.project, ".probe", "started")),
      "the script to start",
    );
    expect(
      processesWith(join(world.project, LONG)).length + processesWith(LONG).length,
    ).toBeGreaterThan(0);
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(readFileSync(join(world.project, ".probe", "cleaned"), "utf8")).toBe("yes");
    expect(processesWith(LONG)).toEqual([]);
  });

  it("forwards SIGTERM too", async () => {
    const child = spawn(
      process.execPath,
      [cliPath, "exec", "--", "sh", "-c", `echo up; sleep ${SLEEP}`],
      {
        cwd: world.project,
        env: world.env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (code) => resolve(code)),
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => out.includes("up"), "the command to start");
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(processesWith(`sleep ${SLEEP}`)).toEqual([]);
  });

  it("runs in the directory it was started from, with the project root found above it", async () => {
    const sub = join(world.project, "packages", "web");
    const r = await world.run(["exec", "--", "pwd"], { cwd: sub });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(sub);
    const dry = await world.run(["--dry-run", "install"], { cwd: sub });
    expect(dry.stdout).toContain(`project:   ${world.project}`);
    expect(dry.stdout).toContain(`--bind ${world.project} ${world.project}`);
  });

  it("refuses a project whose config names more registries than the host makes certificates for", async () => {
    const many = makeWorld({ projectInHome: true });
    try {
      const lines = (n: number): string =>
        Array.from({ length: n }, (_, i) => `@s${i}:registry=https://r${i}.example.com/\n`).join(
          "",
        );
      const npmrc = join(many.project, ".npmrc");
      writeFileSync(npmrc, lines(33));
      const r = await many.run(["--dry-run", "install"]);
      expect(r.exitCode, r.stderr).toBe(125);
      expect(r.stderr).toContain(`the project's config (${npmrc}) names 33 registries`);
      expect(r.stderr).toContain("at most 32");
      writeFileSync(npmrc, lines(32));
      const ok = await many.run(["--dry-run", "install"]);
      expect(ok.exitCode, ok.stderr).toBe(0);
    } finally {
      many.dispose();
    }
  });

  it("--dry-run prints the policy and the bwrap command and runs nothing", async () => {
    const cache = join(world.dir, "dry-run-cache");
    const r = await world.run(["--dry-run", "install"], { env: { XDG_CACHE_HOME: cache } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("manager:   npm (decided by: default)");
    expect(r.stdout).toMatch(/bwrap command:\n\S*bwrap .*--clearenv/);
    expect(r.stdout).toContain("--cap-drop ALL");
    expect(r.stdout).toContain(`--ro-bind ${world.project}/.git ${world.project}/.git`);
    expect(r.stdout).not.toContain("NPM_TOKEN");
    expect(existsSync(join(world.project, "node_modules"))).toBe(false);
    expect(existsSync(cache)).toBe(false);
  });

  it("starts node without NODE_EXTRA_CA_CERTS and puts it back for what it runs", () => {
    // A file under /etc (so it passes inside) that does not exist: node warns when it loads it.
    const absent = `/etc/ssl/safe-npm-absent-${TAG}.pem`;
    const warning = "Ignoring extra certs";
    const env = { ...world.env, NODE_EXTRA_CA_CERTS: absent };
    const show = [
      "sh",
      "-c",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: sh's `${VAR-default}`
      'printf "%s|%s" "$NODE_EXTRA_CA_CERTS" "${SAFE_NPM_NODE_EXTRA_CA_CERTS-unset}"',
    ];
    const opts = { cwd: world.project, env, encoding: "utf8" as const };
    // Whether this node loads the file at start-up (node 20) or on first use (later ones).
    const eager = spawnSync(process.execPath, ["-e", "0"], opts).stderr.includes(warning);
    // The command as installed: its own sh lines start node.
    const direct = spawnSync(cliPath, ["--quiet", "exec", "--", ...show], opts);
    expect(direct.status).toBe(0);
    expect(direct.stdout).toBe(`${absent}|unset`);
    expect(direct.stderr).not.toContain(warning);
    // Control: node started on the file directly loads it, where node loads it at start-up.
    const control = spawnSync(process.execPath, [cliPath, "--quiet", "exec", "--", ...show], opts);
    expect(control.stdout).toBe(`${absent}|unset`);
    expect(control.stderr.includes(warning)).toBe(eager);
  });

  it("sees a cleared environment and its own hostname, pid and user namespaces", async () => {
    const r = await world.run([
      "exec",
      "--",
      "sh",
      "-c",
      "env; hostname; echo pid=$$; cat /proc/self/uid_map",
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toMatch(/TOKEN|SECRET|AWS_|SSH_AUTH_SOCK|DBUS/);
    expect(r.stdout).toContain("TMPDIR=/tmp");
    expect(r.stdout).toContain("safe-npm\n");
  });

  it("passes no descriptor the caller left open (a host file or directory) into the sandbox", () => {
    const key = join(world.home, ".ssh", "id_rsa");
    // The caller holds the key on fd 7 and the home directory on fd 9 (no close-on-exec).
    const leak = (cmd: string): string =>
      spawnSync("bash", ["-c", `exec 7<${key} 9<${world.home}; ${cmd}`], {
        cwd: world.project,
        env: world.env,
        encoding: "utf8",
      }).stdout;
    const attempt = "cat /proc/self/fd/7; ls /proc/self/fd/9/.ssh";
    // (control) without safe-npm the command reads both.
    expect(leak(`sh -c '${attempt}'`)).toContain("id_rsa");
    expect(leak(`sh -c '${attempt}'`)).toContain(SECRETS.sshKey);
    const inside = leak(
      `${process.execPath} ${cliPath} --quiet exec -- sh -c '${attempt}; echo ran'`,
    );
    expect(inside).toContain("ran");
    expect(inside).not.toContain(SECRETS.sshKey);
    expect(inside).not.toContain("id_rsa");
  });

  it("shell runs the user's shell (or /bin/sh) inside, reading commands from stdin", async () => {
    const r = await world.run(["--quiet", "shell"], {
      input: "hostname; test -e ~/.ssh/id_rsa && echo SAW-SSH-KEY; exit 7\n",
      env: { SHELL: "/bin/sh" },
    });
    expect(r.exitCode).toBe(7);
    expect(r.stdout).toBe("safe-npm");
  });

  it("npx runs explicitly, inside", async () => {
    const r = await world.run(["--quiet", "npx", "--version"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("--verbose prints the policy on stderr and leaves stdout to the command", async () => {
    const r = await world.run(["--verbose", "exec", "--", "echo", "only this"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("only this");
    expect(r.stderr).toContain("safe-npm policy:");
    expect(r.stderr).toContain("network:   none");
  });

  it("fails with 125 and a hint when bwrap is missing", async () => {
    const bin = pathWith(world, "no-bwrap", { node: process.execPath });
    const r = await world.run(["install"], { env: { PATH: bin } });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("✗ bubblewrap (bwrap) was not found on PATH");
    expect(r.stderr).toContain("apt-get install bubblewrap");
    expect(r.stderr).toContain("dnf install bubblewrap");
    expect(r.stderr).toContain("pacman -S bubblewrap");
  });

  it("fails with 125, bwrap's own message and the likely cause when namespaces are refused", async () => {
    const bin = join(world.dir, "fake-bwrap");
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, "bwrap"),
      "#!/bin/sh\necho 'bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n",
    );
    chmodSync(join(bin, "bwrap"), 0o755);
    const r = await world.run(["install"], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("bwrap: No permissions to create new namespace");
    expect(r.stderr).toContain("✗ bwrap could not create the sandbox");
    expect(r.stderr).toMatch(/hint: .*(sysctl|namespaces)/);
  });

  it("fails with 125 when the package manager is not on PATH", async () => {
    const bin = pathWith(world, "no-npm", { node: process.execPath });
    const bwrap = (process.env.PATH ?? "")
      .split(":")
      .map((d) => join(d, "bwrap"))
      .find((p) => existsSync(p));
    symlinkSync(bwrap ?? "/usr/bin/bwrap", join(bin, "bwrap"));
    const r = await world.run(["install"], { env: { PATH: bin } });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("✗ npm was not found on PATH");
    expect(r.stderr).toContain("hint:");
  });

  it("fails with 125 outside a project", async () => {
    const r = await world.run(["install"], { cwd: world.dir });
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain(`✗ no package.json found from ${world.dir} upward`);
  });

  it("fails with 125 on an unknown flag before the command", async () => {
    const r = await world.run(["--frobnicate", "install"]);
    expect(r.exitCode).toBe(125);
    expect(r.stderr).toContain("✗ unknown option --frobnicate");
  });
});
