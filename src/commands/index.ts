/**
 * Picks the command: doctor before anything about the project, setup and teardown, then the
 * package-manager commands that run on the host or are refused (noproject.ts), then init, trust
 * and untrust, then the run itself (nested when already inside a sandbox). Commands other than
 * the run are loaded only when asked for.
 */
import { SafeNpmError } from "../errors.js";
import { gatherHost, type HostInfo, hostToolProblem, resolveTool } from "../host/host.js";
import { findProject, type Project, workingDirProject } from "../host/project.js";
import { type FoundSettings, findSettingsFiles } from "../settings/find.js";
import { trustStorePath } from "../settings/trust.js";
import { startTiming } from "../timing.js";
import { PACKAGE_ROOT } from "../version.js";
import { type Handling, handling } from "./noproject.js";
import { hostRun, nestedRun, sandboxRun } from "./run.js";
import type { Output, RunOptions } from "./types.js";

export async function run(options: RunOptions, out: Output): Promise<number> {
  const { target } = options;
  const timing = startTiming();
  timing.mark("node start-up, loading safe-npm");
  if (target.kind === "doctor" && process.platform !== "linux") {
    const { doctorNotLinux } = await import("./doctor.js");
    return doctorNotLinux(process.platform, out, target.json);
  }
  const host = gatherHost();
  timing.mark("host facts");
  if (target.kind === "doctor") {
    const { doctor } = await import("./doctor.js");
    return doctor(host, options, out, target.json);
  }
  if (target.kind === "homes") {
    if (host.sandbox !== null) {
      throw new SafeNpmError("USAGE", "safe-npm homes manages the private homes on the host", {
        hint: "run it outside the sandbox",
      });
    }
    const { homesCommand } = await import("./homes.js");
    // safe-npm's own --dry-run before the command means the same as after it.
    return homesCommand(
      host,
      target.action === "prune" ? { ...target, dryRun: target.dryRun || options.dryRun } : target,
      out,
    );
  }
  if (target.kind === "setup" || target.kind === "teardown") {
    if (options.dryRun) {
      throw new SafeNpmError("USAGE", `${target.kind} has no --dry-run`, {
        hint: `\`safe-npm ${target.kind}\` prints every change it makes, and \`safe-npm ${target.kind === "setup" ? "teardown" : "setup"}\` undoes it`,
      });
    }
    const { setup, teardown } = await import("./setup.js");
    return target.kind === "setup"
      ? setup(host, PACKAGE_ROOT, target.ci, out)
      : teardown(host, out);
  }
  let project: Project | null = null;
  let noProject: unknown = null;
  try {
    project = findProject(host.cwd, host.home);
  } catch (error) {
    if (!(error instanceof SafeNpmError && error.code === "NO_PROJECT")) throw error;
    noProject = error;
  }
  // A package-manager command (also what the shims send) may run outside the sandbox, or make
  // the working directory its project: the table in noproject.ts.
  if (host.sandbox === null && (target.kind === "tool" || target.kind === "auto")) {
    const tool = target.kind === "tool" ? target.tool : null;
    const how = handling(tool, target.args, project !== null);
    if (how.kind === "host" || how.kind === "refuse") {
      return outside(host, tool ?? "npm", target.args, how, options, out, project?.root ?? null);
    }
    if (how.kind === "here")
      project = workingDirProject(host.cwd, {
        home: host.home,
        // The raw PATH: the shim directory counts too.
        pathDirs: (host.env.PATH ?? "").split(":"),
        env: host.env,
      });
  }
  if (project === null) throw noProject;
  if (target.kind === "init") {
    const { init } = await import("./init.js");
    return init(host, project, out);
  }
  const found = settingsFiles(host, project, options.config, out);
  const store = trustStorePath(host.env, host.home, project.root);
  timing.mark("project, settings files");
  if (target.kind === "trust" || target.kind === "untrust") {
    const { trustCommand, untrustCommand } = await import("./trust.js");
    return target.kind === "trust"
      ? trustCommand(found.repo, found.user, store, out)
      : untrustCommand(found.repo, store, out);
  }
  if (host.sandbox !== null) return nestedRun(host, project, options, out);
  const findSettings = () => settingsFiles(host, project, options.config, out);
  return sandboxRun({ host, project, found, findSettings, store, timing }, options, out);
}

/** A command the table in noproject.ts keeps out of the sandbox: run on the host, or refused. */
function outside(
  host: HostInfo,
  tool: string,
  args: readonly string[],
  how: Extract<Handling, { kind: "host" | "refuse" }>,
  options: RunOptions,
  out: Output,
  projectRoot: string | null,
): Promise<number> {
  if (how.kind === "refuse") {
    // Never a tool whose real file lies in a project: that one is no "real" one.
    const found = resolveTool(tool, host)?.bin;
    const real = found === undefined || hostToolProblem(tool, found, host) !== null ? tool : found;
    throw new SafeNpmError(
      how.code,
      `safe-npm does not run \`${[tool, ...args].join(" ")}\`: ${how.why}`,
      {
        hint:
          how.code === "GLOBAL_INSTALL"
            ? `add it to a project instead (\`${tool} install -D <pkg>\`, then \`npx <bin>\`), or, if you trust it, run the real ${tool} yourself: \`${real} ${args.join(" ")}\``
            : `build and test with safe-npm, then, if you trust the scripts, publish with the real ${tool}: \`${real} ${args.join(" ")}\` (add --ignore-scripts to run none)`,
      },
    );
  }
  if (!options.quiet && !options.dryRun && out.stderrIsTty) {
    out.dim(`safe-npm ▸ ${[tool, ...args].join(" ")} · on the host: runs no package's code\n`);
  }
  return hostRun(
    host,
    tool,
    args,
    { dryRun: options.dryRun, verbose: options.verbose, projectRoot },
    out,
  );
}

/** The settings files that apply here; those skipped are named on stderr. */
function settingsFiles(
  host: HostInfo,
  project: Project,
  config: string | undefined,
  out: Output,
): FoundSettings {
  const found = findSettingsFiles(host.cwd, project.root, host.env, host.home, config);
  for (const file of found.ignoredCode) {
    out.stderr(
      `safe-npm: ignoring ${file}: settings are read only from data files (.sandboxrc, .sandboxrc.json|yaml|yml, package.json "sandbox"); loading code would run it outside the sandbox\n`,
    );
  }
  for (const file of found.ignoredLinks) {
    out.stderr(
      `safe-npm: not reading settings from ${file}: it is a symbolic link, and settings are read only from regular files\n`,
    );
  }
  return found;
}
