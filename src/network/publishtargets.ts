/**
 * Which packages a publish command uploads, read on the host before the run: publish mode lets
 * through the upload of exactly these names. The project's package.json files are hostile input
 * (a script of an earlier run could have planted links): each is read without following a link,
 * and a command whose packages cannot be told (a tarball, a spec, pnpm's `-r` or `--filter`) is
 * refused rather than let any upload through.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { SafeNpmError } from "../errors.js";
import { projectPathKind, readRegularFile } from "../sandbox/safepath.js";

/** Flags whose value is the next word when not given as `--flag=value`. */
const VALUE_FLAGS =
  /^(--otp|--tag|--access|--registry|--workspace|-w|--filter|-F|--provenance-file|--userconfig|--cache|--prefix|-C|--dir|--auth-type|--tolerate-republish-from|--publish-branch|--report-summary|--message|-m)$/;

export interface PublishTargets {
  /** Package names the command uploads. */
  names: string[];
  /** The version each uploads (its package.json's `version`, read on the host), by name. */
  versions: Record<string, string>;
  /** The dist-tag it sets (`--tag`), `latest` when none is given. */
  tag: string;
  /**
   * The access each may set, by name: `--access`, else its package.json's `publishConfig.access`,
   * else null (only what the user's config says, see requestpolicy.ts).
   */
  access: Record<string, string | null>;
  /** Where the command sends each, when it says so itself: `--registry`, else `publishConfig.registry`. */
  registries: Record<string, string | null>;
  /** `--registry`, as typed: the user's own choice (publishConfig.registry may be a run's). */
  registryFlag: string | null;
}

/**
 * The packages `command` (`npm publish …`, `yarn npm publish`, `pnpm publish`, `bun publish`)
 * uploads, from the package.json of the project, a folder argument, or npm's `-w` /
 * `--workspace` / `--workspaces`. `cwd` is where relative folders are resolved.
 */
export function publishTargets(
  root: string,
  cwd: string,
  command: readonly string[],
): PublishTargets {
  const args = command.slice(1);
  const words: string[] = [];
  const workspaces: string[] = [];
  let allWorkspaces = false;
  let includeRoot = false;
  let tag = "latest";
  // yarn 1's `--new-version`: it rewrites package.json inside before packing.
  let newVersion: string | undefined;
  let accessFlag: string | null = null;
  let registryFlag: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf("=");
    const flag = arg.startsWith("-") && eq !== -1 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("-") && eq !== -1 ? arg.slice(eq + 1) : undefined;
    const value = (): string => inline ?? (args[++i] as string | undefined) ?? "";
    if (/^(-r|--recursive|--filter|-F)$/.test(flag)) {
      throw new SafeNpmError(
        "USAGE",
        `safe-npm cannot tell which packages ${command[0]} ${flag} publish uploads, so it would have to let any upload through`,
        { hint: "publish each package from its folder: safe-npm pnpm publish <folder>" },
      );
    }
    if (flag === "--workspaces" || flag === "-ws") allWorkspaces = inline !== "false";
    else if (flag === "--include-workspace-root") includeRoot = inline !== "false";
    else if (flag === "-w" || flag === "--workspace") workspaces.push(value());
    else if (flag === "--tag") tag = value() || tag;
    else if (flag === "--new-version") newVersion = value();
    else if (flag === "--access") accessFlag = value() || null;
    else if (flag === "--registry") registryFlag = value() || null;
    else if (VALUE_FLAGS.test(flag)) value();
    else if (!arg.startsWith("-")) words.push(arg);
  }
  const after = words.slice(words.indexOf("publish") + 1);
  if (after.length > 1) {
    throw new SafeNpmError("USAGE", `publish takes one folder; got ${after.join(" ")}`, {
      hint: "publish one package at a time",
    });
  }
  const dirs: string[] = [];
  const folder = after[0];
  if (folder !== undefined) {
    const dir = resolve(cwd, folder);
    // A tarball or a URL: what it holds is only known once it is read, inside.
    if (
      /\.(tgz|tar|tar\.gz)$/i.test(folder) ||
      /^[a-z][a-z+.-]*:/i.test(folder) ||
      !isDirectory(root, dir)
    ) {
      throw new SafeNpmError(
        "USAGE",
        `safe-npm cannot tell which package ${folder} holds, so it would have to let any upload through`,
        { hint: "publish the package's folder inside the project (safe-npm npm publish ./path)" },
      );
    }
    dirs.push(dir);
  }
  if (workspaces.length > 0 || allWorkspaces) {
    const all = listWorkspaces(root);
    if (allWorkspaces) dirs.push(...all.map((w) => w.dir));
    for (const want of workspaces) {
      const found = all.find((w) => w.name === want || w.dir === resolve(cwd, want));
      if (found === undefined) {
        throw new SafeNpmError("USAGE", `no workspace ${want} in ${join(root, "package.json")}`, {
          hint: "name a workspace by its package name or its folder",
        });
      }
      dirs.push(found.dir);
    }
    if (includeRoot) dirs.push(root);
  }
  if (dirs.length === 0) dirs.push(root);
  const versions: Record<string, string> = {};
  const access: Record<string, string | null> = {};
  const registries: Record<string, string | null> = {};
  for (const dir of dirs) {
    const { name, version, publishAccess, publishRegistry } = packageAt(root, dir);
    versions[name] = version;
    access[name] = accessFlag ?? publishAccess;
    registries[name] = registryFlag ?? publishRegistry;
  }
  // A version chosen inside the run is refused at upload: say so now, with the way that works.
  const [only] = Object.entries(versions);
  if (newVersion !== undefined && only !== undefined && newVersion !== only[1]) {
    throw new SafeNpmError(
      "USAGE",
      `${command[0]} publish --new-version ${newVersion} would change ${only[0]}'s version inside the sandbox (package.json holds ${only[1]}), and safe-npm lets through only the version read before the run`,
      {
        hint: `set the version first, outside (yarn version --new-version ${newVersion} --no-git-tag-version), then safe-npm yarn publish --non-interactive`,
      },
    );
  }
  return { names: Object.keys(versions), versions, tag, access, registries, registryFlag };
}

function isDirectory(root: string, path: string): boolean {
  return path === root || projectPathKind(root, path, "the folder to publish") === "directory";
}

/** The `name` of `dir`/package.json, read without following a link; refused when it has none. */
function packageNameAt(root: string, dir: string): string {
  return packageAt(root, dir, false).name;
}

/**
 * The `name` and `version` of `dir`/package.json, read without following a link; refused when it
 * has none (`needVersion`: a publish uploads that version, and only that one is let through).
 */
function packageAt(
  root: string,
  dir: string,
  needVersion = true,
): { name: string; version: string; publishAccess: string | null; publishRegistry: string | null } {
  const file = join(dir, "package.json");
  if (dir !== root && projectPathKind(root, dir, "the folder to publish") !== "directory") {
    throw new SafeNpmError("USAGE", `${dir} is not a folder of the project`, {
      hint: "publish a package folder inside the project",
    });
  }
  let name: unknown;
  let version: unknown;
  let publishConfig: unknown;
  try {
    ({ name, version, publishConfig } = JSON.parse(readRegularFile(file, true)) as {
      name?: unknown;
      version?: unknown;
      publishConfig?: unknown;
    });
  } catch (error) {
    if (error instanceof SafeNpmError) throw error;
    name = undefined;
  }
  if (typeof name !== "string" || name === "") {
    throw new SafeNpmError("USAGE", `${file} names no package to publish`, {
      hint: `give ${file} a "name", or publish another folder`,
    });
  }
  if (needVersion && (typeof version !== "string" || version === "")) {
    throw new SafeNpmError("USAGE", `${file} names no version to publish`, {
      hint: `give ${file} a "version", or publish another folder`,
    });
  }
  const field = (key: string): string | null => {
    const value =
      typeof publishConfig === "object" && publishConfig !== null
        ? (publishConfig as Record<string, unknown>)[key]
        : undefined;
    return typeof value === "string" && value !== "" ? value : null;
  };
  return {
    name,
    version: typeof version === "string" ? version : "",
    publishAccess: field("access"),
    publishRegistry: field("registry"),
  };
}

/** npm's workspaces: the `workspaces` globs of the root package.json (`dir`, `dir/*`, `!dir`). */
function listWorkspaces(root: string): { name: string; dir: string }[] {
  const file = join(root, "package.json");
  let spec: unknown;
  try {
    spec = (JSON.parse(readRegularFile(file, true)) as { workspaces?: unknown }).workspaces;
  } catch (error) {
    if (error instanceof SafeNpmError) throw error;
  }
  const patterns = Array.isArray(spec)
    ? spec
    : ((spec as { packages?: unknown } | undefined)?.packages ?? []);
  if (!Array.isArray(patterns) || patterns.some((p) => typeof p !== "string")) {
    throw new SafeNpmError("USAGE", `${file} has no "workspaces" list`, {
      hint: "publish each package from its folder",
    });
  }
  const include = new Set<string>();
  const exclude = new Set<string>();
  for (const pattern of patterns as string[]) {
    const negated = pattern.startsWith("!");
    for (const dir of expand(root, (negated ? pattern.slice(1) : pattern).replace(/^\.\//, "")))
      (negated ? exclude : include).add(dir);
  }
  return [...include]
    .filter((dir) => !exclude.has(dir))
    .sort()
    .map((dir) => ({ dir, name: packageNameAt(root, dir) }))
    .filter((w) => w.dir !== root);
}

/** The real directories (no links) a workspace pattern names; `*` matches within one segment. */
function expand(root: string, pattern: string): string[] {
  if (pattern.includes("**")) {
    throw new SafeNpmError(
      "USAGE",
      `workspace pattern ${pattern} is too wide for safe-npm to list`,
      {
        hint: "publish each package from its folder, or name the workspace with -w",
      },
    );
  }
  let dirs = [root];
  for (const segment of pattern.split("/").filter((s) => s !== "" && s !== ".")) {
    if (segment === "..") return [];
    const next: string[] = [];
    for (const dir of dirs) {
      if (!segment.includes("*")) {
        const path = join(dir, segment);
        if (projectPathKind(root, path, "the workspace") === "directory") next.push(path);
        continue;
      }
      const re = new RegExp(
        `^${segment.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`,
      );
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory() && !entry.name.startsWith(".") && re.test(entry.name))
          next.push(join(dir, entry.name));
    }
    dirs = next;
  }
  return dirs.filter((dir) => {
    try {
      return (
        projectPathKind(root, join(dir, "package.json"), "the workspace's package.json") === "file"
      );
    } catch {
      return false;
    }
  });
}
