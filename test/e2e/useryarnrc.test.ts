/**
 * The user's ~/.yarnrc.yml names the registry yarn berry installs from. Inside the private home
 * a copy of its registry keys must be there: without it yarn 4 falls back to
 * registry.yarnpkg.com, which the allowlist allows, and a private package name goes to the
 * public registry (dependency confusion). The copy carries no token: the one in the user's file
 * is added on the host by the proxy.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type PrivateRegistry, startPrivateRegistry } from "./private-registry.js";
import { TOOL_BINS, versionOf } from "./tools.js";
import { makeWorld, type RunResult, show, type World } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const packed = inject("packedFixtures");
const PROBE = "@private/registry-probe";

describe.skipIf(unavailable !== "")("yarn 4 with the registry named in ~/.yarnrc.yml", () => {
  let registry: PrivateRegistry;
  let world: World;
  let run: RunResult;
  let cat: RunResult;
  let found: Record<string, string> = {};
  beforeAll(async () => {
    registry = await startPrivateRegistry({ packed });
    world = makeWorld({
      projectInHome: true,
      packageJson: {
        dependencies: { [PROBE]: "1.0.0" },
        packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
        dependenciesMeta: { [PROBE]: { built: true } },
      },
    });
    // The project names no registry: yarn takes the user's.
    writeFileSync(
      join(world.project, ".yarnrc.yml"),
      "nodeLinker: node-modules\nenableTelemetry: false\n",
    );
    // The token literally in the user's file, next to code and proxy keys that must stay out.
    writeFileSync(
      join(world.home, ".yarnrc.yml"),
      [
        `npmRegistryServer: "${registry.url.replace(/\/$/, "")}"`,
        'unsafeHttpWhitelist: ["127.0.0.1"]',
        "npmRegistries:",
        `  "//${new URL(registry.url).host}":`,
        `    npmAuthToken: "${registry.token}"`,
        "injectEnvironmentFiles: []",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(world.project, "registry-targets.json"),
      JSON.stringify({ registry: registry.url, attackerToken: "ATTACKER-OWN-TOKEN" }),
    );
    writeFileSync(join(world.project, ".git", "info", "exclude"), "registry-targets.json\n");
    const bin = join(world.dir, "pm-bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(TOOL_BINS.yarn4, join(bin, "yarn"));
    const env = { PATH: `${bin}:${world.env.PATH}` };
    run = await world.run(["--verbose", "yarn", "install"], { env });
    cat = await world.run(["--quiet", "exec", "--", "cat", join(world.home, ".yarnrc.yml")], {
      env,
    });
    const report = join(world.project, ".probe", "registry-probe.json");
    if (existsSync(report))
      found = (JSON.parse(readFileSync(report, "utf8")) as { found: Record<string, string> }).found;
  }, 300_000);
  afterAll(async () => {
    world?.dispose();
    await registry?.close();
  });

  it("installs the package only that registry serves, with the token added on the host", () => {
    expect(run.exitCode, show(run)).toBe(0);
    expect(existsSync(join(world.project, "node_modules", PROBE, "package.json")), show(run)).toBe(
      true,
    );
    const tarballs = registry.log.filter((r) => r.path.endsWith(".tgz"));
    expect(tarballs.length, show(run)).toBeGreaterThan(0);
    expect(tarballs.every((r) => r.auth === "token")).toBe(true);
    // Before the copy, yarn asked https://registry.yarnpkg.com/@private%2fregistry-probe.
    expect(run.stderr + run.stdout).not.toContain("registry.yarnpkg.com/@private");
    expect(run.stderr).not.toMatch(/allowed \d+ to registry\.yarnpkg\.com/);
  });

  it("inside, ~/.yarnrc.yml names the registry and holds no token", () => {
    expect(cat.exitCode, show(cat)).toBe(0);
    expect(cat.stdout).toContain(registry.url.replace(/\/$/, ""));
    expect(cat.stdout).not.toContain("npmAuthToken");
    expect(cat.stdout).not.toContain("injectEnvironmentFiles");
    expect(cat.stdout + cat.stderr).not.toContain(registry.token);
    // The package's own postinstall looked too.
    expect(found.yarnrcYml, show(run)).toContain("npmRegistryServer");
    expect(JSON.stringify(found)).not.toContain(registry.token);
  });
});

describe.skipIf(unavailable !== "")("a token in the project's .yarnrc.yml", () => {
  let world: World;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    writeFileSync(
      join(world.project, ".yarnrc.yml"),
      'nodeLinker: node-modules\nnpmScopes:\n  acme:\n    npmRegistryServer: "http://127.0.0.1:9"\n    npmAuthToken: PROJECT-YARNRC-TOKEN\n',
    );
  });
  afterAll(() => world?.dispose());

  it("is not readable inside; the rest of the file is (control: with --network full it enters as written)", async () => {
    const peek = ["--quiet", "exec", "--", "cat", ".yarnrc.yml"];
    const run = await world.run(peek);
    expect(run.exitCode, show(run)).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      nodeLinker: "node-modules",
      npmScopes: { acme: { npmAuthToken: "safe-npm-adds-the-credential-on-the-host" } },
    });
    expect(run.stdout).not.toContain("PROJECT-YARNRC-TOKEN");
    const full = await world.run(["--network", "full", ...peek]);
    expect(full.stdout, show(full)).toContain("PROJECT-YARNRC-TOKEN");
    expect(readFileSync(join(world.project, ".yarnrc.yml"), "utf8")).toContain(
      "PROJECT-YARNRC-TOKEN",
    );
  }, 120_000);

  it("spelled with an escaped line break in a quoted key, is replaced too", async () => {
    const file = join(world.project, ".yarnrc.yml");
    const before = readFileSync(file, "utf8");
    // yarn joins `"npm\<newline>  AuthToken"` into npmAuthToken.
    writeFileSync(file, 'nodeLinker: node-modules\n? "npm\\\n  AuthToken"\n: CONTINUED-TOKEN\n');
    try {
      const run = await world.run(["--quiet", "exec", "--", "cat", ".yarnrc.yml"]);
      expect(run.exitCode, show(run)).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({
        nodeLinker: "node-modules",
        npmAuthToken: "safe-npm-adds-the-credential-on-the-host",
      });
    } finally {
      writeFileSync(file, before);
    }
  }, 120_000);

  it.each([
    [
      "a duplicate key (yarn reads the last)",
      "npmAlwaysAuth: true\nnpmAlwaysAuth: true\n",
      "duplicated mapping key",
    ],
    ["yarn 1's syntax", "# yarn lockfile v1\nnpmAlwaysAuth true\n", "yarn lockfile v1"],
  ])(
    "in a file safe-npm cannot read as yarn does (%s), stops the run",
    async (_, head, reason) => {
      const file = join(world.project, ".yarnrc.yml");
      const before = readFileSync(file, "utf8");
      writeFileSync(file, `${head}npmAuthToken: UNREAD-TOKEN\n`);
      try {
        const run = await world.run(["--quiet", "exec", "--", "cat", ".yarnrc.yml"]);
        expect(run.exitCode, show(run)).toBe(125);
        expect(run.stderr).toContain(reason);
        expect(run.stderr).toContain(file);
        expect(`${run.stdout}${run.stderr}`).not.toContain("UNREAD-TOKEN");
        // Control: with --network full the file enters as written (no copy is made).
        const full = await world.run([
          "--network",
          "full",
          "--quiet",
          "exec",
          "--",
          "cat",
          ".yarnrc.yml",
        ]);
        expect(full.stdout, show(full)).toContain("UNREAD-TOKEN");
      } finally {
        writeFileSync(file, before);
      }
    },
    120_000,
  );
});

describe.skipIf(unavailable !== "")(
  "yarn 4 with npmAlwaysAuth and the token in the project's .yarnrc.yml",
  () => {
    let registry: PrivateRegistry;
    let world: World;
    let run: RunResult;
    beforeAll(async () => {
      registry = await startPrivateRegistry({ packed });
      world = makeWorld({
        projectInHome: true,
        packageJson: {
          dependencies: { [PROBE]: "1.0.0" },
          packageManager: `yarn@${versionOf("@yarnpkg/cli-dist")}`,
          dependenciesMeta: { [PROBE]: { built: false } },
        },
      });
      // As GitHub Packages' and Artifactory's docs write it.
      writeFileSync(
        join(world.project, ".yarnrc.yml"),
        [
          "nodeLinker: node-modules",
          "enableTelemetry: false",
          `npmRegistryServer: "${registry.url.replace(/\/$/, "")}"`,
          'unsafeHttpWhitelist: ["127.0.0.1"]',
          "npmAlwaysAuth: true",
          `npmAuthToken: "${registry.token}"`,
          "",
        ].join("\n"),
      );
      const bin = join(world.dir, "pm-bin");
      mkdirSync(bin, { recursive: true });
      symlinkSync(TOOL_BINS.yarn4, join(bin, "yarn"));
      // Only the project names this loopback registry: the user allows it for the run.
      const host = new URL(registry.url).host;
      run = await world.run(["--allow-host", host, "yarn", "install"], {
        env: { PATH: `${bin}:${world.env.PATH}` },
      });
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    it("installs, the token added on the host over the placeholder inside", () => {
      expect(run.exitCode, show(run)).toBe(0);
      const tarballs = registry.log.filter((r) => r.path.endsWith(".tgz"));
      expect(tarballs.length, show(run)).toBeGreaterThan(0);
      expect(registry.log.every((r) => r.auth === "token")).toBe(true);
      expect(run.stdout + run.stderr).not.toContain(registry.token);
    });
  },
);
