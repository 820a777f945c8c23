/**
 * A project-local safe-npm installed by pnpm through safe-npm: the after-run check keeps its
 * `.bin/safe-npm`, pnpm's shim (not a link), since it execs the local safe-npm's own file; a
 * bare `pnpm run` then reaches that safe-npm. Real pnpm 10 and the latest pnpm, from a registry
 * on 127.0.0.1 serving safe-npm as built here.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { httpServer, type TestServer } from "../unit/network/helpers.js";
import { repoRoot } from "./paths.js";
import { PNPM_LATEST_YAML, TOOL_BINS, versionOf } from "./tools.js";
import { makeWorld, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const VERSION = (
  JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }
).version;

const PNPMS = [
  {
    name: "pnpm 10",
    bin: TOOL_BINS.pnpm,
    packageManager: `pnpm@${versionOf("pnpm")}`,
    files: {} as Record<string, string>,
  },
  {
    name: `pnpm ${versionOf("pnpm-latest").split(".")[0]} (latest)`,
    bin: TOOL_BINS.pnpmLatest,
    packageManager: `pnpm@${versionOf("pnpm-latest")}`,
    files: { "pnpm-workspace.yaml": PNPM_LATEST_YAML } as Record<string, string>,
  },
];

describe.skipIf(unavailable !== "")("a local safe-npm installed by pnpm", () => {
  let registry: TestServer;
  let dir: string;

  beforeAll(async () => {
    // safe-npm as published: its bundle needs no other package, so the tarball declares none.
    dir = mkdtempSync(join(tmpdir(), "safe-npm-localself-"));
    const pkg = join(dir, "safe-npm-pkg");
    cpSync(join(repoRoot, "dist"), join(pkg, "dist"), { recursive: true });
    const manifest = { name: "safe-npm", version: VERSION, bin: { "safe-npm": "dist/cli.cjs" } };
    writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest));
    execFileSync("npm", ["pack", "--silent", "--pack-destination", dir, pkg], {
      env: { ...process.env, npm_config_update_notifier: "false" },
    });
    const tarball = readFileSync(join(dir, `safe-npm-${VERSION}.tgz`));
    const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
    registry = await httpServer((req, res) => {
      const base = `http://127.0.0.1:${registry.port}`;
      if (req.url === "/safe-npm") {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            name: "safe-npm",
            "dist-tags": { latest: VERSION },
            time: { created: "2020-01-01T00:00:00.000Z", [VERSION]: "2020-01-01T00:00:00.000Z" },
            versions: {
              [VERSION]: {
                ...manifest,
                dist: { tarball: `${base}/safe-npm/-/safe-npm-${VERSION}.tgz`, integrity },
              },
            },
          }),
        );
      } else if (req.url === `/safe-npm/-/safe-npm-${VERSION}.tgz`) {
        res.end(tarball);
      } else {
        res.statusCode = 404;
        res.end("{}");
      }
    });
  });
  afterAll(async () => {
    await registry?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  for (const pnpm of PNPMS) {
    describe(pnpm.name, () => {
      let world: World;
      let path: string;
      beforeAll(() => {
        world = makeWorld({
          projectInHome: true,
          packageJson: {
            packageManager: pnpm.packageManager,
            devDependencies: { "safe-npm": VERSION },
            scripts: { probe: "safe-npm exec -- sh -c 'echo inside=$SAFE_NPM_PROXY-$(hostname)'" },
          },
        });
        const registryUrl = `http://127.0.0.1:${registry.port}/`;
        writeFileSync(
          join(world.project, ".npmrc"),
          `registry=${registryUrl}\nupdate-notifier=false\n`,
        );
        for (const [name, text] of Object.entries(pnpm.files)) {
          writeFileSync(join(world.project, name), text);
        }
        const bin = join(world.dir, "pm-bin");
        mkdirSync(bin, { recursive: true });
        symlinkSync(pnpm.bin, join(bin, "pnpm"));
        path = `${bin}:${world.env.PATH}`;
      });
      afterAll(() => world?.dispose());

      it("keeps the shim pnpm writes for it, and a bare `pnpm run` reaches it", async () => {
        const install = await world.run(["--allow-host", `127.0.0.1:${registry.port}`, "install"], {
          env: { PATH: path },
        });
        expect(install.exitCode, show(install)).toBe(0);
        expect(install.stderr).not.toContain("quarantined");
        const shim = join(world.project, "node_modules", ".bin", "safe-npm");
        // pnpm's shim, a shell script: not a link (npm's way).
        expect(lstatSync(shim).isFile()).toBe(true);
        expect(readFileSync(shim, "utf8")).toContain(`safe-npm@${VERSION}`);
        const run = execFileSync(pnpm.bin, ["run", "--silent", "probe"], {
          cwd: world.project,
          env: { ...world.env, PATH: path },
          encoding: "utf8",
        });
        expect(run).toContain("inside=-safe-npm");
      });
    });
  }
});
