/**
 * Hand-built inputs for the pure core (policy.ts, bwrap.ts). Nothing here reads the host: the
 * host is an object literal describing a typical nvm user on a merged-/usr distribution.
 */
import type { HostInfo, ResolvedTool } from "../../src/host/host.js";
import {
  NO_SETTINGS,
  NO_TOOLCHAIN,
  type Policy,
  type PolicyInput,
  resolvePolicy,
} from "../../src/sandbox/policy.js";

export const HOME = "/home/alice";
export const PROJECT = "/home/alice/code/app";
export const CWD = `${PROJECT}/packages/web`;
export const GIT_DIR = `${PROJECT}/.git`;
export const CACHE_HOME = `${HOME}/.cache`;
export const PRIVATE_HOME = `${CACHE_HOME}/safe-npm/homes/app-0123456789ab`;
export const NVM_PREFIX = `${HOME}/.nvm/versions/node/v20.19.0`;
export const NPM_PREFIX = `${NVM_PREFIX}/lib/node_modules/npm`;
export const NPM_TOKEN = "npm_s3cr3tT0k3nDoNotLeak";
export const VERSION = "0.1.0-test";

export const USER_NPMRC = [
  "# alice's npmrc",
  "registry=https://registry.npmjs.org/",
  `//registry.npmjs.org/:_authToken=${NPM_TOKEN}`,
  "@acme:registry=https://npm.acme.example/",
  "",
].join("\n");

/** The host PATH, as a login shell with nvm would have it (plus project bins, as in a script). */
export const HOST_PATH_DIRS: readonly string[] = [
  `${CWD}/node_modules/.bin`,
  `${PROJECT}/node_modules/.bin`,
  `${NPM_PREFIX}/node_modules/@npmcli/run-script/lib/node-gyp-bin`,
  `${HOME}/.local/bin`,
  `${NVM_PREFIX}/bin`,
  "/opt/x/bin",
  "/usr/local/bin",
  "/usr/bin",
  "/bin",
];

/**
 * The user's environment: harmless variables, secrets that must never enter the sandbox, and a
 * few stale package.json-script variables (without npm_lifecycle_event they must not pass).
 */
export const HOST_ENV: Readonly<Record<string, string>> = {
  HOME,
  USER: "alice",
  LOGNAME: "alice",
  PATH: HOST_PATH_DIRS.join(":"),
  SHELL: "/bin/bash",
  TERM: "xterm-256color",
  COLORTERM: "truecolor",
  LANG: "en_US.UTF-8",
  LC_ALL: "C.UTF-8",
  LC_TIME: "de_DE.UTF-8",
  TZ: "Europe/Berlin",
  EDITOR: "vim",
  XDG_CACHE_HOME: CACHE_HOME,
  NPM_TOKEN,
  GITHUB_TOKEN: "ghp_leak",
  AWS_ACCESS_KEY_ID: "AKIALEAK",
  AWS_SECRET_ACCESS_KEY: "aws-secret-leak",
  AWS_SESSION_TOKEN: "aws-session-leak",
  AWS_REGION: "eu-central-1",
  SSH_AUTH_SOCK: "/run/user/1000/ssh-agent.socket",
  DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1000/bus",
  DISPLAY: ":0",
  WAYLAND_DISPLAY: "wayland-0",
  XDG_RUNTIME_DIR: "/run/user/1000",
  DOCKER_HOST: "unix:///run/docker.sock",
  KUBECONFIG: `${HOME}/.kube/config`,
  // Stale script variables (e.g. exported by some tool) without npm_lifecycle_event.
  INIT_CWD: "/somewhere/else",
  npm_package_name: "stale",
  npm_config_user_agent: "npm/10.8.2 node/v20.19.0 linux x64",
};

/** What npm adds when it runs a package.json script ("build": "safe-npm exec -- tsc -b"). */
export const SCRIPT_ENV: Readonly<Record<string, string>> = {
  INIT_CWD: CWD,
  npm_lifecycle_event: "build",
  npm_lifecycle_script: "safe-npm exec -- tsc -b",
  npm_package_json: `${CWD}/package.json`,
  npm_package_name: "web",
  npm_package_version: "1.2.3",
  npm_command: "run-script",
  npm_execpath: `${NPM_PREFIX}/bin/npm-cli.js`,
  npm_node_execpath: `${NVM_PREFIX}/bin/node`,
  npm_config_user_agent: "npm/10.8.2 node/v20.19.0 linux x64 workspaces/false",
  npm_config_registry: "https://registry.npmjs.org/",
  // npm sets more than the allowlist; these must stay outside.
  npm_config_cache: `${HOME}/.npm`,
  npm_config_globalconfig: `${NVM_PREFIX}/etc/npmrc`,
};

export function fakeHost(overrides: Partial<HostInfo> = {}): HostInfo {
  return {
    platform: "linux",
    arch: "x64",
    env: { ...HOST_ENV },
    uid: 1000,
    gid: 1000,
    nodeExtraCa: null,
    home: HOME,
    user: "alice",
    cwd: CWD,
    cacheHome: CACHE_HOME,
    ownCache: { home: CACHE_HOME, notice: null, problem: null },
    pathDirs: [...HOST_PATH_DIRS],
    skippedPathDirs: [],
    shimDir: `${HOME}/.local/share/safe-npm/shims`,
    bwrap: "/usr/bin/bwrap",
    rootDirs: { "/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64" },
    resolvConf: null,
    userNpmrc: USER_NPMRC,
    stdinIsTty: false,
    foregroundTty: false,
    jobControl: true,
    sandbox: null,
    perl: true,
    selfNode: { real: `${NVM_PREFIX}/bin/node`, major: 20 },
    nsenter: "/usr/bin/nsenter",
    ...overrides,
  };
}

export function nodeTool(): ResolvedTool {
  return { bin: `${NVM_PREFIX}/bin/node`, real: `${NVM_PREFIX}/bin/node`, prefix: NVM_PREFIX };
}

export function npmTool(): ResolvedTool {
  return { bin: `${NVM_PREFIX}/bin/npm`, real: `${NPM_PREFIX}/bin/npm-cli.js`, prefix: NPM_PREFIX };
}

export interface BaseOptions {
  host?: Partial<HostInfo>;
  input?: Partial<Omit<PolicyInput, "host">>;
}

/** `safe-npm install` in an npm project, from an interactive (non-terminal) caller. */
export function baseInput(options: BaseOptions = {}): PolicyInput {
  return {
    host: fakeHost(options.host),
    project: { root: PROJECT, reason: "lockfile" },
    node: nodeTool(),
    tools: [npmTool()],
    kind: "pm",
    command: ["npm", "install"],
    network: "full",
    privateHome: PRIVATE_HOME,
    protect: [GIT_DIR],
    seal: [],
    settings: NO_SETTINGS,
    toolchain: NO_TOOLCHAIN,
    proxy: null,
    version: VERSION,
    ...options.input,
  };
}

export function basePolicy(options: BaseOptions = {}): Policy {
  return resolvePolicy(baseInput(options));
}

/** The fake host env with npm's script variables added (safe-npm used inside a package.json script). */
export function scriptEnv(): Record<string, string> {
  return { ...HOST_ENV, ...SCRIPT_ENV };
}

/** A fixed stand-in for the seccomp program (its bytes do not matter to the argv builder). */
export const FAKE_SECCOMP = new Uint8Array([0x20, 0, 0, 0, 4, 0, 0, 0]);
