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
