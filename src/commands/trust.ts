/** `safe-npm trust`, `untrust` and `init`: the commands that manage settings, not sandboxes. */
import { lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafeNpmError } from "../errors.js";
import type { HostInfo } from "../host/host.js";
import type { Project } from "../host/project.js";
import { loadSettingsFile } from "../settings/load.js";
import { widenings } from "../settings/merge.js";
import { isTrusted, trust, untrust } from "../settings/trust.js";
import type { Output } from "./types.js";

export function trustCommand(repo: string | null, store: string, out: Output): number {
  if (repo === null) throw noRepoSettings("trust");
  const loaded = loadSettingsFile(repo);
  const wider = widenings(loaded.settings);
  if (wider.length === 0) {
    out.stderr(`${repo} does not widen the sandbox: nothing to trust\n`);
    return 0;
  }
  const already = isTrusted(store, repo, loaded.content);
  trust(store, repo, loaded.content, wider);
  out.stderr(
    `${already ? "still trusting" : "trusting"} ${repo}, which asks to:\n${wider.map((w) => `  - ${w}`).join("\n")}\nany change to the file revokes this; undo with \`safe-npm untrust\`\n`,
  );
  return 0;
}

export function untrustCommand(repo: string | null, store: string, out: Output): number {
  if (repo === null) throw noRepoSettings("untrust");
  out.stderr(untrust(store, repo) ? `no longer trusting ${repo}\n` : `${repo} was not trusted\n`);
  return 0;
}

/** `$schema` points at the schema shipped in the package, as installed in the project. */
export const INIT_TEMPLATE = {
  $schema: "./node_modules/safe-npm/schema.json",
  dotfiles: [],
  env: [],
  network: { install: "registry", run: "none", allow: [] },
  binds: { ro: [], rw: [] },
  protect: [".git"],
  home: "private",
  cache: "project",
};

export function init(_host: HostInfo, project: Project, out: Output): number {
  const file = join(project.root, ".sandboxrc.json");
  // lstat: a dangling link counts as existing (writing would follow it).
  if (lstatSync(file, { throwIfNoEntry: false }) !== undefined) {
    throw new SafeNpmError("USAGE", `${file} already exists`, {
      hint: "edit it, or remove it first to start again from the defaults",
    });
  }
  writeFileSync(file, `${JSON.stringify(INIT_TEMPLATE, null, 2)}\n`, { flag: "wx" });
  out.stderr(
    `wrote ${file} with the defaults; every list is empty on purpose — add only what the project needs\n`,
  );
  return 0;
}

function noRepoSettings(command: string): SafeNpmError {
  return new SafeNpmError(
    "TRUST",
    `no repository settings file found for \`safe-npm ${command}\``,
    {
      hint: 'the project has no .sandboxrc, .sandboxrc.json|yaml|yml or package.json "sandbox" key between here and its root',
    },
  );
}
