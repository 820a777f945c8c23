/**
 * On a real terminal (a pty made by util-linux `script`): code inside cannot push keystrokes into
 * the caller's terminal (TIOCSTI/TIOCLINUX), while Ctrl-C still stops the command — and lets a
 * node program clean up first.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { procStat } from "../../src/host/procstat.js";
import { shellQuote } from "../../src/sandbox/bwrap.js";
import { descendants } from "../../src/sandbox/spawn.js";
import { cliPath } from "./paths.js";
import {
  inSandbox,
  makeWorld,
  processesWith,
  processName,
  SECRET_ENV,
  safeNpmExec,
  statOf,
  type World,
  waitFor,
} from "./world.js";

const unavailable = inject("sandboxUnavailable");

/** Names unique to this run of the file: another suite on the machine has processes of its own. */
const TAG = Math.random().toString(36).slice(2, 8);
const LONG = `long-${TAG}.cjs`;
const STEAL = `steal-${TAG}.sh`;

const TIOCSTI_PROBE = `
my $c = "x";
my $r = ioctl(STDIN, 0x5412, $c);
print "TIOCSTI=", ($r ? "ok" : "errno" . ($! + 0)), "\\n";
my $d = "\\x06";
$r = ioctl(STDIN, 0x541C, $d);
print "TIOCLINUX=", ($r ? "ok" : "errno" . ($! + 0)), "\\n";
`;

/**
 * The command's own `sh -c <marker>` inside the sandbox — not the start-up shell that execs the
 * supervisor (its arguments end with the same words), nor script's shell outside.
 */
function commandShell(marker: string): number[] {
  return processesWith(marker).filter((p) => {
    try {
      return (
        inSandbox(p) && readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith(`sh\0-c\0${marker}`)
      );
    } catch {
      return false;
    }
  });
}

/** The process's group is its terminal's foreground group. */
/**
 * A process that runs nothing: stopped, or ended (a child that ends just as its parent is
 * stopped stays a zombie until the parent goes on and reaps it; one gone meanwhile is gone).
 */
/**
 * Stopped, gone, or held in the kernel: dash runs commands with vfork(2), and a parent whose
 * child was stopped before its exec waits in a killable sleep (state D) until the child goes on.
 */
function halted(pid: number): boolean {
  return /^[TtZXD]$/.test(procStat(pid)?.state ?? "X");
}

function holdsTerminal(pid: number | undefined): boolean {
  const { pgrp, tpgid } = statOf(pid);
  return pgrp === tpgid;
}

/** Until the `sleep <seconds>` itself runs (its argv is NUL-separated). */
function sleepStarted(seconds: string): Promise<void> {
  return waitFor(
    () => processesWith(`sleep\0${seconds}`).some((p) => processName(p) === "sleep"),
    "sleep to start",
  );
}

/** A port nothing on the host listens on, below the ephemeral range (whose ports look like listen(0)'s and are not forwarded). */
async function freeLowPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 9000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Every pty session started, so none outlives the tests even when one fails. */
const started: number[] = [];

interface PtyRun {
  pid: number;
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
    pid: child.pid ?? -1,
    output: () => out,
    write: (data) => child.stdin.write(data),
    exit: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
}

/** An interactive bash on a fresh pty, given `cli` (with `suffix`, e.g. " &") as its first line. */
function inShell(world: World, cli: readonly string[], suffix = ""): PtyRun {
  const run = onPty(world, ["bash", "--norc", "--noprofile", "-i"]);
  run.write(`${cli.map(shellQuote).join(" ")}${suffix}\n`);
  return run;
}

/** Until the shell on `run` reports its job stopped. */
function reportedStopped(run: PtyRun): Promise<void> {
  return waitFor(() => /Stopped/.test(run.output()), "the shell to report the job stopped");
}

/**
 * From a shell, `safe-npm exec -- sh -c <marker>`; once the command's group holds the terminal,
 * Ctrl-Z, and the shell reports the job stopped. Gives the run and the command's pid.
 */
async function ctrlZFromShell(world: World, marker: string): Promise<{ run: PtyRun; pid: number }> {
  const run = inShell(world, safeNpmExec("sh", "-c", marker));
  await waitFor(() => commandShell(marker).length > 0, "the command to start");
  const [pid] = commandShell(marker) as [number];
  await waitFor(() => holdsTerminal(pid), "the command's group to take the terminal");
  run.write("\x1a");
  await reportedStopped(run);
  return { run, pid };
}

describe.skipIf(unavailable !== "")("on a terminal", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    writeFileSync(join(world.project, "tiocsti.pl"), TIOCSTI_PROBE);
    writeFileSync(
      join(world.project, LONG),
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
    const run = onPty(world, safeNpmExec("node", LONG));
    await waitFor(() => existsSync(join(world.project, ".probe", "node-started")), "node to start");
    run.write("\x03");
    expect(await run.exit).toBe(130);
    expect(readFileSync(join(world.project, ".probe", "node-cleaned"), "utf8")).toBe("yes");
    expect(processesWith(LONG)).toEqual([]);
  });

  it("Ctrl-C stops a non-node command too (its SIGINT is reset inside)", async () => {
    const marker = `sleep ${7000 + Math.floor(Math.random() * 2000)}`;
    const run = onPty(world, safeNpmExec("sh", "-c", `echo > .probe/sh-started; ${marker}`));
    await waitFor(() => existsSync(join(world.project, ".probe", "sh-started")), "sh to start");
    // The sleep itself (its argv is NUL-separated: the marker with a space is not in it).
    const seconds = marker.split(" ")[1] as string;
    await sleepStarted(seconds);
    run.write("\x03");
    expect(await run.exit).toBe(130);
    expect(processesWith(marker)).toEqual([]);
  });

  it("gives the command a process group of its own, the terminal's foreground for the run", async () => {
    const marker = `sleep ${9000 + Math.floor(Math.random() * 900)}`;
    const run = onPty(world, safeNpmExec("sh", "-c", marker));
    // The command's sh itself: inside the sandbox's pid namespace (script's own shell, safe-npm
    // and bwrap run outside it).
    const commands = (): number[] => commandShell(marker);
    await waitFor(() => commands().length > 0, "the command to start");
    const [pid] = commands();
    // The hand-over happens right after start: wait for it rather than race it.
    await waitFor(() => holdsTerminal(pid), "the command's group to take the terminal");
    const { pgrp, session, tty, tpgid } = statOf(pid);
    expect(tty).not.toBe(0);
    expect(pgrp).toBe(tpgid);
    expect(session).toBeGreaterThan(0);
    // safe-npm itself is in another group: a kill(0) inside cannot reach it.
    const [cli] = descendants(run.pid).filter((p) => processName(p) === "node" && !inSandbox(p));
    expect(cli).toBeDefined();
    expect(statOf(cli).pgrp).not.toBe(pgrp);
    // Past dash's fork (a Ctrl-C during it is lost by dash itself, sandbox or not).
    const seconds = marker.split(" ")[1] as string;
    await sleepStarted(seconds);
    run.write("\x03");
    expect(await run.exit).toBe(130);
  });

  it("a kill(0, SIGKILL) inside kills neither safe-npm nor the rest of the caller's group", async () => {
    const cli = safeNpmExec("sh", "-c", "kill -KILL 0");
    // The caller: a shell running safe-npm in its own process group, then reporting.
    const caller = `${cli.map(shellQuote).join(" ")}; echo "caller-survived=$?"`;
    const run = onPty(world, ["sh", "-c", caller]);
    await run.exit;
    expect(run.output()).toContain("caller-survived=137");
  });

  it("(control) without safe-npm the same kill(0) takes the caller down", async () => {
    const run = onPty(world, ["sh", "-c", 'sh -c "kill -KILL 0"; echo "caller-survived=$?"']);
    await run.exit;
    expect(run.output()).not.toContain("caller-survived");
  });

  // Points of start-up: safe-npm's node has started, bwrap runs, the supervisor inside runs,
  // the command runs. A Ctrl-C at each must end the run (or reach the command), never be lost.
  it.each(["node", "bwrap", "perl", "sleep"])(
    "a Ctrl-C as soon as %s runs ends the run or reaches the command",
    async (stage) => {
      const seconds = String(8000 + Math.floor(Math.random() * 900));
      // sleep itself, not `sh -c`: a Ctrl-C that lands while dash forks is caught by the child
      // with dash's inherited handler and lost — dash's own race, with or without safe-npm.
      const run = onPty(world, safeNpmExec("sleep", seconds));
      await waitFor(
        () => descendants(run.pid).some((p) => processName(p) === stage),
        `${stage} to start`,
      );
      run.write("\x03");
      expect(await run.exit).toBe(130);
      expect(processesWith(`sleep\0${seconds}`)).toEqual([]);
    },
  );

  it("Ctrl-Z stops the job for the caller's shell, and fg resumes the command", async () => {
    const marker = `sleep ${6000 + Math.floor(Math.random() * 900)}`;
    const { run, pid } = await ctrlZFromShell(world, marker);
    run.write("fg\n");
    await waitFor(
      () => statOf(pid).state !== "T" && holdsTerminal(pid),
      "the command to run in the foreground again",
    );
    run.write("\x03");
    run.write("echo job-ended=$?\n");
    await waitFor(() => /job-ended=130/.test(run.output()), "the job to end by Ctrl-C");
    run.write("exit\n");
    expect(await run.exit).toBe(0);
    expect(processesWith(marker)).toEqual([]);
  });

  it("code inside that stops itself and wakes the supervisor cannot take the terminal from the shell", async () => {
    // Stops itself (the caller's shell reports the job stopped and takes the terminal back),
    // then has its parent (the supervisor) continued behind the shell's back, three times.
    writeFileSync(
      join(world.project, STEAL),
      "P=$PPID; for i in 1 2 3; do (sleep 1; kill -CONT $P) & kill -STOP $$; sleep 0.3; done\n",
    );
    const run = inShell(world, safeNpmExec("sh", STEAL));
    await reportedStopped(run);
    // The supervisor was continued meanwhile; the shell still reads its terminal.
    await waitFor(() => processesWith(STEAL).some((p) => inSandbox(p)), "the command");
    run.write("echo shell-reads-$((6*7))\n");
    await waitFor(() => /shell-reads-42/.test(run.output()), "the shell to read its next command");
    run.write("kill -KILL %1\n");
    await waitFor(() => processesWith(STEAL).length === 0, "the job to end");
    // bash refuses the first exit while it still lists a stopped job.
    run.write("exit 0\n");
    run.write("exit 0\n");
    expect(await run.exit).toBe(0);
  });

  it("code inside that sets tostop cannot stop the caller's job before the after-run check", async () => {
    // `stty tostop` inside; then the caller's job writes to the terminal while the command
    // holds it (the right side of the pipe), which makes the kernel send the job SIGTTOU. The
    // command goes on once the test has seen the writer stopped.
    const plant = `plant-${TAG}`;
    const set = `.probe/tostop-${TAG}`;
    const go = `.probe/go-${TAG}`;
    const inside = `stty tostop -echo; touch ${set}; until [ -e ${go} ]; do sleep 0.05; done; git init -q ${plant}; echo inside-done`;
    const writer = `(until [ -e ${set} ]; do sleep 0.05; done; echo writer-wrote; cat)`;
    const cli = safeNpmExec("sh", "-c", inside);
    const run = onPty(world, ["bash", "--norc", "--noprofile", "-i"]);
    run.write(`${cli.map(shellQuote).join(" ")} | ${writer}\n`);
    // Typed ahead: the shell reads it once the job is done (or stopped).
    run.write(
      `echo "job-ended=$? modes=$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(tostop|echo)' | tr '\\n' ,)"\n`,
    );
    const stoppedWriter = (): boolean =>
      descendants(run.pid).some((p) => processName(p) === "bash" && statOf(p).state === "T");
    await waitFor(stoppedWriter, "the writer in the caller's job to be stopped");
    writeFileSync(join(world.project, go), "");
    await waitFor(() => /job-ended=\d+ modes=/.test(run.output()), "the shell's next command");
    run.write("exit 0\nexit 0\n");
    const output = run.output();
    expect(output).not.toContain("Stopped");
    expect(output).toContain("job-ended=0 modes=echo,-tostop,");
    // The job's own writer was continued, and the command ran to its end.
    expect(output).toContain("writer-wrote");
    expect(output).toContain("inside-done");
    // The check ran before the shell was back: the planted repository is moved aside.
    expect(output).toContain(`moved ${join(world.project, plant, ".git")}`);
    expect(existsSync(join(world.project, plant, ".git"))).toBe(false);
    expect(await run.exit).toBe(0);
  });

  it("puts back the terminal's modes the command changed", async () => {
    // node does, when safe-npm exits. sh as the caller: an interactive bash puts its own back.
    const cli = safeNpmExec("stty", "tostop", "-echo", "-icanon");
    const modes = "stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(tostop|echo|icanon)' | tr '\\n' ,";
    const run = onPty(world, [
      "sh",
      "-c",
      `${cli.map(shellQuote).join(" ")}; echo "modes=$(${modes})"`,
    ]);
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("modes=icanon,echo,-tostop,");
  });

  it("(control) without safe-npm the same stty leaves the terminal changed", async () => {
    const modes = "stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(tostop|echo|icanon)' | tr '\\n' ,";
    const run = onPty(world, ["sh", "-c", `stty tostop -echo -icanon; echo "modes=$(${modes})"`]);
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("modes=-icanon,-echo,tostop,");
  });

  // In the background (`&`) the sandbox has a session of its own, and safe-npm's job is the
  // writer the kernel would stop.
  it.each([
    ["in the foreground", "", 'echo "job-ended=$?"'],
    ["in the background", " &", 'wait $!; echo "job-ended=$?"'],
  ])(
    "safe-npm's own line on a tostop terminal %s neither stops nor hangs it",
    async (_, how, after) => {
      // A listener inside makes safe-npm print its port-forwarding line during the run (servers
      // are looked for under `npm exec`, not under a bare command). It ends at its first
      // connection, which the test makes once it has seen the line.
      const port = await freeLowPort();
      const server = `require("node:net").createServer(() => { console.log("server-done"); process.exit(0); }).listen(${port}, "127.0.0.1"); setTimeout(() => process.exit(3), 60000)`;
      const script = `stty tostop; node -e '${server}'`;
      const cli = [process.execPath, cliPath, "exec", "--", "npm", "exec", "-c", script];
      const run = onPty(world, ["bash", "--norc", "--noprofile", "-i"]);
      run.write(`${cli.map(shellQuote).join(" ")}${how}\n`);
      run.write(`${after}\n`);
      // Printed while the command runs: a write the kernel held back until `tostop` is cleared
      // would have blocked safe-npm (and its registry proxy) meanwhile.
      const line = `safe-npm: forwarding http://localhost:${port} `;
      await waitFor(() => run.output().includes(line), "safe-npm's forwarding line");
      await new Promise<void>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => socket.end());
        socket.on("close", () => resolve());
        socket.on("error", () => resolve());
      });
      await waitFor(() => /job-ended=\d+/.test(run.output()), "the shell's next command");
      run.write("exit 0\nexit 0\n");
      const output = run.output();
      expect(output).not.toContain("Stopped");
      expect(output).toContain("server-done");
      expect(output).toContain("job-ended=0");
      expect(await run.exit).toBe(0);
    },
  );

  it("code inside that stops the command stops everything inside while the shell has the prompt", async () => {
    // A process of its own keeps writing a tick; the command stops itself, which the caller's
    // shell reports as a stopped job (as for Ctrl-Z).
    const plant = `plant-stop-${TAG}`;
    const tick = `.probe/tick-${TAG}`;
    const inside = `git init -q ${plant}; (while :; do date +%s%N > ${tick}; sleep 0.05; done) & until [ -e ${tick} ]; do sleep 0.05; done; kill -STOP $$; echo resumed-${TAG}`;
    const run = inShell(world, safeNpmExec("sh", "-c", inside));
    await reportedStopped(run);
    const inSandboxNow = (): number[] =>
      descendants(run.pid).filter((p) => inSandbox(p) && processName(p) !== "bwrap");
    // Every process inside but the supervisor is stopped, the ticker too.
    await waitFor(() => inSandboxNow().every(halted), "every process inside to be stopped");
    const before = readFileSync(join(world.project, tick), "utf8");
    await new Promise((r) => setTimeout(r, 500));
    expect(readFileSync(join(world.project, tick), "utf8")).toBe(before);
    expect(inSandboxNow().every(halted)).toBe(true);
    // fg: everything goes on, the command ends, and the check runs.
    run.write("fg\n");
    await waitFor(
      () => run.output().includes(`moved ${join(world.project, plant, ".git")}`),
      "the check",
    );
    expect(run.output()).toContain(`resumed-${TAG}`);
    run.write("exit 0\n");
    expect(await run.exit).toBe(0);
  });

  it("processes inside that keep continuing each other cannot outlast the stop", async () => {
    // Six processes send each other SIGCONT without pause (a SIGCONT drops a pending stop),
    // behind 300 idle ones that lengthen each pass of kill(-1, SIGSTOP). They must end up
    // stopped with the rest, or the sandbox ends; never running while the shell has the prompt.
    const pids = `.probe/ring-${TAG}`;
    const ring = `my @idle = map { fork() || do { sleep 1000; exit } } 1 .. 300;
my @ring = map { my $p = fork(); if (!$p) { $SIG{$_} = "IGNORE" for qw(TSTP TTOU TTIN INT HUP); select(undef, undef, undef, 0.05) until -s "${pids}"; open(my $f, "<", "${pids}"); my @s = split " ", <$f>; while (1) { kill "CONT", @s } } $p } 1 .. 6;
open(my $f, ">", "${pids}.tmp"); print $f "@ring\n"; close $f; rename "${pids}.tmp", "${pids}";
sleep 1000;`;
    writeFileSync(join(world.project, `ring-${TAG}.pl`), ring);
    const inside = `perl ring-${TAG}.pl & until [ -e ${pids} ]; do sleep 0.05; done; sleep 0.3; kill -STOP $$`;
    const run = inShell(world, safeNpmExec("sh", "-c", inside));
    // Either the job stops with everything inside, or the sandbox is ended.
    await waitFor(
      () => /Stopped|kept the sandbox from stopping/.test(run.output()),
      "the job to stop or the sandbox to end",
    );
    if (/Stopped/.test(run.output())) {
      // Each of them, as the host sees them, for half a second.
      for (let i = 0; i < 5; i++) {
        const states = processesWith(`ring-${TAG}.pl`)
          .filter((p) => processName(p) === "perl")
          .map((p) => procStat(p)?.state ?? "Z");
        expect(states.length).toBeGreaterThan(300);
        expect(states.filter((state) => !/^[TtZXD]$/.test(state))).toEqual([]);
        await new Promise((r) => setTimeout(r, 100));
      }
      run.write("kill -KILL %1\n");
    }
    await waitFor(() => processesWith(`ring-${TAG}.pl`).length === 0, "the sandbox to end");
    run.write("exit 0\nexit 0\n");
    expect(await run.exit).toBe(0);
  });

  it("bg after Ctrl-Z leaves the terminal with the shell", async () => {
    const marker = `sleep ${5000 + Math.floor(Math.random() * 900)}`;
    const { run, pid } = await ctrlZFromShell(world, marker);
    run.write("bg\n");
    // The supervisor, continued in the background, asks for the terminal: the kernel stops it.
    const supervisor = (): number | undefined =>
      descendants(run.pid).find((p) => inSandbox(p) && processName(p) === "perl");
    await waitFor(() => /\[1\]\+? .*&/.test(run.output()), "the shell to continue the job");
    await waitFor(() => statOf(supervisor()).state === "T", "the supervisor to stop again");
    run.write("echo shell-reads-$((6*7))\n");
    await waitFor(() => /shell-reads-42/.test(run.output()), "the shell to read its next command");
    expect(holdsTerminal(pid)).toBe(false);
    run.write("kill -KILL %1\n");
    await waitFor(() => processesWith(marker).length === 0, "the job to end");
    run.write("exit 0\nexit 0\n");
    expect(await run.exit).toBe(0);
  });

  it("a Ctrl-Z before the command has the terminal, then bg: the terminal stays with the shell", async () => {
    const captured = `.probe/captured-${TAG}`;
    const inside = `IFS= read -r line < /dev/tty && echo "$line" > ${captured}`;
    const run = inShell(world, safeNpmExec("sh", "-c", inside));
    // What Ctrl-Z does to safe-npm, once the supervisor inside has started and before it hands
    // the terminal over (it loads perl's POSIX module first): looked for without pause.
    const cliPid = (): number | undefined =>
      descendants(run.pid).find((p) => processName(p) === "node" && !inSandbox(p));
    await waitFor(() => cliPid() !== undefined, "safe-npm to start");
    const cli0 = cliPid() as number;
    const until = Date.now() + 30_000;
    while (Date.now() < until && !descendants(cli0).some((p) => processName(p) === "perl"));
    process.kill(cli0, "SIGTSTP");
    await reportedStopped(run);
    run.write("bg\n");
    await waitFor(() => /\[1\]\+? .*&/.test(run.output()), "the shell to continue the job");
    // Whatever the sandbox does now, the shell reads what is typed.
    await new Promise((r) => setTimeout(r, 500));
    run.write("echo shell-reads-$((6*7))\n");
    await waitFor(() => /shell-reads-42/.test(run.output()), "the shell to read its next command");
    expect(existsSync(join(world.project, captured)), run.output()).toBe(false);
    run.write("kill %1; wait\n");
    await waitFor(() => processesWith(captured).length === 0, "the job to end");
    run.write("exit 0\n");
    expect(await run.exit).toBe(0);
    expect(existsSync(join(world.project, captured))).toBe(false);
  });

  it("started in the background, brought to the foreground, Ctrl-Z stops everything inside", async () => {
    // In a session of its own the sandbox is out of the terminal's reach: safe-npm stops it.
    const tick = `.probe/bg-tick-${TAG}`;
    const inside = `(while :; do date +%s%N > ${tick}; sleep 0.05; done) & until [ -e ${tick} ]; do sleep 0.05; done; sleep 1000; echo after-${TAG}`;
    const run = inShell(world, safeNpmExec("sh", "-c", inside), " &");
    await waitFor(() => existsSync(join(world.project, tick)), "the command to start");
    run.write("fg\n");
    // A Ctrl-Z before the shell has handed the job the terminal would reach only the shell.
    const cli = descendants(run.pid).find((p) => processName(p) === "node" && !inSandbox(p));
    await waitFor(() => holdsTerminal(cli), "safe-npm's job to take the terminal");
    run.write("\x1a");
    await reportedStopped(run);
    const inside_ = (): number[] =>
      descendants(run.pid).filter((p) => inSandbox(p) && processName(p) !== "bwrap");
    await waitFor(
      () => inside_().length > 0 && inside_().every(halted),
      "every process inside to be stopped",
    );
    const before = readFileSync(join(world.project, tick), "utf8");
    await new Promise((r) => setTimeout(r, 500));
    expect(readFileSync(join(world.project, tick), "utf8")).toBe(before);
    // fg: it goes on (the ticker too); then Ctrl-C ends it.
    run.write("fg\n");
    await waitFor(
      () => readFileSync(join(world.project, tick), "utf8") !== before,
      "the sandbox to go on",
    );
    run.write("\x03");
    run.write('echo "job-ended=$?"\n');
    await waitFor(() => /job-ended=\d+/.test(run.output()), "the job to end");
    run.write("exit 0\n");
    expect(await run.exit).toBe(0);
  });

  it("code inside cannot move the terminal's foreground (tcsetpgrp) nor leave the terminal's job control", async () => {
    // A process that kept running while the shell has the terminal (the kernel can continue a
    // stopped one, with a timer) would otherwise take it, or read it from outside job control
    // (setsid, TIOCNOTTY), and get what is typed to the shell.
    const probe = `use POSIX; $SIG{TTOU} = "IGNORE"; print "setsid:", (POSIX::setsid() == -1 || !defined POSIX::setsid() ? "errno" . ($! + 0) : "ok"), "\\n"; setpgid(0, 0); print "tcsetpgrp:", (POSIX::tcsetpgrp(0, getpgrp()) ? "ok" : "errno" . ($! + 0)), "\\n"; print "notty:", (ioctl(STDIN, 0x5422, 0) ? "ok" : "errno" . ($! + 0)), "\\n"`;
    const run = onPty(world, safeNpmExec("perl", "-e", probe));
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("setsid:errno1");
    expect(run.output()).toContain("tcsetpgrp:errno1");
    expect(run.output()).toContain("notty:errno1");
  });

  it("a detached child (node's detached: true) still runs inside on a terminal", async () => {
    const script = `require("node:child_process").spawn("sh", ["-c", "echo detached-ran"], { detached: true, stdio: "inherit" }).on("exit", (c) => process.exit(c ?? 1))`;
    const run = onPty(world, safeNpmExec("node", "-e", script));
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("detached-ran");
  });

  it("(control) outside the sandbox the same tcsetpgrp succeeds", async () => {
    const probe = `use POSIX; setpgid(0, 0); $SIG{TTOU} = "IGNORE"; print "tcsetpgrp:", (POSIX::tcsetpgrp(0, getpgrp()) ? "ok" : "errno" . ($! + 0)), "\\n"`;
    const run = onPty(world, ["perl", "-e", probe]);
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("tcsetpgrp:ok");
  });

  it("code inside cannot open the memory of pid 1 or of the supervisor for writing", async () => {
    const probe = `my %pid = (supervisor => getppid()); for my $p (1, "1/task/1", "supervisor", "self") { my $n = $pid{$p} // $p; print "mem:$p:", (open(my $m, "+<", "/proc/$n/mem") ? "open" : "denied"), "\\n" }`;
    const run = onPty(world, safeNpmExec("perl", "-e", probe));
    expect(await run.exit).toBe(0);
    const output = run.output();
    expect(output).toContain("mem:1:denied");
    expect(output).toContain("mem:1/task/1:denied");
    // The supervisor (the command's parent) made itself non-dumpable.
    expect(output).toContain("mem:supervisor:denied");
    // (control) the command's own memory opens.
    expect(output).toContain("mem:self:open");
  });

  it("started in the background, the command gets no descriptor of the terminal: it cannot read what is typed to the shell", async () => {
    const read = `.probe/read-${TAG}`;
    const started = `.probe/bg-started-${TAG}`;
    const go = `.probe/bg-go-${TAG}`;
    // Waits until the test has typed a line to the shell, then reads stdin and looks for any
    // descriptor of a terminal in the sandbox.
    const inside = `touch ${started}; until [ -e ${go} ]; do sleep 0.05; done; read line; echo "read:[$line]" > ${read}; for f in /proc/[0-9]*/fd/*; do case $(readlink $f) in /dev/pts/*|/dev/tty*) echo "tty-fd:$f";; esac; done; echo out-${TAG}; echo err-${TAG} >&2`;
    const run = inShell(world, safeNpmExec("sh", "-c", inside), " &");
    await waitFor(() => existsSync(join(world.project, started)), "the command to start");
    run.write("echo typed-$((6*7))\n");
    await waitFor(() => /typed-42/.test(run.output()), "the shell to read the typed line");
    writeFileSync(join(world.project, go), "");
    run.write('wait $!; echo "job-ended=$?"\n');
    await waitFor(() => /job-ended=\d+/.test(run.output()), "the job to end");
    run.write("exit 0\n");
    const output = run.output();
    expect(output).toContain("job-ended=0");
    expect(readFileSync(join(world.project, read), "utf8")).toBe("read:[]\n");
    expect(output).not.toMatch(/tty-fd:\/proc/);
    // Its output still reaches the terminal.
    expect(output).toContain(`out-${TAG}`);
    expect(output).toContain(`err-${TAG}`);
    expect(await run.exit).toBe(0);
  });

  it("prints no perl warning where the locale is one the system lacks", async () => {
    const run = onPty(world, [
      "env",
      "LC_ALL=xx_XX.UTF-8",
      "LANG=xx_XX.UTF-8",
      ...safeNpmExec("sh", "-c", 'echo "badlang=$(printenv PERL_BADLANG || echo unset)"'),
    ]);
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("badlang=unset");
    expect(run.output()).not.toMatch(/perl|locale/i);
  });

  it("shows no host environment variable in any /proc/*/environ or cmdline inside", async () => {
    const run = onPty(world, [
      "env",
      ...Object.entries(SECRET_ENV).map(([k, v]) => `${k}=${v}`),
      process.execPath,
      cliPath,
      "--quiet",
      "exec",
      "--",
      "sh",
      "-c",
      "cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline | tr '\\0' '\\n'; echo; echo scanned-procs",
    ]);
    expect(await run.exit).toBe(0);
    expect(run.output()).toContain("scanned-procs");
    // The scan did read something: the command's own variables.
    expect(run.output()).toContain("HOME=");
    for (const value of Object.values(SECRET_ENV)) expect(run.output()).not.toContain(value);
  });
});
