/**
 * npm's user config kept in the project (`NPM_CONFIG_USERCONFIG=$PWD/.npmrc-ci`, as CI jobs write
 * their token): the project is readable and writable inside, so without care an install script
 * reads the token, and what it writes there is the next run's user config — whose registries
 * and credentials count as the user's own. Inside, the file shows without credentials and cannot
 * be changed; one created inside is moved aside after the run.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { makeWorld, type RunResult, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const show = (r: RunResult): string => `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
const TOKEN = "CI-USERCONFIG-SECRET-TOKEN";
/** Reads the config into .probe/seen.txt, then tries to add a registry of its own to it. */
const SCRIPT = `
const fs = require("node:fs");
const file = process.argv[2];
fs.mkdirSync(".probe", { recursive: true });
let seen = "";
try { seen = fs.readFileSync(file, "utf8"); } catch (e) { seen = "unreadable " + e.code; }
fs.writeFileSync(".probe/seen.txt", seen);
try { fs.appendFileSync(file, "registry=http://127.0.0.1:8001/\\n"); fs.writeFileSync(".probe/write.txt", "ok"); }
catch (e) { fs.writeFileSync(".probe/write.txt", e.code); }
`;

describe.skipIf(unavailable !== "")("npm's user config and client key in the project", () => {
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  const world = (): { w: World; config: string } => {
    const w = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { preinstall: "node peek.cjs .npmrc-ci" } },
    });
    worlds.push(w);
    writeFileSync(join(w.project, "peek.cjs"), SCRIPT);
    const config = join(w.project, ".npmrc-ci");
    w.env.NPM_CONFIG_USERCONFIG = config;
    return { w, config };
  };
  const probe = (w: World, name: string): string => {
    const file = join(w.project, ".probe", name);
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  };

  it("shows inside without the token, read-only", async () => {
    const { w, config } = world();
    const text = `//registry.npmjs.org/:_authToken=${TOKEN}\nfund=false\n`;
    writeFileSync(config, text);
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(probe(w, "seen.txt"), show(run)).toContain("fund=false");
    expect(probe(w, "seen.txt")).not.toContain(TOKEN);
    expect(probe(w, "write.txt")).not.toBe("ok");
    expect(readFileSync(config, "utf8")).toBe(text);
  }, 180_000);

  it("one created inside is moved aside after the run, and said so", async () => {
    const { w, config } = world();
    const run = await w.run(["install"]);
    expect(probe(w, "write.txt"), show(run)).toBe("ok");
    expect(existsSync(config)).toBe(false);
    expect(existsSync(`${config}.quarantined-by-safe-npm`)).toBe(true);
    expect(run.stderr).toContain(`moved ${config} to ${config}.quarantined-by-safe-npm`);
  }, 180_000);

  it("a client certificate key the user's ~/.npmrc keeps in the project is hidden inside", async () => {
    const { w } = world();
    delete w.env.NPM_CONFIG_USERCONFIG;
    const key = join(w.project, "client.key");
    const text = "-----BEGIN PRIVATE KEY-----\nCLIENT-KEY-SECRET\n-----END PRIVATE KEY-----\n";
    writeFileSync(key, text);
    writeFileSync(
      join(w.project, "client.crt"),
      "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    );
    writeFileSync(
      join(w.home, ".npmrc"),
      `${readFileSync(join(w.home, ".npmrc"), "utf8")}//registry.example.test/:certfile=${join(w.project, "client.crt")}\n//registry.example.test/:keyfile=${key}\n`,
    );
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        scripts: { preinstall: "node peek.cjs client.key" },
      }),
    );
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(probe(w, "seen.txt"), show(run)).toBe("");
    expect(probe(w, "write.txt")).not.toBe("ok");
    expect(readFileSync(key, "utf8")).toBe(text);
  }, 180_000);

  it("a config outside the project stays out of reach, as ~/.npmrc does", async () => {
    const { w } = world();
    const outside = join(w.dir, "npmrc-outside");
    writeFileSync(outside, `//registry.npmjs.org/:_authToken=${TOKEN}\n`);
    w.env.NPM_CONFIG_USERCONFIG = outside;
    writeFileSync(
      join(w.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        scripts: { preinstall: `node peek.cjs ${outside}` },
      }),
    );
    const run = await w.run(["install"]);
    expect(run.exitCode, show(run)).toBe(0);
    expect(probe(w, "seen.txt")).toBe("unreadable ENOENT");
  }, 180_000);
});
