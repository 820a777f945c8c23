/** What a request runs: the command line, the kind of request, and its command class. */
import { realpathSync } from "node:fs";
import type { HostInfo } from "../host/host.js";
import {
  type DetectedPackageManager,
  detectPackageManager,
  isInside,
  type PackageManagerName,
} from "../host/project.js";
import type { RequestKind } from "../sandbox/policy.js";
import { type CommandClass, commandClass, isPublish, watchesPorts } from "./classes.js";
import type { Target } from "./types.js";

export interface Request {
  kind: RequestKind;
  command: string[];
  detected: DetectedPackageManager | null;
  cls: CommandClass;
  /** A publish (classes.ts): install-class network, and the upload let through. */
  publish?: boolean;
  /** Whether a server it starts is looked for and forwarded (classes.ts watchesPorts). */
  watchesPorts: boolean;
}

/** A package manager's command: `tool` is the one detected, or the one named (detected null). */
function pmRequest(tool: string, args: string[], detected: DetectedPackageManager | null): Request {
  const cls = commandClass(tool, args);
  return {
    kind: "pm",
    command: [tool, ...args],
    detected,
    cls,
    publish: isPublish(tool, args),
    watchesPorts: watchesPorts(cls, tool, args),
  };
}

export async function describeTarget(
  target: Target,
  root: string,
  host: HostInfo,
  override: PackageManagerName | undefined,
): Promise<Request> {
  const detect = async (): Promise<DetectedPackageManager> =>
    override === undefined
      ? await detectPackageManager(root)
      : { name: override, agent: override, source: "settings" };
  switch (target.kind) {
    case "auto": {
      const detected = await detect();
      return pmRequest(detected.name, target.args, detected);
    }
    case "tool":
      return pmRequest(target.tool, target.args, null);
    // The project's manager comes along for exec and shell, so scripts there can call it.
    case "exec":
      return {
        kind: "exec",
        command: target.argv,
        detected: await detect(),
        cls: "run",
        watchesPorts: true,
      };
    default:
      return {
        kind: "shell",
        command: [userShell(host)],
        detected: await detect(),
        cls: "run",
        watchesPorts: true,
      };
  }
}

/** The user's $SHELL when the sandbox can see it (under /usr), else /bin/sh. */
function userShell(host: HostInfo): string {
  const shell = host.env.SHELL;
  if (shell === undefined) return "/bin/sh";
  try {
    const real = realpathSync(shell);
    return isInside(real, "/usr") ? shell : "/bin/sh";
  } catch {
    return "/bin/sh";
  }
}
