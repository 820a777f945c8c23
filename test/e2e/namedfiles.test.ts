/**
 * A file the project's config names for a bare package manager to run outside the default
 * places (`yarnPath: tools/yarn.cjs`): code inside must not rewrite it, rename its folder away,
 * or create it when missing, or host yarn runs what it left.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const RELEASE = "// the project's own yarn release\n";
const TRY = [
  "echo 'evil()' > tools/yarn.cjs && echo rewrote || echo refused-write",
  "mv tools tools-old && echo renamed || echo refused-rename",
  "echo 'evil()' > tools/plugin.cjs && echo created || echo refused-create",
].join("; ");

describe.skipIf(unavailable !== "")("files the project's config names elsewhere", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  const world = (): World => {
    const w = makeWorld({ projectInHome: true });
    worlds.push(w);
    mkdirSync(join(w.project, "tools"));
    writeFileSync(join(w.project, "tools", "yarn.cjs"), RELEASE);
    writeFileSync(
      join(w.project, ".yarnrc.yml"),
      "yarnPath: tools/yarn.cjs\nplugins:\n  - path: tools/plugin.cjs\n",
    );
    return w;
  };

  it("control: without safe-npm, the same shell rewrites the release and creates the plugin", () => {
    const w = world();
    const out = execFileSync("sh", ["-c", TRY], { cwd: w.project, encoding: "utf8" });
    expect(out).toContain("rewrote");
    expect(out).toContain("renamed");
  });

  it("other spellings: a program key, a pnpmfile list, a quoted node-options, an rc file between projects", async () => {
    const w = world();
    for (const f of ["git", "hooks.cjs", "setup.cjs"]) {
      writeFileSync(join(w.project, "tools", f), "// the project's own\n");
    }
    writeFileSync(
      join(w.project, ".npmrc"),
      `${readFileSync(join(w.project, ".npmrc"), "utf8")}git=./tools/git\nnode-options="--require ./tools/setup.cjs"\n`,
    );
    writeFileSync(join(w.project, "pnpm-workspace.yaml"), "pnpmfile:\n  - tools/hooks.cjs\n");
    mkdirSync(join(w.project, "packages", "app"), { recursive: true });
    writeFileSync(join(w.project, "packages", "app", "package.json"), "{}");
    const script = [
      ...["git", "hooks.cjs", "setup.cjs"].map(
        (f) => `(echo 'evil()' >> tools/${f} && echo wrote-${f}) || echo refused-${f}`,
      ),
      "echo 'yarnPath: ../evil.cjs' > packages/.yarnrc.yml && echo wrote-rc",
    ].join("; ");
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", script]);
    for (const f of ["git", "hooks.cjs", "setup.cjs"]) {
      expect(run.stdout, show(run)).toContain(`refused-${f}`);
      expect(readFileSync(join(w.project, "tools", f), "utf8")).toBe("// the project's own\n");
    }
    // Between projects the folder is writable: what was written is moved aside after the run.
    expect(run.stdout).toContain("wrote-rc");
    expect(existsSync(join(w.project, "packages", ".yarnrc.yml"))).toBe(false);
  }, 120_000);

  it("inside: the release cannot be rewritten, its folder not renamed, the plugin not left behind", async () => {
    const w = world();
    const run = await w.run(["--quiet", "exec", "--", "sh", "-c", TRY]);
    expect(run.stdout, show(run)).toContain("refused-write");
    expect(run.stdout).toContain("refused-rename");
    expect(readFileSync(join(w.project, "tools", "yarn.cjs"), "utf8")).toBe(RELEASE);
    // Created inside (the folder is writable): moved aside after the run.
    expect(existsSync(join(w.project, "tools", "plugin.cjs"))).toBe(false);
    expect(run.stderr).toContain(join(w.project, "tools", "plugin.cjs"));
  }, 120_000);
});
