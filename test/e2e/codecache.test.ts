/**
 * The CLI's code cache (src/cli/codecache.ts): compiled code that safe-npm runs on the host.
 * A cache planted where safe-npm reads it runs the planter's code — the control shows it — so
 * the test is that nothing inside the sandbox can put one there.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Script } from "node:vm";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { codeCacheName, packCodeCache, scriptKey, wrapBundle } from "../../src/cli/codecache.js";
import { cliPath } from "./paths.js";
import { makeWorld, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const bundle = join(dirname(cliPath), "main.cjs");
const PLANTED = "PLANTED-CODE-RAN";

/**
 * A cache entry V8 accepts for the bundle although it was compiled from other code: V8 checks
 * the source's length, not its text. Under the bundle's key, digest in front, as codecache.ts
 * stores it.
 */
function plantedCache(): Buffer {
  const wrapped = wrapBundle(readFileSync(bundle, "utf8"));
  const head = `(process.stdout.write(${JSON.stringify(`${PLANTED}\n`)}), (function () {}));`;
  const evil = `${head}/*${" ".repeat(wrapped.length - head.length - 4)}*/`;
  const data = new Script(evil, { filename: bundle }).createCachedData();
  const payload = packCodeCache(new Map([[scriptKey(wrapped), data]]));
  return Buffer.concat([createHash("sha256").update(payload).digest(), payload]);
}

/** Writes the planted cache to every path given and $HOME's own cache dir: the attack. */
const PLANT_JS = `const fs = require("node:fs");
const path = require("node:path");
const [name, ...dirs] = process.argv.slice(2);
dirs.push(path.join(process.env.HOME, ".cache", "safe-npm", "code-cache"));
const data = fs.readFileSync("planted.bin");
for (const dir of dirs) {
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
    console.log("wrote " + path.join(dir, name));
  } catch (error) {
    console.log("could not write " + dir + ": " + error.code);
  }
}
`;

describe.skipIf(unavailable !== "")("code cache", () => {
  let world: World;
  let dir: string;
  let name: string;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    dir = join(world.cache, "safe-npm", "code-cache");
    name = codeCacheName(wrapBundle(readFileSync(bundle, "utf8")), process.version, process.arch);
    writeFileSync(join(world.project, "plant.cjs"), PLANT_JS);
    writeFileSync(join(world.project, "planted.bin"), plantedCache());
  });
  afterAll(() => world?.dispose());

  it("is written by a first run, private to the user, and used by the next", async () => {
    rmSync(dir, { recursive: true, force: true });
    expect((await world.run(["--quiet", "exec", "--", "true"])).exitCode).toBe(0);
    const file = join(dir, name);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = readFileSync(file);
    const again = await world.run(["--quiet", "exec", "--", "node", "-e", "console.log('ok')"]);
    expect(again).toMatchObject({ exitCode: 0, stdout: "ok" });
    // Accepted, so not rewritten.
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it("cannot be planted from inside the sandbox", async () => {
    const r = await world.run(["--quiet", "exec", "--", "node", "plant.cjs", name, dir]);
    expect(r.exitCode).toBe(0);
    // The attempt ran: one line for the host's path, one for the sandbox's own ~/.cache.
    expect(r.stdout.split("\n").filter((l) => /^(wrote|could not write) /.test(l))).toHaveLength(2);
    // Inside, the host's cache dir does not exist: whatever was written went to the sandbox's
    // own /tmp or private home, gone or never read by the host.
    const after = await world.run(["--quiet", "exec", "--", "node", "-e", "console.log('ran')"]);
    expect(after).toMatchObject({ exitCode: 0, stdout: "ran" });
  });

  it("control: the same script run bare plants a cache that runs its code in safe-npm", async () => {
    const bare = await execa(process.execPath, ["plant.cjs", name, dir], {
      cwd: world.project,
      env: world.env,
      extendEnv: false,
      reject: false,
    });
    expect(bare.stdout).toContain(`wrote ${join(dir, name)}`);
    const r = await world.run(["--quiet", "exec", "--", "node", "-e", "console.log('ran')"]);
    expect(r.stdout).toContain(PLANTED);
    expect(r.stdout).not.toContain("ran");
  });

  it("is not used from a cache dir inside the project (XDG_CACHE_HOME=$PWD/.cache), where the sandbox writes", async () => {
    const inProject = join(world.project, ".cache");
    const env = { XDG_CACHE_HOME: inProject };
    const plant = await world.run(
      [
        "--quiet",
        "exec",
        "--",
        "node",
        "plant.cjs",
        name,
        join(inProject, "safe-npm", "code-cache"),
      ],
      // This run itself writes no cache over the planted one (as when one exists already).
      { env: { ...env, SAFE_NPM_CODE_CACHE: "0" } },
    );
    // The project is writable inside: the planted file is really there on the host.
    expect(plant.stdout).toContain(`wrote ${join(inProject, "safe-npm", "code-cache", name)}`);
    expect(existsSync(join(inProject, "safe-npm", "code-cache", name))).toBe(true);
    const r = await world.run(["--quiet", "exec", "--", "node", "-e", "console.log('ran')"], {
      env,
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: "ran" });
    rmSync(inProject, { recursive: true, force: true });
  });

  it("a corrupt cache is recompiled and replaced, never run", async () => {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, name);
    const bytes = plantedCache();
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // the digest no longer matches
    writeFileSync(file, bytes, { mode: 0o600 });
    const r = await world.run(["--quiet", "exec", "--", "true"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain(PLANTED);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file).equals(bytes)).toBe(false);
  });
});
