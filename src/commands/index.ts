/**
 * Picks the command: doctor before anything about the project, then init, trust and untrust,
 * then the run itself (nested when already inside a sandbox). Commands other than the run are
 * loaded only when asked for.
 */
import { gatherHost, type HostInfo } from "../host/host.js";
import { findProject, type Project } from "../host/project.js";
import { type FoundSettings, findSettingsFiles } from "../settings/find.js";
import { trustStorePath } from "../settings/trust.js";
import { startTiming } from "../timing.js";
import { nestedRun, sandboxRun } from "./run.js";
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
  const project = findProject(host.cwd, host.home);
  if (target.kind === "init") {
    const { init } = await import("./init.js");
    return init(host, project, out);
  }
  const found = settingsFiles(host, project, options.config, out);
  const store = trustStorePath(host.env, host.home);
  timing.mark("project, settings files");
  if (target.kind === "trust" || target.kind === "untrust") {
    const { trustCommand, untrustCommand } = await import("./trust.js");
    return target.kind === "trust"
      ? trustCommand(found.repo, store, out)
      : untrustCommand(found.repo, store, out);
  }
  if (host.sandbox !== null) return nestedRun(host, project, options, out);
  return sandboxRun({ host, project, found, store, timing }, options, out);
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
