/**
 * One sandboxed run between its before and after: the project's watched places are snapshotted,
 * bwrap runs, then the mount points bwrap left behind are removed and the project is checked
 * against the snapshot (integrity.ts). The check runs however the command ended.
 */

import { join } from "node:path";
import { PACKAGE_ROOT, VERSION } from "../version.js";
import type { BwrapInvocation } from "./bwrap.js";
import { HOST_RUN_FILES } from "./hostfiles.js";
import { check, describeFinding, snapshot, systemCommands, type Watch } from "./integrity.js";
import { cleanupPlaceholders, findPlaceholders } from "./placeholders.js";
import type { Policy } from "./policy.js";
import { runSandbox } from "./spawn.js";

export interface GuardedRun {
  /** What to watch beyond the fixed set (guardProject). */
  watch: readonly Watch[];
  /** The run was install-class: a project-local safe-npm may be upgraded by it. */
  install: boolean;
  /** Where each finding is reported. */
  report: (text: string) => void;
}

export async function runGuarded(
  bwrap: string,
  invocation: BwrapInvocation,
  policy: Policy,
  root: string,
  run: GuardedRun,
): ReturnType<typeof runSandbox> {
  // bwrap creates missing mount points on the host when they sit in a read-write bind; with
  // home "project" some land in the project: note them now, remove them afterwards.
  const placeholders = findPlaceholders(policy.mounts, root);
  const readOnly = policy.mounts.flatMap((m) => (m.kind === "ro-bind" ? [m.dest] : []));
  // The host's command names, once: a `.bin` entry named like one is watched.
  const walk = { skip: readOnly, commands: systemCommands(), configNames: HOST_RUN_FILES };
  const before = snapshot(root, run.watch, walk);
  // From here until the check is done no signal ends safe-npm: a Ctrl-C or a CI timeout right
  // after the command must not skip moving aside what it planted. (runSandbox forwards signals
  // to the sandbox meanwhile; after it, they are ignored for the moment the check takes.)
  const hold = (): void => {};
  for (const signal of HELD) process.on(signal, hold);
  try {
    return await runSandbox(bwrap, invocation, { foreground: policy.foreground });
  } finally {
    try {
      cleanupPlaceholders(placeholders, root);
      const findings = check(root, before, {
        ...walk,
        install: run.install,
        running: { version: VERSION, dist: join(PACKAGE_ROOT, "dist") },
      });
      for (const finding of findings) run.report(describeFinding(finding));
    } finally {
      for (const signal of HELD) process.off(signal, hold);
    }
  }
}

const HELD = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
