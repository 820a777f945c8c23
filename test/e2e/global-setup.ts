/**
 * Builds the CLI once, packs the fixture packages, and decides whether the sandbox tests can run.
 * In CI a machine that cannot create a sandbox fails the run with the reason; locally the e2e
 * tests are skipped with the reason printed.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { repoRoot } from "./paths.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Empty when the sandbox works here; else why the e2e tests cannot run. */
    sandboxUnavailable: string;
    /** Directory holding `npm pack`ed fixture packages (probe-1.0.0.tgz, …). */
    packedFixtures: string;
  }
}

export default function setup(project: TestProject): () => void {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "inherit" });

  const reason = sandboxUnavailableReason();
  if (reason !== "" && process.env.CI) {
    throw new Error(
      `e2e: the sandbox cannot run on this machine, so nothing was tested: ${reason}`,
    );
  }
  if (reason !== "") console.warn(`\n[e2e] skipping the sandbox tests: ${reason}\n`);

  const packed = mkdtempSync(join(tmpdir(), "safe-npm-packed-"));
  const fixtures = join(repoRoot, "fixtures", "packages");
  for (const name of readdirSync(fixtures)) {
    execFileSync("npm", ["pack", "--silent", "--pack-destination", packed, join(fixtures, name)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  mkdirSync(packed, { recursive: true });
  project.provide("sandboxUnavailable", reason);
  project.provide("packedFixtures", packed);
  return () => rmSync(packed, { recursive: true, force: true });
}

function sandboxUnavailableReason(): string {
  const which = spawnSync("sh", ["-c", "command -v bwrap"], { encoding: "utf8" });
  if (which.status !== 0) return "bwrap is not on PATH (install bubblewrap)";
  const trial = spawnSync(
    "bwrap",
    [
      "--ro-bind",
      "/usr",
      "/usr",
      "--symlink",
      "usr/bin",
      "/bin",
      "--symlink",
      "usr/lib",
      "/lib",
      "--symlink",
      "usr/lib64",
      "/lib64",
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--unshare-user",
      "--unshare-pid",
      "--cap-drop",
      "ALL",
      "--",
      "/bin/true",
    ],
    { encoding: "utf8" },
  );
  if (trial.status !== 0)
    return `bwrap cannot create a sandbox here: ${trial.stderr.trim() || `exit ${trial.status}`}`;
  return "";
}
