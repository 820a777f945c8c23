/**
 * The `safe-npm` command: loads the CLI bundle (`main.cjs`, from cli.ts) and the chunks it
 * requires (`chunks/*.cjs`) through V8's code cache (codecache.ts), so that node does not compile
 * the same few hundred kB on every start. Everything else, errors included, is the bundle's.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Script } from "node:vm";
import { restoreExtraCa } from "../host/nodeca.js";
import {
  asksDryRun,
  codeCacheDir,
  codeCacheName,
  packCodeCache,
  readCodeCache,
  scriptKey,
  unpackCodeCache,
  wrapBundle,
  writeCodeCache,
} from "./codecache.js";

// Before anything reads the environment: the sh lines in front of this file moved it aside.
restoreExtraCa();

const bundle = join(__dirname, "main.cjs");
const chunks = join(__dirname, "chunks");
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
const cached =
  dir === null ? new Map<string, Buffer>() : unpackCodeCache(readCodeCache(dir, name, uid));
/** The scripts this run compiled, by key; whether one had no usable cache. */
const compiled = new Map<string, Script>();
let uncached = false;

function compile(file: string, text: string): Script {
  if (dir === null) return new Script(text, { filename: file });
  const key = scriptKey(text);
  const cachedData = cached.get(key);
  const script = new Script(text, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (cachedData === undefined || script.cachedDataRejected === true) uncached = true;
  compiled.set(key, script);
  return script;
}

/** Runs a compiled CommonJS wrapper as node's loader would, with `require` from `require`. */
function run(script: Script, mod: Module, file: string): void {
  mod.filename = file;
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  fn.call(mod.exports, mod.exports, requireFrom(file), mod, file, dirname(file));
  mod.loaded = true;
}

const loadedChunks = new Map<string, Module>();
const nodeRequire = createRequire(bundle);

/** A chunk of the bundle, compiled through the cache once per process (as require would). */
function loadChunk(file: string, parent: Module | undefined): unknown {
  let mod = loadedChunks.get(file);
  if (mod === undefined) {
    mod = new Module(file, parent);
    loadedChunks.set(file, mod);
    // In node's module cache too, as require would have it: what inspects the process sees it.
    nodeRequire.cache[file] = mod;
    run(compile(file, wrapBundle(readFileSync(file, "utf8"))), mod, file);
  }
  return mod.exports;
}

/**
 * node's require for `file`, but the bundle's own chunks (`./chunks/x.cjs` from main.cjs,
 * `./x.cjs` from a chunk) go through the cache. `cache` and `resolve` are node's (cosmiconfig's
 * import-fresh uses them).
 */
function requireFrom(file: string): NodeJS.Require {
  const base = createRequire(file);
  const parent = loadedChunks.get(file);
  const req = ((id: string): unknown => {
    if (id.startsWith("./") && id.endsWith(".cjs")) {
      const target = resolve(dirname(file), id);
      if (dirname(target) === chunks) return loadChunk(target, parent);
    }
    return base(id);
  }) as NodeJS.Require;
  return Object.assign(req, {
    cache: base.cache,
    resolve: base.resolve,
    extensions: base.extensions,
    main: base.main,
  });
}

if (dir !== null && !asksDryRun(argv)) {
  // After the run, so the cache holds every function the run compiled, not only the top level;
  // only when some script had none (the first run, or the first that loads a chunk); never
  // after --dry-run, which creates nothing. The entries of other commands' chunks are kept.
  process.on("exit", () => {
    if (!uncached) return;
    for (const [key, script] of compiled) cached.set(key, script.createCachedData());
    writeCodeCache(dir, name, packCodeCache(cached), uid);
  });
}
const main = new Module(bundle, module);
run(compile(bundle, wrapped), main, bundle);
