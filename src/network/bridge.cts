/**
 * Runs INSIDE the sandbox (compiled to dist/network/bridge.cjs: CommonJS, so it runs the same
 * wherever it is bound, with no package.json next to it; node built-ins only, for start-up speed):
 *
 *   node bridge.cjs <socketPath> <port> [--no-forward-signals] -- <cmd> [args…]
 *
 * Listens on 127.0.0.1:<port> (0: any free port) — the sandbox's own loopback — and forwards
 * every TCP connection to the host proxy's unix socket; then runs the command with the proxy
 * variables pointing at itself, and exits as the command did (its status, or the same signal).
 *
 * Signals: SIGINT/SIGTERM/SIGHUP/SIGQUIT never kill the bridge (the command must be able to
 * clean up through it). By default they are forwarded to the command; with
 * --no-forward-signals they are not, for when the command receives them directly anyway (a
 * terminal signals the whole process group; safe-npm signals every process of the sandbox), so
 * it does not get each one twice.
 *
 * Exit status: the command's; 127/126 when it cannot be found/run; 125 when the bridge itself
 * cannot start (bad arguments, no proxy socket, cannot listen).
 */
import childProcess = require("node:child_process");
import fs = require("node:fs");
import net = require("node:net");
import os = require("node:os");

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
const EXIT_BRIDGE_FAILURE = 125;

function fail(message: string, status = EXIT_BRIDGE_FAILURE): never {
  process.stderr.write(`safe-npm bridge: ${message}\n`);
  process.exit(status);
}

function parseArgs(argv: readonly string[]): {
  socketPath: string;
  port: number;
  forward: boolean;
  extraCa: string | undefined;
  command: string[];
} {
  const [socketPath, portText, ...rest] = argv;
  const dashes = rest.indexOf("--");
  const usage =
    "usage: bridge <socketPath> <port> [--no-forward-signals] [--extra-ca=<path>] -- <cmd> [args…]";
  if (socketPath === undefined || portText === undefined || dashes === -1) fail(usage);
  const flags = rest.slice(0, dashes);
  const command = rest.slice(dashes + 1);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) fail(`bad port "${portText}"`);
  let extraCa: string | undefined;
  for (const flag of flags) {
    if (flag.startsWith("--extra-ca=")) extraCa = flag.slice("--extra-ca=".length);
    else if (flag !== "--no-forward-signals") fail(`unknown option ${flag}`);
  }
  if (command.length === 0) fail(usage);
  return { socketPath, port, forward: !flags.includes("--no-forward-signals"), extraCa, command };
}

const options = parseArgs(process.argv.slice(2));

try {
  if (!fs.statSync(options.socketPath).isSocket()) fail(`${options.socketPath} is not a socket`);
} catch (error) {
  fail(`no proxy socket at ${options.socketPath} (${(error as NodeJS.ErrnoException).code})`);
}

let child: childProcess.ChildProcess | undefined;
let exiting = false;

for (const signal of FORWARDED) {
  process.on(signal, () => {
    if (child === undefined) {
      dieLike(signal); // before the command started: nothing to clean up
    } else if (options.forward && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone: its exit is on its way
      }
    }
  });
}

const connections = new Set<net.Socket>();
const server = net.createServer({ allowHalfOpen: true }, (client) => {
  const upstream = net.connect({ path: options.socketPath, allowHalfOpen: true });
  connections.add(client);
  connections.add(upstream);
  client.setNoDelay(true);
  // Either side failing takes the other down; pipe() carries the ends (half-closes) through and
  // lets what is still queued for a side reach it: destroying the other side as soon as one
  // closed cleanly cut off the tail of a download still being written to the client.
  const teardown = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", teardown);
  upstream.on("error", teardown);
  client.on("close", (hadError) => {
    connections.delete(client);
    if (hadError) teardown();
  });
  upstream.on("close", (hadError) => {
    connections.delete(upstream);
    if (hadError) teardown();
  });
  client.pipe(upstream);
  upstream.pipe(client);
});

server.on("error", (error: NodeJS.ErrnoException) => {
  fail(`cannot listen on 127.0.0.1:${options.port} (${error.code ?? error.message})`);
});

server.listen(options.port, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const proxy = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    npm_config_proxy: proxy,
    npm_config_https_proxy: proxy,
    YARN_HTTP_PROXY: proxy,
    YARN_HTTPS_PROXY: proxy,
    // Node 22.21+/24.5+: fetch and http(s) use the variables above by themselves.
    NODE_USE_ENV_PROXY: "1",
    // Loopback inside is the bridge itself: nothing bypasses the proxy.
    NO_PROXY: "",
    no_proxy: "",
    SAFE_NPM_PROXY: proxy,
    // Started without it (see inside.ts bridgeArgv): the command gets it back.
    ...(options.extraCa === undefined ? {} : { NODE_EXTRA_CA_CERTS: options.extraCa }),
  };
  // Node 22 announces its EnvHttpProxyAgent as experimental at every start-up: once per node
  // process (npm, each lifecycle script) on the user's terminal. Node 24 does not.
  if (process.versions.node.startsWith("22.")) {
    env.NODE_OPTIONS = [env.NODE_OPTIONS, "--disable-warning=UNDICI-EHPA"]
      .filter(Boolean)
      .join(" ");
  }
  const [file, ...args] = options.command as [string, ...string[]];
  // libuv resets every signal disposition to default in the child, so a command started with
  // SIGINT ignored (bwrap on a terminal) gets Ctrl-C back.
  child = childProcess.spawn(file, args, { stdio: "inherit", env });
  child.on("error", (error: NodeJS.ErrnoException) => {
    stop();
    fail(`${file}: ${error.message}`, error.code === "ENOENT" ? 127 : 126);
  });
  child.on("exit", (code, signal) => {
    stop();
    if (signal !== null) dieLike(signal);
    else process.exit(code ?? 1);
  });
});

function stop(): void {
  server.close();
  for (const socket of connections) socket.destroy();
}

/** Dies of `signal` so the parent sees the same death; 128+N if the signal cannot kill us. */
function dieLike(signal: NodeJS.Signals): void {
  if (exiting) return;
  exiting = true;
  const number = os.constants.signals[signal] ?? 0;
  // A listener added then removed leaves the default disposition (also for SIGPIPE, which node
  // ignores from start-up).
  try {
    process.on(signal, () => {});
  } catch {
    // not a signal node lets a script handle (SIGKILL, SIGSTOP): its default is fatal anyway
  }
  process.removeAllListeners(signal);
  setTimeout(() => process.exit(128 + number), 1000);
  process.kill(process.pid, signal);
}
