/** `safe-npm init`: write a .sandboxrc.json with the defaults. */
import { lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafeNpmError } from "../errors.js";
import type { HostInfo } from "../host/host.js";
import type { Project } from "../host/project.js";
import type { Output } from "./types.js";

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
  ports: [],
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
