/** `safe-npm doctor` through the built CLI: a healthy machine, a broken one, and project states. */

import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEFAULT_NETWORK } from "../../src/settings/merge.js";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");

interface DoctorJson {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string; fix?: string }[];
}

/** The line of check `name` (`✓ name: …` or `✗ name: …`), with its continuation and fix lines. */
function checkLines(stdout: string, name: string): string {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`✓ ${name}: `) || l.startsWith(`✗ ${name}: `));
  if (start === -1) throw new Error(`no "${name}" line in:\n${stdout}`);
  const block = [lines[start] ?? ""];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("  ")) break;
    block.push(line);
  }
  return block.join("\n");
}

/** A PATH directory holding only node (and the given scripts): hides bwrap and npm. */
function pathWith(world: World, name: string, scripts: Record<string, string> = {}): string {
  const dir = join(world.dir, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, "node"));
  for (const [tool, text] of Object.entries(scripts)) {
    writeFileSync(join(dir, tool), text);
    chmodSync(join(dir, tool), 0o755);
  }
  return dir;
}

const NO_PERMISSION =
  "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces.";

// Neither case needs a working sandbox: run them on every machine.
describe("safe-npm doctor on a machine that cannot sandbox", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
  });
  afterAll(() => world?.dispose());

  it("exits 125 without bwrap on PATH and says how to install it", async () => {
    const bin = pathWith(world, "no-bwrap");
    const r = await world.run(["doctor"], { env: { PATH: bin } });
    expect(r.exitCode).toBe(125);
    const bwrap = checkLines(r.stdout, "bwrap");
    expect(bwrap).toMatch(/^✗ bwrap: not found on PATH/);
    expect(bwrap).toContain("  fix: install it:");
    expect(bwrap).toContain("sudo apt-get install bubblewrap");
    expect(bwrap).toContain("sudo dnf install bubblewrap");
    expect(bwrap).toContain("sudo pacman -S bubblewrap");
    expect(checkLines(r.stdout, "trial sandbox")).toMatch(/^✗ trial sandbox: not run/);
    // node is still found; the project is still the project.
    expect(checkLines(r.stdout, "node")).toMatch(/^✓ node: /);
    expect(checkLines(r.stdout, "project")).toBe(
      `✓ project: ${world.project} (nearest package.json)`,
    );

    const j = await world.run(["doctor", "--json"], { env: { PATH: bin } });
    expect(j.exitCode).toBe(125);
    const doc = JSON.parse(j.stdout) as DoctorJson;
    expect(doc.ok).toBe(false);
    expect(doc.checks.find((c) => c.name === "bwrap")).toMatchObject({
      ok: false,
      fix: expect.stringContaining("apt-get install bubblewrap"),
    });
  });

  it("exits 125 when bwrap cannot create namespaces, and shows bwrap's message", async () => {
    const bin = pathWith(world, "fake-bwrap", {
      bwrap: `#!/bin/sh
if [ "$1" = --version ]; then echo "bubblewrap 0.8.0"; exit 0; fi
echo "${NO_PERMISSION}" >&2
exit 1
`,
    });
    const r = await world.run(["doctor"], { env: { PATH: bin } });
    expect(r.exitCode).toBe(125);
    expect(checkLines(r.stdout, "bwrap")).toBe(`✓ bwrap: ${bin}/bwrap (bubblewrap 0.8.0)`);
    const trial = checkLines(r.stdout, "trial sandbox");
    expect(trial).toContain(`✗ trial sandbox: bwrap failed (exit status 1): ${NO_PERMISSION}`);
    expect(trial).toContain("  fix: ");
    expect(r.stdout).toContain('safe-npm cannot run sandboxes here: see the "trial sandbox" line.');

    const j = await world.run(["doctor", "--json"], { env: { PATH: bin } });
    expect(j.exitCode).toBe(125);
    const doc = JSON.parse(j.stdout) as DoctorJson;
    expect(doc.ok).toBe(false);
    expect(doc.checks.find((c) => c.name === "trial sandbox")?.detail).toContain(NO_PERMISSION);
  });
});

describe.skipIf(unavailable !== "")("safe-npm doctor", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
  });
  afterAll(() => world?.dispose());

  it("passes on this machine: every line ✓, exit 0", async () => {
    const r = await world.run(["doctor"]);
    expect(r.exitCode).toBe(0);
    expect(checkLines(r.stdout, "trial sandbox")).toMatch(/^✓ trial sandbox: ran \/bin\/sh/);
    expect(checkLines(r.stdout, "bwrap")).toMatch(/^✓ bwrap: \S+ \(bubblewrap \d+\.\d+/);
    expect(checkLines(r.stdout, "project")).toBe(
      `✓ project: ${world.project} (nearest package.json)`,
    );
    expect(checkLines(r.stdout, "package manager")).toMatch(
      /^✓ package manager: npm \(decided by: default\): \S*npm/,
    );
    expect(checkLines(r.stdout, "settings")).toMatch(/^✓ settings: none \(built-in defaults\)/);
    expect(checkLines(r.stdout, "network")).toMatch(
      new RegExp(
        `^✓ network: installs: ${DEFAULT_NETWORK.install} · other commands: ${DEFAULT_NETWORK.run}`,
      ),
    );
    // The world's cache and project share the temporary directory's filesystem.
    expect(checkLines(r.stdout, "pnpm and bun stores")).toMatch(
      /^✓ pnpm and bun stores: hard-linked: for an install the store moves into node_modules/,
    );
    expect(r.stdout).not.toContain("✗");
    expect(r.stdout).toContain("safe-npm can run sandboxes here.");
  });

  it("--json prints one JSON document with ok=true and every check", async () => {
    const r = await world.run(["doctor", "--json"]);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as DoctorJson;
    expect(doc.ok).toBe(true);
    expect(doc.checks.map((c) => c.name)).toEqual([
      "platform",
      "bwrap",
      "trial sandbox",
      "user namespaces",
      "user",
      "node",
      "project",
      "package manager",
      "settings",
      "network",
      "registries",
      "private homes",
      "pnpm and bun stores",
      "shims",
      "plain npm",
      "PATH in projects",
      "port forwarding",
    ]);
    expect(doc.checks.every((c) => c.ok)).toBe(true);
    expect(doc.checks.every((c) => c.fix === undefined)).toBe(true);
  });

  it("outside any project: the project line fails, the exit status does not", async () => {
    const r = await world.run(["doctor"], { cwd: world.dir });
    expect(r.exitCode).toBe(0);
    const project = checkLines(r.stdout, "project");
    expect(project).toMatch(/^✗ project: no package.json found from /);
    expect(project).toContain("  fix: run doctor inside a project");
    expect(checkLines(r.stdout, "trial sandbox")).toMatch(/^✓ /);
  });

  it("an invalid .sandboxrc.json: the settings line names the file and the fix", async () => {
    const file = join(world.project, ".sandboxrc.json");
    writeFileSync(file, JSON.stringify({ dotfile: [] }));
    try {
      const r = await world.run(["doctor"]);
      expect(r.exitCode).toBe(0);
      const settings = checkLines(r.stdout, "settings");
      expect(settings).toContain(`✗ settings: ${file}: dotfile: unknown key`);
      expect(settings).toContain('  fix: did you mean "dotfiles"?');
      expect(checkLines(r.stdout, "network")).toContain("the settings above cannot be applied");
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("untrusted widening is listed with `safe-npm trust`; trusted for one run it passes", async () => {
    const file = join(world.project, ".sandboxrc.json");
    writeFileSync(
      file,
      JSON.stringify({ dotfiles: [".ssh/id_rsa"], network: { allow: ["api.example.com"] } }),
    );
    try {
      const r = await world.run(["doctor"]);
      expect(r.exitCode).toBe(0);
      const settings = checkLines(r.stdout, "settings");
      expect(settings).toContain(`✗ settings: ${file} asks to open the sandbox wider:`);
      expect(settings).toContain("- read ~/.ssh/id_rsa");
      expect(settings).toContain("- reach api.example.com");
      expect(settings).toContain("run `safe-npm trust`");

      const once = await world.run(["doctor"], { env: { SAFE_NPM_TRUST_CONFIG: "1" } });
      expect(once.exitCode).toBe(0);
      expect(checkLines(once.stdout, "settings")).toContain(
        `✓ settings: repo ${file} (trusted for this run`,
      );
      expect(checkLines(once.stdout, "network")).toContain("api.example.com");
    } finally {
      rmSync(file, { force: true });
    }
  });
});
