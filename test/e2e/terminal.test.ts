/**
 * On a real terminal (a pty made by util-linux `script`): code inside cannot push keystrokes into
 * the caller's terminal (TIOCSTI/TIOCLINUX), while Ctrl-C still stops the command — and lets a
 * node program clean up first.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { shellQuote } from "../../src/bwrap.js";
import { descendants } from "../../src/spawn.js";
import { cliPath } from "./paths.js";
import { makeWorld, processesWith, processName, type World, waitFor } from "./world.js";

const unavailable = inject("sandboxUnavailable");

const TIOCSTI_PROBE = `
my $c = "x";
my $r = ioctl(STDIN, 0x5412, $c);
print "TIOCSTI=", ($r ? "ok" : "errno" . ($! + 0)), "\\n";
my $d = "\\x06";
$r = ioctl(STDIN, 0x541C, $d);
print "TIOCLINUX=", ($r ? "ok" : "errno" . ($! + 0)), "\\n";
`;

/** Every pty session started, so none outlives the tests even when one fails. */
const started: number[] = [];

interface PtyRun {
  output: () => string;
  write: (data: string) => void;
  exit: Promise<number | null>;
}

/** Runs `argv` on a fresh pty; what is written goes to the terminal's input. */
function onPty(world: World, argv: string[]): PtyRun {
  const child = spawn("script", ["-qec", argv.map(shellQuote).join(" "), "/dev/null"], {
    cwd: world.project,
    env: world.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (child.pid !== undefined) started.push(child.pid);
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return {
    output: () => out,
    write: (data) => child.stdin.write(data),
    exit: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
}

describe.skipIf(unavailable !== "")("on a terminal", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    writeFileSync(join(world.project, "tiocsti.pl"), TIOCSTI_PROBE);
    writeFileSync(
      join(world.project, "long.cjs"),
      `const fs = require("node:fs");
process.on("SIGINT", () => { fs.writeFileSync(".probe/node-cleaned", "yes"); process.exit(130); });
fs.writeFileSync(".probe/node-started", "yes");
setInterval(() => {}, 1000);
`,
    );
    mkdirSync(join(world.project, ".probe"), { recursive: true });
  });
  afterAll(() => {
    for (const pid of started) {
      for (const p of [pid, ...descendants(pid)].reverse()) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    world?.dispose();
  });

  it("blocks TIOCSTI and TIOCLINUX inside with EPERM from the seccomp filter", async () => {
    const run = onPty(world, [process.execPath, cliPath, "exec", "--", "perl", "tiocsti.pl"]);
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("TIOCSTI=errno1");
    expect(run.output()).toContain("TIOCLINUX=errno1");
  });

  it("(control) the same probe outside the sandbox gets a different answer", async () => {
    const run = onPty(world, ["perl", "tiocsti.pl"]);
    expect(await run.exit).toBe(0);
    // ok where the kernel still allows TIOCSTI, EIO (5) where dev.tty.legacy_tiocsti=0.
    expect(run.output()).toMatch(/TIOCSTI=(ok|errno5)/);
    expect(run.output()).not.toContain("TIOCLINUX=errno1");
  });

  it("Ctrl-C reaches a node program inside, which cleans up before exiting", async () => {
    const run = onPty(world, [
      process.execPath,
      cliPath,
      "--quiet",
      "exec",
      "--",
      "node",
      "long.cjs",
    ]);
    await waitFor(() => existsSync(join(world.project, ".probe", "node-started")), "node to start");
    run.write("\x03");
    expect(await run.exit).toBe(130);
    expect(readFileSync(join(world.project, ".probe", "node-cleaned"), "utf8")).toBe("yes");
    expect(processesWith("long.cjs")).toEqual([]);
  });

  it("Ctrl-C stops a non-node command too (its SIGINT is reset inside)", async () => {
    const marker = `sleep ${7000 + Math.floor(Math.random() * 2000)}`;
    const run = onPty(world, [
      process.execPath,
      cliPath,
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      `echo > .probe/sh-started; ${marker}`,
    ]);
    await waitFor(() => existsSync(join(world.project, ".probe", "sh-started")), "sh to start");
    // The sleep itself (its argv is NUL-separated: the marker with a space is not in it).
    const seconds = marker.split(" ")[1] as string;
    await waitFor(
      () => processesWith(`sleep\0${seconds}`).some((p) => processName(p) === "sleep"),
      "sleep to start",
    );
    run.write("\x03");
    expect(await run.exit).toBe(130);
    expect(processesWith(marker)).toEqual([]);
  });

  it("keeps the command in the terminal's foreground process group (job control works)", async () => {
    const marker = `sleep ${9000 + Math.floor(Math.random() * 900)}`;
    const run = onPty(world, [
      process.execPath,
      cliPath,
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      marker,
    ]);
    // The command's sh itself, not script, safe-npm or bwrap, whose command lines mention it too.
    const sleeps = (): number[] => processesWith(marker).filter((p) => processName(p) === "sh");
    await waitFor(() => sleeps().length > 0, "the command to start");
    const [pid] = sleeps();
    // /proc/<pid>/stat: fields after the command name are state, ppid, pgrp, session, tty_nr, tpgid.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [, , pgrp, session, tty, tpgid] = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    expect(tty).not.toBe(0);
    expect(pgrp).toBe(tpgid);
    expect(session).toBeGreaterThan(0);
    run.write("\x03");
    expect(await run.exit).toBe(130);
  });
});
