#!/usr/bin/env node
/**
 * The `safe-npm` command: loads the CLI bundle (`main.cjs`, from cli.ts) through V8's code
 * cache (codecache.ts), so that node does not compile the same ~120 kB on every start.
 * Everything else, errors included, is the bundle's.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import {
  asksDryRun,
  codeCacheDir,
  codeCacheName,
  readCodeCache,
  wrapBundle,
  writeCodeCache,
} from "./codecache.js";

const bundle = join(__dirname, "main.cjs");
const wrapped = wrapBundle(readFileSync(bundle, "utf8"));
const argv = process.argv.slice(2);
// --help and --version compile too little to gain from the cache (reading and checking it costs
// more), and too little to be worth writing one from.
const trivial = argv.length === 0 || /^(-h|--help|-v|--version)$/.test(argv[0] ?? "");
// Not inside a sandbox (a nested safe-npm would write the cache into the private home or, with
// `home: "project"`, the project), and not when turned off.
const dir =
  trivial || process.env.SAFE_NPM_CODE_CACHE === "0" || existsSync("/run/safe-npm/sandbox.json")
    ? null
    : codeCacheDir(process.env);
const uid = process.getuid?.() ?? -1;
const name = dir === null ? "" : codeCacheName(wrapped, process.version, process.arch);
const cachedData = dir === null ? undefined : readCodeCache(dir, name, uid);
const script = new Script(wrapped, {
  filename: bundle,
  ...(cachedData === undefined ? {} : { cachedData }),
});
if (
  dir !== null &&
  (cachedData === undefined || script.cachedDataRejected === true) &&
  !asksDryRun(argv)
) {
  // After the run, so the cache holds every function the run compiled, not only the top level;
  // never after --dry-run, which creates nothing.
  process.on("exit", () => writeCodeCache(dir, name, script.createCachedData(), uid));
}
const mod = new Module(bundle, module);
mod.filename = bundle;
const run = script.runInThisContext() as (...args: unknown[]) => void;
run.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
