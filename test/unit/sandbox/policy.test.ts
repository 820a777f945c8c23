import { describe, expect, it } from "vitest";
import { MARKER_PATH, type NamedNpmConfig, type ResolvedTool } from "../../../src/host/host.js";
import { BRIDGE_PERL } from "../../../src/network/bridgeperl.js";
import { buildBwrapArgs } from "../../../src/sandbox/bwrap.js";
import { PNPM_STORE } from "../../../src/sandbox/linkedstore.js";
import { sanitizeNpmrc } from "../../../src/sandbox/npmrc.js";
import {
  CREDENTIAL_PLACEHOLDER,
  isSecretName,
  type Mount,
  mountPointInPrivateHome,
  NO_SETTINGS,
  type Policy,
  privateHomeDir,
  resolvePolicy,
  showsHostPath,
  TOOL_BIN,
  yarnGlobalFolder,
} from "../../../src/sandbox/policy.js";
import { CACHE_DIRS } from "../../../src/sandbox/privatehome.js";
import { parseYarnrcYml } from "../../../src/sandbox/yarnrcparse.js";
import {
  type BaseOptions,
  baseInput,
  basePolicy,
  CWD,
  GIT_DIR,
  HOME,
  NPM_PREFIX,
  NPM_TOKEN,
  NVM_PREFIX,
  nodeTool,
  PRIVATE_HOME,
  PROJECT,
  USER_NPMRC,
  VERSION,
} from "../fixtures.js";

/** A compact, order-preserving description of the mounts. */
function describeMounts(mounts: readonly Mount[]): string[] {
  return mounts.map((m) => {
    switch (m.kind) {
      case "bind":
      case "ro-bind":
        return m.src === m.dest ? `${m.kind} ${m.dest}` : `${m.kind} ${m.src} → ${m.dest}`;
      case "symlink":
        return `symlink ${m.dest} → ${m.target}`;
      case "data":
        return `data ${m.dest}`;
      default:
        return `${m.kind} ${m.dest}`;
    }
  });
}

function dataMount(policy: Policy, dest: string): Extract<Mount, { kind: "data" }> {
  const found = policy.mounts.find(
    (m): m is Extract<Mount, { kind: "data" }> => m.kind === "data" && m.dest === dest,
  );
  if (found === undefined) throw new Error(`no data mount at ${dest}`);
  return found;
}

describe("resolvePolicy mounts", () => {
  it("orders system dirs, proc/dev/tmp, private home, npmrc, toolchain, project, protect, marker", () => {
    expect(describeMounts(basePolicy().mounts)).toEqual([
      "ro-bind /usr",
      "symlink /bin → usr/bin",
      "symlink /sbin → usr/sbin",
      "symlink /lib → usr/lib",
      "symlink /lib64 → usr/lib64",
      "ro-bind /etc",
      "proc /proc",
      "ro-bind /proc/sys",
      "ro-bind /dev/null → /proc/1/mem",
      "ro-bind /dev/null → /proc/1/task/1/mem",
      "dev /dev",
      "tmpfs /tmp",
      `tmpfs ${HOME}`,
      ...CACHE_DIRS.map((rel) => `bind ${PRIVATE_HOME}/${rel} → ${HOME}/${rel}`),
      `data ${HOME}/.npmrc`,
      `bind ${PRIVATE_HOME}/.yarn/berry`,
      `ro-bind ${NVM_PREFIX}`,
      `ro-bind ${NPM_PREFIX}`,
      `symlink ${TOOL_BIN}/node → ${NVM_PREFIX}/bin/node`,
      `symlink ${TOOL_BIN}/npm → ${NVM_PREFIX}/bin/npm`,
      `bind ${PROJECT}`,
      `ro-bind ${GIT_DIR}`,
      `data ${MARKER_PATH}`,
    ]);
  });

  it("keeps /proc/sys read-only over the fresh /proc (kernel settings check only the uid)", () => {
    const mounts = describeMounts(basePolicy().mounts);
    expect(mounts.indexOf("ro-bind /proc/sys")).toBe(mounts.indexOf("proc /proc") + 1);
  });

  it("ro-binds real top-level dirs on a host without merged /usr", () => {
    const mounts = describeMounts(
      basePolicy({ host: { rootDirs: { "/bin": null, "/lib": null, "/lib64": "usr/lib64" } } })
        .mounts,
    );
    expect(mounts.slice(0, 5)).toEqual([
      "ro-bind /usr",
      "ro-bind /bin",
      "ro-bind /lib",
      "symlink /lib64 → usr/lib64",
      "ro-bind /etc",
    ]);
    expect(mounts).not.toContain("symlink /sbin → usr/sbin");
  });

  it("binds the resolv.conf target after /etc and before the private home", () => {
    const target = "/run/systemd/resolve/stub-resolv.conf";
    const mounts = describeMounts(basePolicy({ host: { resolvConf: target } }).mounts);
    const at = mounts.indexOf(`ro-bind ${target}`);
    expect(at).toBeGreaterThan(mounts.indexOf("ro-bind /etc"));
    expect(at).toBeLessThan(mounts.indexOf(`tmpfs ${HOME}`));
  });

  it("puts the sanitized npmrc (no token) into the private home", () => {
    const policy = basePolicy();
    const npmrc = dataMount(policy, `${HOME}/.npmrc`);
    expect(npmrc.data).toBe(sanitizeNpmrc(USER_NPMRC, { home: HOME }).text);
    expect(npmrc.data).toContain("registry=https://registry.npmjs.org/");
    expect(npmrc.data).toContain("@acme:registry=https://npm.acme.example/");
    expect(npmrc.data).not.toContain(NPM_TOKEN);
    expect(npmrc.data).not.toContain("_authToken");
    expect(JSON.stringify(policy)).not.toContain(NPM_TOKEN);
  });

  it("publish: names a placeholder token for each held registry key, never a real one", () => {
    const keys = ["//127.0.0.1:4873/", "//npm.pkg.github.com/"];
    const policy = basePolicy({ input: { credentialPlaceholders: keys } });
    const npmrc = dataMount(policy, `${HOME}/.npmrc`);
    expect(npmrc.data).toContain(sanitizeNpmrc(USER_NPMRC, { home: HOME }).text);
    for (const key of keys)
      expect(npmrc.data).toContain(`${key}:_authToken=${CREDENTIAL_PLACEHOLDER}\n`);
    expect(JSON.stringify(policy)).not.toContain(NPM_TOKEN);
    // Without a user npmrc the placeholders still come in.
    const bare = basePolicy({ host: { userNpmrc: null }, input: { credentialPlaceholders: keys } });
    expect(dataMount(bare, `${HOME}/.npmrc`).data).toBe(
      keys.map((k) => `${k}:_authToken=${CREDENTIAL_PLACEHOLDER}\n`).join(""),
    );
  });

  it("publish with yarn berry: ~/.yarnrc.yml names a placeholder per registry key, not with the project as home", () => {
    const keys = ["http://127.0.0.1:4873", "//npm.pkg.github.com"];
    const policy = basePolicy({ input: { yarnCredentialPlaceholders: keys } });
    expect(JSON.parse(dataMount(policy, `${HOME}/.yarnrc.yml`).data)).toEqual({
      npmRegistries: {
        "http://127.0.0.1:4873": { npmAuthToken: CREDENTIAL_PLACEHOLDER },
        "//npm.pkg.github.com": { npmAuthToken: CREDENTIAL_PLACEHOLDER },
      },
    });
    expect(basePolicy().mounts.some((m) => m.dest === `${HOME}/.yarnrc.yml`)).toBe(false);
    const projectHome = basePolicy({
      input: {
        yarnCredentialPlaceholders: keys,
        settings: { ...baseInput().settings, home: "project" },
      },
    });
    expect(
      projectHome.mounts.some((m) => m.dest.endsWith("/.yarnrc.yml") && m.kind === "data"),
    ).toBe(false);
  });

  it("pnpm's auth.ini: its registries in the private home, without token or tokenHelper", () => {
    const text = [
      "registry=https://npm.corp.example/",
      "@acme:registry=https://acme.example/npm/",
      "//npm.corp.example/:_authToken=PNPM-AUTH-TOKEN",
      "//npm.corp.example/:tokenHelper=/opt/helper",
      "",
    ].join("\n");
    const host = { userPnpmAuth: { path: `${HOME}/.config/pnpm/auth.ini`, text } };
    const copy = dataMount(basePolicy({ host }), `${HOME}/.config/pnpm/auth.ini`).data;
    expect(copy).toContain("registry=https://npm.corp.example/");
    expect(copy).toContain("@acme:registry=https://acme.example/npm/");
    expect(copy).not.toContain("PNPM-AUTH-TOKEN");
    expect(copy).not.toContain("tokenHelper");
    const projectHome = basePolicy({
      host,
      input: { settings: { ...baseInput().settings, home: "project" } },
    });
    expect(projectHome.mounts.some((m) => m.dest.endsWith("/auth.ini"))).toBe(false);
  });

  it("the project's .yarnrc.yml: every npmAuthToken/npmAuthIdent a placeholder, as JSON; not with network full", () => {
    // As the YAML parser gives it: a block scalar, a value on the next line, an escaped key.
    const text = [
      "nodeLinker: pnp",
      "npmAuthToken: >-",
      "  BLOCK-TOKEN",
      "npmScopes:",
      "  acme:",
      "    npmAuthToken:",
      "      NEXT-LINE-TOKEN",
      "npmRegistries:",
      '  "//r": { "npmAuth\\x49dent": "u:p#SECRET", npmAlwaysAuth: true }',
      "",
    ].join("\n");
    const parsed = parseYarnrcYml(text);
    expect(parsed).not.toBeNull();
    const dest = `${PROJECT}/.yarnrc.yml`;
    const input = { projectYarnrc: parsed, network: "registry" as const };
    const copy = dataMount(basePolicy({ input }), dest).data;
    expect(JSON.parse(copy)).toEqual({
      nodeLinker: "pnp",
      npmAuthToken: CREDENTIAL_PLACEHOLDER,
      npmScopes: { acme: { npmAuthToken: CREDENTIAL_PLACEHOLDER } },
      npmRegistries: { "//r": { npmAuthIdent: CREDENTIAL_PLACEHOLDER, npmAlwaysAuth: true } },
    });
    for (const secret of ["BLOCK", "NEXT-LINE", "SECRET"]) expect(copy).not.toContain(secret);
    const full = basePolicy({ input: { ...input, network: "full" } });
    expect(full.mounts.some((m) => m.kind === "data" && m.dest === dest)).toBe(false);
    const none = basePolicy({
      input: { projectYarnrc: { nodeLinker: "pnp" }, network: "registry" },
    });
    expect(none.mounts.some((m) => m.kind === "data" && m.dest === dest)).toBe(false);
  });

  describe("~/.yarnrc.yml: a copy with its registries only", () => {
    const YARN_TOKEN = "YARN-SECRET-TOKEN-1234";
    const USER_YARNRC = [
      'npmRegistryServer: "https://npm.corp.example/"',
      "npmScopes:",
      "  acme:",
      '    npmRegistryServer: "https://acme.example/npm"',
      '    npmPublishRegistry: "https://acme.example/publish"',
      `    npmAuthToken: "${YARN_TOKEN}"`,
      "    npmAlwaysAuth: true",
      "npmRegistries:",
      '  "//npm.corp.example":',
      `    npmAuthToken: "${YARN_TOKEN}"`,
      '  "https://user:pass@other.example":',
      '    npmAuthIdent: "user:pass"',
      'unsafeHttpWhitelist: ["localhost", "*.corp.example"]',
      "yarnPath: .yarn/releases/evil.cjs",
      "plugins:",
      "  - path: .yarn/plugins/evil.cjs",
      "injectEnvironmentFiles: [.env]",
      'httpProxy: "http://user:pw@proxy.example:3128"',
      "enableStrictSsl: false",
      `npmAuthToken: "${YARN_TOKEN}"`,
      "",
    ].join("\n");
    /** The policy for a host whose ~/.yarnrc.yml is `text`, parsed as run.ts does. */
    const withRc = (text: string, options: BaseOptions = {}): Policy =>
      basePolicy({
        ...options,
        host: { userYarnrcYml: text, ...options.host },
        input: { userYarnrc: parseYarnrcYml(text), ...options.input },
      });
    const copy = (options: BaseOptions = {}, text = USER_YARNRC): unknown => {
      const policy = withRc(text, options);
      expect(JSON.stringify(policy)).not.toContain(YARN_TOKEN);
      return JSON.parse(dataMount(policy, `${HOME}/.yarnrc.yml`).data);
    };
    const gateway = {
      network: "registry" as const,
      proxy: {
        socketPath: "/tmp/safe-npm-net-x/proxy.sock",
        bridgePath: "/opt/safe-npm/dist/network/bridge.cjs",
        caBundlePath: "/tmp/safe-npm-net-x/ca.pem",
      },
    };

    it("keeps the registry keys; drops auth, code and TLS switches", () => {
      expect(copy()).toEqual({
        npmRegistryServer: "https://npm.corp.example/",
        npmScopes: {
          acme: {
            npmRegistryServer: "https://acme.example/npm",
            npmPublishRegistry: "https://acme.example/publish",
          },
        },
        npmRegistries: { "//npm.corp.example": {} },
        unsafeHttpWhitelist: ["localhost", "*.corp.example"],
      });
      const label = dataMount(withRc(USER_YARNRC), `${HOME}/.yarnrc.yml`).label;
      expect(label).toBe("~/.yarnrc.yml: registries only");
    });

    it("reads flow style and JSON as yarn does", () => {
      const policy = withRc(
        `{"npmRegistryServer": "http://127.0.0.1:4873", npmScopes: {acme: {npmRegistryServer: "https://acme.example"}}}`,
      );
      expect(JSON.parse(dataMount(policy, `${HOME}/.yarnrc.yml`).data)).toEqual({
        npmRegistryServer: "http://127.0.0.1:4873",
        npmScopes: { acme: { npmRegistryServer: "https://acme.example" } },
      });
    });

    it("publish: the placeholder tokens are merged in, and win over the user's entry", () => {
      const data = copy({ input: { yarnCredentialPlaceholders: ["https://npm.corp.example/"] } });
      expect(data).toMatchObject({
        npmRegistryServer: "https://npm.corp.example/",
        npmRegistries: { "https://npm.corp.example/": { npmAuthToken: CREDENTIAL_PLACEHOLDER } },
      });
      expect(Object.keys((data as { npmRegistries: object }).npmRegistries)).toEqual([
        "https://npm.corp.example/",
      ]);
    });

    it("names the gateway's CA only when the user's file set httpsCaFilePath and the gateway is on", () => {
      const withCa = `${USER_YARNRC}httpsCaFilePath: /home/u/corp.pem\n`;
      expect(copy({ input: gateway }, withCa)).toMatchObject({
        httpsCaFilePath: "/run/safe-npm/ca.pem",
      });
      expect(copy({ input: gateway })).not.toHaveProperty("httpsCaFilePath");
      expect(copy({}, withCa)).not.toHaveProperty("httpsCaFilePath");
    });

    it("expands variable references with the host's environment; drops secret-named or unset ones", () => {
      const data = copy(
        {
          host: {
            env: { PATH: "/usr/bin", HOME, CORP_REGISTRY: "https://env.example", NPM_TOKEN: "t0k" },
          },
        },
        [
          `npmRegistryServer: "\${CORP_REGISTRY}/npm"`,
          "npmScopes:",
          `  a: { npmRegistryServer: "https://\${NPM_TOKEN}.example" }`,
          `  b: { npmRegistryServer: "\${UNSET_REGISTRY}" }`,
          `  c: { npmRegistryServer: "\${UNSET_REGISTRY:-https://c.example}" }`,
        ].join("\n"),
      );
      expect(data).toEqual({
        npmRegistryServer: "https://env.example/npm",
        npmScopes: { c: { npmRegistryServer: "https://c.example" } },
      });
    });

    it("no copy with the project as home, nor for a file that does not parse", () => {
      const projectHome = withRc(USER_YARNRC, {
        input: { settings: { ...baseInput().settings, home: "project" } },
      });
      expect(projectHome.mounts.some((m) => m.dest.endsWith("/.yarnrc.yml"))).toBe(false);
      const text = 'npmRegistryServer: "https://npm.corp.example"\nnpmScopes: [\n';
      expect(parseYarnrcYml(text)).toBe(null);
      expect(withRc(text).mounts.some((m) => m.dest.endsWith("/.yarnrc.yml"))).toBe(false);
      // With publish placeholders, those alone, as before.
      const publish = withRc(text, { input: { yarnCredentialPlaceholders: ["//a.example"] } });
      expect(JSON.parse(dataMount(publish, `${HOME}/.yarnrc.yml`).data)).toEqual({
        npmRegistries: { "//a.example": { npmAuthToken: CREDENTIAL_PLACEHOLDER } },
      });
      const onlyCode = withRc("yarnPath: evil.cjs\nplugins: [a.cjs]\n");
      expect(onlyCode.mounts.some((m) => m.dest.endsWith("/.yarnrc.yml"))).toBe(false);
    });
  });

  it("mounts the project's .npmrc without its credentials over the read-only original", () => {
    const projectNpmrc = `registry=https://r.example/\n//r.example/:_authToken=${NPM_TOKEN}\n`;
    const policy = basePolicy({ input: { projectNpmrc, network: "none" } });
    const copy = dataMount(policy, `${PROJECT}/.npmrc`);
    expect(copy.data).toBe("registry=https://r.example/\n");
    expect(JSON.stringify(policy)).not.toContain(NPM_TOKEN);
    // Nothing to remove: no copy. The host's network (no proxy to add it): the original.
    const plain = basePolicy({
      input: { projectNpmrc: "registry=https://r.example/\n", network: "none" },
    });
    expect(plain.mounts.some((m) => m.dest === `${PROJECT}/.npmrc` && m.kind === "data")).toBe(
      false,
    );
    const full = basePolicy({ input: { projectNpmrc, network: "full" } });
    expect(full.mounts.some((m) => m.dest === `${PROJECT}/.npmrc` && m.kind === "data")).toBe(
      false,
    );
  });

  it("has no npmrc mount without a user npmrc", () => {
    const policy = basePolicy({ host: { userNpmrc: null } });
    expect(policy.mounts.some((m) => m.kind === "data" && m.dest.endsWith(".npmrc"))).toBe(false);
  });

  it.each(["full", "none"] as const)("writes a JSON marker last (network %s)", (network) => {
    const policy = basePolicy({ input: { network } });
    const last = policy.mounts.at(-1);
    expect(last?.kind).toBe("data");
    expect(last?.dest).toBe(MARKER_PATH);
    const marker = dataMount(policy, MARKER_PATH);
    expect(marker.data.endsWith("\n")).toBe(true);
    expect(JSON.parse(marker.data)).toEqual({ version: VERSION, projectRoot: PROJECT, network });
  });

  it("protects every given path read-only after the project bind", () => {
    const protect = [GIT_DIR, `${PROJECT}/.husky`];
    const mounts = describeMounts(basePolicy({ input: { protect } }).mounts);
    const project = mounts.indexOf(`bind ${PROJECT}`);
    expect(mounts.indexOf(`ro-bind ${GIT_DIR}`)).toBe(project + 1);
    expect(mounts.indexOf(`ro-bind ${PROJECT}/.husky`)).toBe(project + 2);
  });

  it("binds nothing extra for tools under /usr", () => {
    const node: ResolvedTool = { bin: "/usr/bin/node", real: "/usr/bin/node", prefix: "/usr" };
    const npm: ResolvedTool = {
      bin: "/usr/bin/npm",
      real: "/usr/lib/node_modules/npm/bin/npm-cli.js",
      prefix: "/usr/lib/node_modules/npm",
    };
    const policy = basePolicy({ input: { node, tools: [npm] } });
    const binds = policy.mounts.filter((m) => m.kind === "ro-bind" || m.kind === "bind");
    expect(binds.map((m) => m.dest)).toEqual([
      "/usr",
      "/etc",
      "/proc/sys",
      "/proc/1/mem",
      "/proc/1/task/1/mem",
      ...CACHE_DIRS.map((rel) => `${HOME}/${rel}`),
      `${PRIVATE_HOME}/.yarn/berry`,
      PROJECT,
      GIT_DIR,
    ]);
    expect(policy.command[0]).toBe("/usr/bin/npm");
    expect(policy.node).toBe("/usr/bin/node");
    expect(policy.env.PATH?.split(":")).toEqual([TOOL_BIN, "/usr/bin", "/usr/local/bin", "/bin"]);
    expect(policy.mounts).toContainEqual({
      kind: "symlink",
      target: "/usr/bin/npm",
      dest: `${TOOL_BIN}/npm`,
    });
  });

  it("binds a tool prefix once even when node and the tool share it", () => {
    const shared: ResolvedTool = {
      bin: `${NVM_PREFIX}/bin/corepack`,
      real: `${NVM_PREFIX}/bin/corepack`,
      prefix: NVM_PREFIX,
    };
    const policy = basePolicy({ input: { tools: [shared] } });
    expect(policy.mounts.filter((m) => m.kind === "ro-bind" && m.src === NVM_PREFIX)).toHaveLength(
      1,
    );
  });
});

describe("resolvePolicy command", () => {
  it("runs the package manager by its bin when the sandbox can see it", () => {
    const policy = basePolicy();
    expect(policy.command).toEqual([`${NVM_PREFIX}/bin/npm`, "install"]);
  });

  it("runs the package manager by its realpath when its bin dir is invisible", () => {
    const npm: ResolvedTool = {
      bin: `${HOME}/.local/bin/npm`,
      real: `${NPM_PREFIX}/bin/npm-cli.js`,
      prefix: NPM_PREFIX,
    };
    const policy = basePolicy({ input: { tools: [npm], command: ["npm", "ci"] } });
    expect(policy.command).toEqual([`${NPM_PREFIX}/bin/npm-cli.js`, "ci"]);
    expect(policy.env.PATH?.split(":")).not.toContain(`${HOME}/.local/bin`);
  });

  it("uses node's realpath when node's bin is invisible", () => {
    const node: ResolvedTool = {
      bin: `${HOME}/.local/bin/node`,
      real: `${NVM_PREFIX}/bin/node`,
      prefix: NVM_PREFIX,
    };
    expect(basePolicy({ input: { node } }).node).toBe(`${NVM_PREFIX}/bin/node`);
    expect(basePolicy().node).toBe(nodeTool().bin);
  });

  it.each([
    ["exec", ["node", "build.js"]],
    ["shell", ["/bin/bash"]],
  ] as const)("leaves a %s command as given", (kind, command) => {
    const policy = basePolicy({ input: { kind, command } });
    expect(policy.command).toEqual(command);
  });

  it("does not share the command array with the input", () => {
    const input = baseInput({ input: { kind: "exec", command: ["node", "x.js"] } });
    const policy = resolvePolicy(input);
    policy.command.push("mutated");
    expect(input.command).toEqual(["node", "x.js"]);
  });
});

describe("resolvePolicy flags", () => {
  it("takes cwd, network, hostname and the user namespace", () => {
    const policy = basePolicy({ input: { network: "none" } });
    expect(policy.cwd).toBe(CWD);
    expect(policy.network).toBe("none");
    expect(policy.hostname).toBe("safe-npm");
    expect(policy.userNamespace).toBe(true);
  });

  it.each([
    ["x64", true],
    ["arm64", true],
    ["ia32", false],
    ["riscv64", false],
  ])("seccomp on %s: %s", (arch, seccomp) => {
    expect(basePolicy({ host: { arch } }).seccomp).toBe(seccomp);
  });

  it.each([
    [false, false, true, "x64", false],
    [true, false, true, "x64", false],
    [true, true, true, "x64", true],
    [true, true, false, "x64", false],
    [true, true, true, "ia32", false],
  ] as const)(
    "tty %s, foreground %s, perl %s, arch %s → foreground %s",
    (tty, fg, perl, arch, expected) => {
      const policy = basePolicy({ host: { stdinIsTty: tty, foregroundTty: fg, perl, arch } });
      expect(policy.foreground).toBe(expected);
    },
  );

  it.each([
    [true, true],
    [false, false],
    [undefined, false],
  ] as const)("started in the background with a terminal %s → away from it %s", (bg, away) => {
    const policy = basePolicy({ host: { backgroundTty: bg } });
    expect(policy.awayFromTerminal).toBe(away);
    expect(policy.foreground).toBe(false);
  });
});

describe("privateHomeDir", () => {
  it.each([
    ["/home/alice/code/app", "app-abc123"],
    ["/home/alice/code/app/", "app-abc123"],
    ["/home/alice/My Project (old)", "My_Project__old_-abc123"],
    ["/srv/my.app-v2", "my.app-v2-abc123"],
    ["/srv/café", "caf_-abc123"],
    ["/", "root-abc123"],
  ])("%s → …/homes/%s", (root, name) => {
    expect(privateHomeDir("/home/alice/.cache", root, "abc123")).toBe(
      `/home/alice/.cache/safe-npm/homes/${name}`,
    );
  });

  it("keeps different hashes apart for same-named projects", () => {
    expect(privateHomeDir("/c", "/a/app", "1")).not.toBe(privateHomeDir("/c", "/b/app", "2"));
  });
});

describe("isSecretName", () => {
  it.each([
    ["NPM_TOKEN", true],
    ["GITHUB_TOKEN", true],
    ["npm_config__authToken", true],
    ["AWS_SECRET_ACCESS_KEY", true],
    ["AWS_ACCESS_KEY_ID", true],
    ["AWS_SESSION_TOKEN", true],
    ["DB_PASSWORD", true],
    ["GOOGLE_APPLICATION_CREDENTIALS", true],
    ["XDG_SESSION_ID", true],
    ["gpg_key", true],
    ["SSH_AUTH_SOCK", true],
    ["DBUS_SESSION_BUS_ADDRESS", true],
    ["DBUS_SYSTEM_BUS_ADDRESS", true],
    ["DISPLAY", true],
    ["WAYLAND_DISPLAY", true],
    ["XDG_RUNTIME_DIR", true],
    ["DOCKER_HOST", true],
    ["KUBECONFIG", true],
    ["GEM_PAT", true],
    ["GH_PAT_READ", true],
    ["pat", true],
    ["SMTP_PASSWD", true],
    ["GPG_PASSPHRASE", true],
    ["HOME", false],
    ["PATTERN", false],
    ["NODE_PATH", false],
    ["PATCH_LEVEL", false],
    ["PATH", false],
    ["TERM", false],
    ["LANG", false],
    ["LC_ALL", false],
    ["CI", false],
    ["TZ", false],
    ["npm_lifecycle_event", false],
    ["npm_config_registry", false],
    ["INIT_CWD", false],
    ["DISPLAY_NAME", false],
  ])("%s → %s", (name, secret) => {
    expect(isSecretName(name)).toBe(secret);
  });

  it("keeps a secret-looking LC_ variable out of the sandbox", () => {
    const policy = basePolicy({
      host: { env: { LC_ALL: "C.UTF-8", LC_AUTH_TOKEN: "leak", TERM: "dumb" } },
    });
    expect(policy.env.LC_ALL).toBe("C.UTF-8");
    expect(policy.env.LC_AUTH_TOKEN).toBeUndefined();
    expect(policy.env.TERM).toBe("dumb");
    expect(policy.env.SHELL).toBeUndefined();
  });
});

describe("toolMount never shows more than the tool", () => {
  const tool = (bin: string, real: string, prefix: string): ResolvedTool => ({ bin, real, prefix });

  it.each([
    [
      "node in ~/bin (prefix is the home)",
      tool(`${HOME}/bin/node`, `${HOME}/bin/node`, HOME),
      `${HOME}/bin`,
    ],
    ["node in ~ itself", tool(`${HOME}/node`, `${HOME}/node`, HOME), `${HOME}/node`],
    [
      "node in /bin on a split-/usr host (prefix /)",
      tool("/bin/node", "/bin/node", "/"),
      "/bin/node",
    ],
    [
      "node in /opt/node/bin",
      tool("/opt/node/bin/node", "/opt/node/bin/node", "/opt/node"),
      "/opt/node",
    ],
    ["nvm", nodeTool(), NVM_PREFIX],
  ])("%s", (_name, t, expected) => {
    const policy = resolvePolicy(baseInput({ input: { node: t, tools: [] } }));
    const binds = policy.mounts.filter((m) => m.kind === "ro-bind").map((m) => m.dest);
    expect(binds).toContain(expected);
    expect(binds).not.toContain(HOME);
    expect(binds).not.toContain("/");
    expect(binds).not.toContain("/home");
  });

  it("does not bind a prefix that contains the project", () => {
    const wide = tool("/home/alice/code/bin/node", "/home/alice/code/bin/node", "/home/alice/code");
    const policy = resolvePolicy(baseInput({ input: { node: wide, tools: [] } }));
    const binds = policy.mounts.filter((m) => m.kind === "ro-bind").map((m) => m.dest);
    expect(binds).not.toContain("/home/alice/code");
    expect(binds).toContain("/home/alice/code/bin");
  });

  it("strips credentials from npm_config_registry passed from a script", () => {
    const policy = resolvePolicy(
      baseInput({
        host: {
          env: {
            npm_lifecycle_event: "build",
            npm_config_registry: "https://ci:s3cret@registry.corp.example/",
          },
        },
      }),
    );
    expect(policy.env.npm_config_registry).toBe("https://registry.corp.example/");
  });
});

describe("NODE_EXTRA_CA_CERTS", () => {
  it("passes a CA bundle the sandbox can see, and drops one it cannot", () => {
    const visible = resolvePolicy(
      baseInput({ host: { env: { NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/corp.pem" } } }),
    );
    expect(visible.env.NODE_EXTRA_CA_CERTS).toBe("/etc/ssl/certs/corp.pem");
    const hidden = resolvePolicy(
      baseInput({ host: { env: { NODE_EXTRA_CA_CERTS: `${HOME}/corp.pem` } } }),
    );
    expect(hidden.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
  });
});

describe("sealed paths", () => {
  it("mounts an empty read-only file where a missing path must not be created", () => {
    const policy = resolvePolicy(baseInput({ input: { seal: [`${PROJECT}/.yarnrc.yml`] } }));
    const mount = dataMount(policy, `${PROJECT}/.yarnrc.yml`);
    expect(mount.data).toBe("");
    // After the project bind, or the bind would cover it.
    const at = (dest: string): number => policy.mounts.findIndex((m) => m.dest === dest);
    expect(at(`${PROJECT}/.yarnrc.yml`)).toBeGreaterThan(at(PROJECT));
  });
});

describe("sealed directories and already-mounted paths", () => {
  it("mounts an empty read-only directory where a missing directory must not be created", () => {
    const dest = `${PROJECT}/.yarn/releases`;
    const policy = resolvePolicy(baseInput({ input: { sealDirs: [dest] } }));
    const at = (d: string): number => policy.mounts.findIndex((m) => m.dest === d);
    expect(policy.mounts[at(dest)]).toEqual({ kind: "empty-dir", dest });
    expect(at(dest)).toBeGreaterThan(at(PROJECT));
    const args = buildBwrapArgs(policy, null).args.join(" ");
    expect(args).toContain(`--tmpfs ${dest} --remount-ro ${dest}`);
  });

  it('needs no stand-in where a read-only mount is already (the user\'s .npmrc with home "project")', () => {
    const dest = `${PROJECT}/.npmrc`;
    const policy = resolvePolicy(
      baseInput({
        input: {
          seal: [dest],
          settings: { ...baseInput().settings, home: "project" },
        },
      }),
    );
    const mounts = policy.mounts.filter((m) => m.dest === dest);
    expect(mounts).toHaveLength(1);
    expect(mounts[0]).toMatchObject({ kind: "data", label: "~/.npmrc without credentials" });
  });
});

describe("npm's global config in the project (NPM_CONFIG_GLOBALCONFIG)", () => {
  const path = `${PROJECT}/.npmrc-global`;
  it("is bound over without credentials, after the project and its read-only bind", () => {
    const text = "//registry.npmjs.org/:_authToken=global-token\nfund=false\n";
    const policy = resolvePolicy(
      baseInput({ input: { protect: [path], npmGlobalInProject: { path, text } } }),
    );
    const at = policy.mounts.findIndex((m) => m.dest === path && m.kind === "data");
    const mount = policy.mounts[at] as { data: string };
    expect(mount.data).toContain("fund=false");
    expect(mount.data).not.toContain("global-token");
    expect(at).toBeGreaterThan(policy.mounts.findIndex((m) => m.dest === PROJECT));
    expect(at).toBeGreaterThan(policy.mounts.findIndex((m) => m.dest === path));
  });
  it("with nothing to remove, only its read-only bind", () => {
    const policy = resolvePolicy(
      baseInput({ input: { protect: [path], npmGlobalInProject: { path, text: "fund=false\n" } } }),
    );
    expect(policy.mounts.filter((m) => m.dest === path).map((m) => m.kind)).toEqual(["ro-bind"]);
  });
});

describe("npm's user config in the project (NPM_CONFIG_USERCONFIG)", () => {
  const config = `${PROJECT}/.npmrc-ci`;
  const text = "//registry.npmjs.org/:_authToken=ci-token\nfund=false\n";
  it("is bound over, read-only and without credentials, after the project itself", () => {
    const policy = resolvePolicy(
      baseInput({ host: { userNpmrc: text }, input: { userNpmrcInProject: config } }),
    );
    const at = policy.mounts.findIndex((m) => m.dest === config);
    expect(policy.mounts[at]).toMatchObject({ kind: "data" });
    const mount = policy.mounts[at] as { data: string };
    expect(mount.data).toContain("fund=false");
    expect(mount.data).not.toContain("ci-token");
    expect(at).toBeGreaterThan(policy.mounts.findIndex((m) => m.dest === PROJECT));
  });
  it("is left alone outside the project, missing (watched instead) or passed in full", () => {
    const outside = resolvePolicy(baseInput({ host: { userNpmrc: text } }));
    expect(outside.mounts.some((m) => m.dest === config)).toBe(false);
    const missing = resolvePolicy(
      baseInput({ host: { userNpmrc: null }, input: { userNpmrcInProject: config } }),
    );
    expect(missing.mounts.some((m) => m.dest === config)).toBe(false);
    const full = resolvePolicy(
      baseInput({
        host: { userNpmrc: text },
        input: {
          userNpmrcInProject: config,
          settings: { ...baseInput().settings, fullNpmrc: true },
        },
      }),
    );
    expect(full.mounts.some((m) => m.dest === config)).toBe(false);
  });
});

describe("npm config files the environment names elsewhere (NPM_CONFIG_USERCONFIG / GLOBALCONFIG)", () => {
  const text = "//registry.npmjs.org/:_authToken=named-token\nfund=false\n";
  const tool: ResolvedTool = {
    bin: "/opt/node-22/bin/node",
    real: "/opt/node-22/bin/node",
    prefix: "/opt/node-22",
  };
  const named = (what: "user" | "global", paths: string[]): NamedNpmConfig => ({
    what,
    paths,
    text,
  });
  const dataAt = (policy: Policy, dest: string): string[] =>
    policy.mounts.flatMap((m) => (m.kind === "data" && m.dest === dest ? [m.data] : []));

  it.each<[string, NamedNpmConfig]>([
    ["a user config in /etc", named("user", ["/etc/npmrc-ci"])],
    ["a global config in /etc", named("global", ["/etc/npmrc-global"])],
    ["a user config in a tool's read-only prefix", named("user", ["/opt/node-22/user-npmrc"])],
  ])("binds %s over without credentials, after the folder's bind", (_n, config) => {
    const policy = resolvePolicy(
      baseInput({ input: { node: tool, tools: [], namedNpmConfigs: [config] } }),
    );
    const dest = config.paths[0] as string;
    const [data] = dataAt(policy, dest);
    expect(data).toContain("fund=false");
    expect(data).not.toContain("named-token");
    const at = policy.mounts.findIndex((m) => m.kind === "data" && m.dest === dest);
    const folder = policy.mounts.findIndex(
      (m) => m.kind === "ro-bind" && (dest.startsWith(`${m.dest}/`) || dest === m.dest),
    );
    expect(folder).toBeGreaterThanOrEqual(0);
    expect(at).toBeGreaterThan(folder);
  });

  it("covers the name a link leads to as well as the link's own", () => {
    const policy = resolvePolicy(
      baseInput({
        input: { namedNpmConfigs: [named("user", ["/usr/local/etc/ci-npmrc", "/etc/real-npmrc"])] },
      }),
    );
    expect(dataAt(policy, "/usr/local/etc/ci-npmrc")).toHaveLength(1);
    expect(dataAt(policy, "/etc/real-npmrc")).toHaveLength(1);
  });

  it("adds nothing where no folder shows it: the home (a tmpfs), elsewhere", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          namedNpmConfigs: [
            named("user", [`${HOME}/.npmrc-ci`, `${HOME}/.cache/npmrc-ci`]),
            named("global", ["/srv/ci/npmrc"]),
          ],
        },
      }),
    );
    for (const dest of [`${HOME}/.npmrc-ci`, `${HOME}/.cache/npmrc-ci`, "/srv/ci/npmrc"])
      expect(dataAt(policy, dest), dest).toEqual([]);
  });

  it("hides one in the project (a prefix there), once: a copy hostfiles.ts asked for stays", () => {
    const path = `${PROJECT}/prefix/etc/npmrc`;
    const hidden = resolvePolicy(
      baseInput({
        input: { namedNpmConfigs: [{ what: "global", paths: [path], text: null }] },
      }),
    );
    expect(dataAt(hidden, path)).toEqual([""]);
    const both = resolvePolicy(
      baseInput({
        input: {
          protect: [path],
          npmGlobalInProject: { path, text },
          namedNpmConfigs: [{ what: "global", paths: [path], text: null }],
        },
      }),
    );
    const copies = dataAt(both, path);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toContain("fund=false");
  });

  it("hides one that could not be read (text null) whole", () => {
    const policy = resolvePolicy(
      baseInput({
        input: { namedNpmConfigs: [{ what: "user", paths: ["/etc/npmrc-big"], text: null }] },
      }),
    );
    expect(dataAt(policy, "/etc/npmrc-big")).toEqual([""]);
  });

  it("leaves a user config passed in full (fullNpmrc) and one with nothing to remove", () => {
    const full = resolvePolicy(
      baseInput({
        input: {
          namedNpmConfigs: [named("user", ["/etc/npmrc-ci"])],
          settings: { ...baseInput().settings, fullNpmrc: true },
        },
      }),
    );
    expect(dataAt(full, "/etc/npmrc-ci")).toEqual([]);
    const plain = resolvePolicy(
      baseInput({
        input: {
          namedNpmConfigs: [{ what: "global", paths: ["/etc/npmrc-g"], text: "fund=false\n" }],
        },
      }),
    );
    expect(dataAt(plain, "/etc/npmrc-g")).toEqual([]);
  });

  it("binds yarn 1's user config as root over, even with fullNpmrc (it names ~/.npmrc only)", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          namedNpmConfigs: [
            { what: "yarn1-root", paths: ["/usr/local/share/.npmrc"], text },
            { what: "yarn1-root", paths: ["/usr/local/share/.yarnrc"], text: null },
          ],
          settings: { ...baseInput().settings, fullNpmrc: true },
        },
      }),
    );
    const [npmrc] = dataAt(policy, "/usr/local/share/.npmrc");
    expect(npmrc).toContain("fund=false");
    expect(npmrc).not.toContain("named-token");
    expect(dataAt(policy, "/usr/local/share/.yarnrc")).toEqual([""]);
  });
});

describe("showsHostPath", () => {
  it("follows the last mount over the path: a bind of the same host path shows it", () => {
    const mounts: Mount[] = [
      { kind: "ro-bind", src: "/etc", dest: "/etc" },
      { kind: "tmpfs", dest: "/home/u" },
      { kind: "bind", src: "/cache/home/.npm", dest: "/home/u/.npm" },
      { kind: "pin", dest: "/home/u/project" },
    ];
    expect(showsHostPath(mounts, "/etc/npmrc")).toBe(true);
    expect(showsHostPath(mounts, "/home/u/.npmrc")).toBe(false);
    expect(showsHostPath(mounts, "/home/u/.npm/npmrc")).toBe(false);
    expect(showsHostPath(mounts, "/home/u/project/npmrc")).toBe(true);
    expect(showsHostPath(mounts, "/srv/npmrc")).toBe(false);
    expect(showsHostPath([...mounts, { kind: "tmpfs", dest: "/etc" }], "/etc/npmrc")).toBe(false);
  });
});

describe("yarn 4's global folder at the same path inside and outside", () => {
  it("is bound at its host path and named by YARN_GLOBAL_FOLDER, so .pnp.cjs resolves outside too", () => {
    const policy = basePolicy();
    const berry = `${PRIVATE_HOME}/.yarn/berry`;
    expect(yarnGlobalFolder(PRIVATE_HOME)).toBe(berry);
    expect(policy.env.YARN_GLOBAL_FOLDER).toBe(berry);
    const at = (dest: string): number => policy.mounts.findIndex((m) => m.dest === dest);
    expect(policy.mounts[at(berry)]).toEqual({ kind: "bind", src: berry, dest: berry });
    // After the caches it may lie in (the default ~/.cache), before the project.
    expect(at(berry)).toBeGreaterThan(at(`${HOME}/.cache`));
    expect(at(berry)).toBeLessThan(at(PROJECT));
  });

  it('is not used with home "project" (the cache is in the project) nor for yarn 1', () => {
    const project = basePolicy({
      input: { settings: { ...baseInput().settings, home: "project" } },
    });
    expect(project.env.YARN_GLOBAL_FOLDER).toBeUndefined();
    expect(project.mounts.some((m) => m.dest.endsWith("/.yarn/berry"))).toBe(false);
    const classic = basePolicy({
      input: { toolchain: { ...baseInput().toolchain, yarnClassic: true } },
    });
    expect(classic.env.YARN_GLOBAL_FOLDER).toBeUndefined();
  });

  it("names the mount point's place in the private home when the path lies in a bound cache dir", () => {
    const home = "/home/alice";
    expect(
      mountPointInPrivateHome(home, `${home}/.cache/safe-npm/homes/app-0123456789ab/.yarn/berry`),
    ).toBe(".cache/safe-npm/homes/app-0123456789ab/.yarn/berry");
    // A cache home elsewhere in $HOME or outside it: the mount point lands in a tmpfs.
    expect(mountPointInPrivateHome(home, `${home}/.mycache/safe-npm/homes/a-0/.yarn/berry`)).toBe(
      null,
    );
    expect(mountPointInPrivateHome(home, "/var/cache/safe-npm/homes/a-0/.yarn/berry")).toBe(null);
    expect(mountPointInPrivateHome(home, `${home}/.cachet/x`)).toBe(null);
  });
});

describe("the registry gateway's CA", () => {
  const proxy = {
    socketPath: "/tmp/safe-npm-net-x/proxy.sock",
    bridgePath: "/opt/safe-npm/dist/network/bridge.cjs",
    caBundlePath: "/tmp/safe-npm-net-x/ca.pem",
  };
  const registry = (extra: object = {}, env: Record<string, string> = {}) =>
    basePolicy({
      host: { env: { PATH: "/usr/bin:/bin", HOME, ...env } },
      input: { network: "registry", proxy: { ...proxy, ...extra } },
    });

  it("binds the bundle read-only and names it in NODE_EXTRA_CA_CERTS", () => {
    const policy = registry({}, { NODE_EXTRA_CA_CERTS: "/etc/ssl/corp.pem" });
    expect(policy.mounts).toContainEqual({
      kind: "ro-bind",
      src: proxy.caBundlePath,
      dest: "/run/safe-npm/ca.pem",
    });
    // The bundle carries the user's own CAs: it replaces theirs inside.
    expect(policy.env.NODE_EXTRA_CA_CERTS).toBe("/run/safe-npm/ca.pem");
    expect(policy.env.npm_config_cafile).toBeUndefined();
  });

  it("starts the node bridge without NODE_EXTRA_CA_CERTS and has it give the command the variable", () => {
    const otherNode = { selfNode: { real: "/usr/local/bin/node", major: 22 } };
    const policy = basePolicy({
      host: { ...otherNode, env: { PATH: "/usr/bin:/bin", HOME, NODE_EXTRA_CA_CERTS: "/c.pem" } },
      input: { network: "registry", proxy },
    });
    expect(policy.command.slice(0, 3)).toEqual(["/usr/bin/env", "-u", "NODE_EXTRA_CA_CERTS"]);
    expect(policy.command).toContain("--extra-ca=/run/safe-npm/ca.pem");
    const dashes = policy.command.indexOf("--");
    expect(policy.command.indexOf("--extra-ca=/run/safe-npm/ca.pem")).toBeLessThan(dashes);
    // Without the variable, the bridge starts as it is.
    const plain = basePolicy({
      host: otherNode,
      input: { network: "registry", proxy: { ...proxy, caBundlePath: null } },
    });
    expect(plain.command[0]).not.toBe("/usr/bin/env");
    expect(plain.command.some((a) => a.startsWith("--extra-ca"))).toBe(false);
  });

  it("leaves NODE_EXTRA_CA_CERTS in the perl bridge's environment (perl does not read it)", () => {
    const policy = registry({}, { NODE_EXTRA_CA_CERTS: "/etc/ssl/corp.pem" });
    expect(policy.command.slice(2, 4)).toEqual(["/usr/bin/perl", "/run/safe-npm/bridge.pl"]);
    expect(policy.env.NODE_EXTRA_CA_CERTS).toBe("/run/safe-npm/ca.pem");
  });

  it("replaces npm's cafile only where the config names one", () => {
    expect(registry({ cafileConfigured: true }).env.npm_config_cafile).toBe("/run/safe-npm/ca.pem");
  });

  it("names the bundle without node's shipped roots in NODE_EXTRA_CA_CERTS when there is one", () => {
    const split = {
      cafileConfigured: true,
      caNodeBundlePath: "/tmp/safe-npm-net-x/ca-node.pem",
    };
    const policy = registry(split);
    // npm's cafile replaces node's list: it gets the whole bundle; node adds to its own roots.
    expect(policy.env.npm_config_cafile).toBe("/run/safe-npm/ca.pem");
    expect(policy.env.NODE_EXTRA_CA_CERTS).toBe("/run/safe-npm/ca-node.pem");
    for (const [src, dest] of [
      [proxy.caBundlePath, "/run/safe-npm/ca.pem"],
      [split.caNodeBundlePath, "/run/safe-npm/ca-node.pem"],
    ]) {
      expect(policy.mounts).toContainEqual({ kind: "ro-bind", src, dest });
    }
    // One file when both are the same.
    const one = registry({ caNodeBundlePath: proxy.caBundlePath });
    expect(one.env.NODE_EXTRA_CA_CERTS).toBe("/run/safe-npm/ca.pem");
    expect(one.mounts.some((m) => m.dest === "/run/safe-npm/ca-node.pem")).toBe(false);
  });

  it("is absent without the gateway", () => {
    const policy = registry({ caBundlePath: null });
    expect(policy.mounts.some((m) => m.dest === "/run/safe-npm/ca.pem")).toBe(false);
    expect(policy.env.NODE_EXTRA_CA_CERTS).toBeUndefined();
  });
});

describe("the registry gateway and the user's cafile", () => {
  it("points the ~/.npmrc copy's cafile at the bundle, which holds its certificates", () => {
    const policy = basePolicy({
      host: { userNpmrc: "cafile=/etc/corp/ca.pem\nregistry=https://npm.corp.example/\n" },
      input: {
        network: "registry",
        proxy: {
          socketPath: "/tmp/s/proxy.sock",
          bridgePath: "/opt/b.cjs",
          caBundlePath: "/tmp/s/ca.pem",
          cafileConfigured: true,
        },
      },
    });
    const npmrc = policy.mounts.find((m) => m.dest === `${HOME}/.npmrc`);
    expect(npmrc).toMatchObject({ kind: "data" });
    const data = (npmrc as { data: string }).data;
    expect(data).toContain("cafile=/run/safe-npm/ca.pem");
    expect(data).not.toContain("/etc/corp/ca.pem");
    expect(policy.env.npm_config_cafile).toBe("/run/safe-npm/ca.pem");
  });
});

describe("the registry gateway and the project's cafile", () => {
  const proxy = {
    socketPath: "/tmp/s/proxy.sock",
    bridgePath: "/opt/b.cjs",
    caBundlePath: "/tmp/s/ca.pem",
  };
  const projectNpmrc = "cafile=/etc/corp/ca.pem\nregistry=https://npm.corp.example/\n";

  it("names the bundle in a copy of the project's .npmrc (bun and pnpm 11+ read it first)", () => {
    const policy = basePolicy({ input: { projectNpmrc, network: "registry", proxy } });
    const copy = policy.mounts.find((m) => m.dest === `${PROJECT}/.npmrc`);
    expect(copy).toMatchObject({ kind: "data" });
    expect((copy as { data: string }).data).toBe(
      "cafile=/run/safe-npm/ca.pem\nregistry=https://npm.corp.example/\n",
    );
  });

  it("leaves it alone without the gateway", () => {
    const policy = basePolicy({
      input: { projectNpmrc, network: "registry", proxy: { ...proxy, caBundlePath: null } },
    });
    expect(policy.mounts.some((m) => m.dest === `${PROJECT}/.npmrc` && m.kind === "data")).toBe(
      false,
    );
  });
});

describe("pnpm's settings", () => {
  const withTool = (bin: string, home: "private" | "project" = "private"): Policy =>
    resolvePolicy(
      baseInput({
        input: {
          tools: [{ bin, real: "/usr/local/lib/pnpm/pnpm", prefix: "/usr/local/lib/pnpm" }],
          command: [bin.split("/").pop() ?? "", "install"],
          ...(home === "project" ? { settings: { ...NO_SETTINGS, home: "project" } } : {}),
        },
      }),
    );
  const pnpmVars = (policy: Policy): Record<string, string> =>
    Object.fromEntries(
      Object.entries(policy.env).filter(([k]) => /^(npm|pnpm)_config_store_dir$/.test(k)),
    );

  // pnpm 10 reads npm_config_*, pnpm 11 and 12 only pnpm_config_*: without the second, pnpm 12
  // put its store in node_modules/.pnpm-store, which `rm -rf node_modules` deletes.
  it.each([
    ["/usr/local/bin/pnpm", "private", `${HOME}/.local/share/pnpm/store`],
    ["/usr/local/bin/pnpx", "private", `${HOME}/.local/share/pnpm/store`],
    ["/usr/local/bin/pnpm", "project", `${PROJECT}/.local/share/pnpm/store`],
  ] as const)("%s with home %s: the store at %s, for every pnpm", (bin, home, store) => {
    expect(pnpmVars(withTool(bin, home))).toEqual({
      npm_config_store_dir: store,
      pnpm_config_store_dir: store,
    });
  });

  // pnpm 11+ reached otherwise (exec, a script, npx pnpm) reads pnpm_config_*; npm would warn
  // about an npm_config_* key it does not know.
  it("sets only pnpm_config_store_dir for other managers", () => {
    const store = `${HOME}/.local/share/pnpm/store`;
    expect(pnpmVars(withTool("/usr/local/bin/yarn"))).toEqual({ pnpm_config_store_dir: store });
    expect(pnpmVars(resolvePolicy(baseInput()))).toEqual({ pnpm_config_store_dir: store });
  });

  it("puts the store where the private home binds pnpm's cache directory", () => {
    const policy = withTool("/usr/local/bin/pnpm");
    const store = policy.env.pnpm_config_store_dir;
    expect(CACHE_DIRS.map((rel) => `${HOME}/${rel}`)).toContain(store);
    expect(policy.mounts).toContainEqual({
      kind: "bind",
      src: `${PRIVATE_HOME}/.local/share/pnpm/store`,
      dest: store,
    });
  });

  it("puts a link to the project's node_modules at the store's path when the store is moved there", () => {
    const policy = resolvePolicy(baseInput({ input: { linkedStores: [PNPM_STORE] } }));
    const store = `${HOME}/.local/share/pnpm/store`;
    expect(policy.env.pnpm_config_store_dir).toBe(store);
    expect(policy.mounts).toContainEqual({
      kind: "symlink",
      target: `${PROJECT}/node_modules/.safe-npm-pnpm-store`,
      dest: store,
    });
    expect(policy.mounts.filter((m) => "dest" in m && m.dest === store)).toHaveLength(1);
    // The other caches are bound as before.
    expect(policy.mounts).toContainEqual({
      kind: "bind",
      src: `${PRIVATE_HOME}/.bun/install/cache`,
      dest: `${HOME}/.bun/install/cache`,
    });
  });
});

describe("pinned ancestors", () => {
  const at = (policy: Policy, dest: string, kind?: Mount["kind"]): number =>
    policy.mounts.findIndex((m) => m.dest === dest && (kind === undefined || m.kind === kind));

  it("pins every directory between the root and a guarded path, parents first, before the guards", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          protect: [`${PROJECT}/tools/hooks/git`, `${PROJECT}/.yarn/releases`],
          sealDirs: [`${PROJECT}/.yarn/plugins`],
          seal: [`${PROJECT}/ci/conf/npmrc`],
          hide: [`${PROJECT}/certs/client.key`],
        },
      }),
    );
    const pins = policy.mounts.flatMap((m) => (m.kind === "pin" ? [m.dest] : []));
    expect(pins.sort()).toEqual(
      [".yarn", "certs", "ci", "ci/conf", "tools", "tools/hooks"]
        .map((p) => `${PROJECT}/${p}`)
        .sort(),
    );
    const project = at(policy, PROJECT, "bind");
    for (const pin of pins) expect(at(policy, pin, "pin")).toBeGreaterThan(project);
    expect(at(policy, `${PROJECT}/tools`)).toBeLessThan(at(policy, `${PROJECT}/tools/hooks`));
    expect(at(policy, `${PROJECT}/ci`)).toBeLessThan(at(policy, `${PROJECT}/ci/conf`));
    expect(at(policy, `${PROJECT}/.yarn`)).toBeLessThan(at(policy, `${PROJECT}/.yarn/releases`));
    expect(at(policy, `${PROJECT}/.yarn`)).toBeLessThan(at(policy, `${PROJECT}/.yarn/plugins`));
    expect(at(policy, `${PROJECT}/tools/hooks`)).toBeLessThan(
      at(policy, `${PROJECT}/tools/hooks/git`),
    );
    const args = buildBwrapArgs(policy, null).args.join(" ");
    expect(args).toContain(`--bind ${PROJECT}/.yarn ${PROJECT}/.yarn`);
  });

  it("pins nothing for paths at the root, inside a read-only mount or already a mount point", () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          protect: [`${PROJECT}/.git`, `${PROJECT}/lib`, `${PROJECT}/lib/keys`],
          seal: [`${PROJECT}/.yarnrc.yml`, `${PROJECT}/.git/hooks/pre-commit`],
        },
      }),
    );
    expect(policy.mounts.filter((m) => m.kind === "pin")).toEqual([]);
  });

  it('pins dotfiles\' mount points in the project with home "project"', () => {
    const policy = resolvePolicy(
      baseInput({
        input: {
          settings: { ...NO_SETTINGS, home: "project", dotfiles: [`${HOME}/.config/git/config`] },
        },
      }),
    );
    const pins = policy.mounts.flatMap((m) => (m.kind === "pin" ? [m.dest] : []));
    expect(pins).toEqual([`${PROJECT}/.config`, `${PROJECT}/.config/git`]);
    expect(at(policy, `${PROJECT}/.config`)).toBeGreaterThan(at(policy, PROJECT, "bind"));
  });
});

describe("the registry bridge", () => {
  const proxy = {
    socketPath: "/tmp/safe-npm-net-x/proxy.sock",
    bridgePath: "/opt/safe-npm/dist/network/bridge.cjs",
    caBundlePath: null,
    port: 40123,
  };
  const registry = (host: BaseOptions["host"] = {}, env: Record<string, string> = {}) =>
    basePolicy({
      host: { ...host, env: { PATH: "/usr/bin:/bin", HOME, ...env } },
      input: { network: "registry", proxy },
    });

  it("is perl, from a data mount, in front of the command, where perl and the node fit", () => {
    const policy = registry();
    // perl quiet about a locale the system lacks; the script drops PERL_BADLANG again.
    expect(policy.command).toEqual([
      "/usr/bin/env",
      "PERL_BADLANG=0",
      "/usr/bin/perl",
      "/run/safe-npm/bridge.pl",
      "/run/safe-npm/proxy.sock",
      "40123",
      "--unset-badlang",
      "--",
      `${NVM_PREFIX}/bin/npm`,
      "install",
    ]);
    // A PERL_BADLANG the user passes in stays as it is, for perl and the command.
    const own = basePolicy({
      host: { env: { PATH: "/usr/bin:/bin", HOME, PERL_BADLANG: "1" } },
      input: {
        network: "registry",
        proxy,
        settings: { ...NO_SETTINGS, envPass: ["PERL_BADLANG"] },
      },
    });
    expect(own.command.slice(0, 5)).toEqual([
      "/usr/bin/perl",
      "/run/safe-npm/bridge.pl",
      "/run/safe-npm/proxy.sock",
      "40123",
      "--",
    ]);
    expect(policy.mounts).toContainEqual({
      kind: "data",
      dest: "/run/safe-npm/bridge.pl",
      data: BRIDGE_PERL,
      label: "network bridge",
    });
    expect(policy.mounts.some((m) => m.dest === "/run/safe-npm/bridge.cjs")).toBe(false);
    expect(policy.mounts).toContainEqual({
      kind: "ro-bind",
      src: proxy.socketPath,
      dest: "/run/safe-npm/proxy.sock",
    });
  });

  it.each([
    ["no /usr/bin/perl", { perl: false }],
    ["another architecture's socket constants", { arch: "mips" as NodeJS.Architecture }],
    [
      "a node inside that is not safe-npm's own",
      { selfNode: { real: "/usr/bin/node", major: 20 } },
    ],
  ])("is node's with %s", (_why, host) => {
    const policy = registry(host);
    expect(policy.command.slice(0, 2)).toEqual([
      `${NVM_PREFIX}/bin/node`,
      "/run/safe-npm/bridge.cjs",
    ]);
    expect(policy.mounts).toContainEqual({
      kind: "ro-bind",
      src: proxy.bridgePath,
      dest: "/run/safe-npm/bridge.cjs",
    });
    expect(policy.mounts.some((m) => m.dest === "/run/safe-npm/bridge.pl")).toBe(false);
  });

  it("quiets node 22's proxy-agent warning, after the NODE_OPTIONS a script passed", () => {
    const node22 = { selfNode: { real: `${NVM_PREFIX}/bin/node`, major: 22 } };
    expect(registry(node22).env.NODE_OPTIONS).toBe("--disable-warning=UNDICI-EHPA");
    expect(registry().env.NODE_OPTIONS).toBeUndefined();
    const fromScript = registry(node22, {
      npm_lifecycle_event: "test",
      NODE_OPTIONS: "--require /p/.pnp.cjs",
    });
    expect(fromScript.env.NODE_OPTIONS).toBe("--require /p/.pnp.cjs --disable-warning=UNDICI-EHPA");
  });

  it("is absent outside registry mode", () => {
    const policy = basePolicy({ input: { network: "none", proxy } });
    expect(policy.command).toEqual([`${NVM_PREFIX}/bin/npm`, "install"]);
  });
});
