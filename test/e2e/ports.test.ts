/**
 * Port forwarding through the real runner: a dev server under `safe-npm run dev` is reached from
 * the host's loopback (HTTP, an upgraded long-lived connection, IPv6), while the sandbox still
 * cannot connect out; a port in use on the host is reported and left alone; nothing listens on
 * the host once the run ends; `--port` forwards before the server listens; `ports: false` turns
 * it off. Controls: `--network full` shows the outbound attempt and the direct reach working.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { POLL_MS } from "../../src/network/ports.js";
import { cliPath, repoRoot } from "./paths.js";
import { makeWorld, processesWith, type World, waitFor } from "./world.js";

const unavailable = inject("sandboxUnavailable");
const TIMEOUT = 180_000;

interface Dev {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** The run's exit status, waited for at most EXIT_MS. */
  exited: () => Promise<number | null>;
}

const running: Dev[] = [];

/** How long a run may take to end once the test expects it to. */
const EXIT_MS = 90_000;

/** `safe-npm [flags] run dev -- <args>` in the background, its output collected. */
function startDev(world: World, flags: string[], args: string[]): Dev {
  return startCli(world, [...flags, "run", "dev", "--", ...args]);
}

/** `safe-npm <args>` in the background, its output collected. */
function startCli(world: World, args: string[], env: Record<string, string> = {}): Dev {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: world.project,
    env: { ...world.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const ended = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  // Bounded, so a run that does not end names itself (and what it printed) in the failure.
  const exited = (): Promise<number | null> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`safe-npm ${args.join(" ")} did not exit; stderr:\n${stderr}`)),
        EXIT_MS,
      );
      void ended.then((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  const dev = { child, stdout: () => stdout, stderr: () => stderr, exited };
  running.push(dev);
  return dev;
}

/**
 * A port nothing on the host listens on right now (127.0.0.1 and ::1), below the kernel's
 * ephemeral range like a dev server's (ports in it are not forwarded automatically).
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free && (await connectResult(port, "::1")) !== "connected") return port;
  }
}

/**
 * How long one connection from the host may take before the test names it: a hang shows as
 * "timeout" in the step that hung rather than as the whole test's timeout.
 */
const STEP_MS = 30_000;

/** Connects to host:port on the host: "connected", the error code, or "timeout". */
function connectResult(port: number, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(STEP_MS, () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** GET http://host:port/path on the host: the body, `error <code>`, or `timeout after <data>`. */
function get(port: number, path: string, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    let data = "";
    socket.setTimeout(STEP_MS, () => {
      socket.destroy();
      resolve(`timeout after ${JSON.stringify(data)}`);
    });
    socket.on("data", (d: Buffer) => {
      data += d.toString();
    });
    socket.once("connect", () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
    );
    socket.once("close", () => resolve(data.split("\r\n\r\n").slice(1).join("\r\n\r\n")));
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
  });
}

/** An `Upgrade: echo` handshake, then `rounds` messages echoed one after the other. */
async function upgradeAndEcho(port: number, rounds: number): Promise<string[]> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  let buffer = "";
  socket.on("data", (d: Buffer) => {
    buffer += d.toString();
  });
  const until = async (text: string): Promise<void> =>
    waitFor(() => buffer.includes(text) || socket.destroyed, `"${text}" from the server`);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    "GET /hmr HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
  );
  await until("\r\n\r\n");
  const handshake = buffer.split("\r\n")[0] ?? "";
  buffer = "";
  const echoed = [handshake];
  for (let i = 0; i < rounds; i++) {
    const message = `message ${i}\n`;
    socket.write(message);
    await until(message);
    echoed.push(buffer);
    buffer = "";
  }
  socket.destroy();
  return echoed;
}

const forwardingLine = (port: number): string =>
  `safe-npm: forwarding http://localhost:${port} → sandbox`;
const count = (text: string, part: string): number => text.split(part).length - 1;

describe.skipIf(unavailable !== "")("ports", () => {
  let world: World;
  /** A listener the sandbox tries to reach: it must see no connection. */
  let outside: net.Server;
  let outsidePort = 0;
  let outsideConnections = 0;

  beforeAll(async () => {
    world = makeWorld({ projectInHome: true, packageJson: { scripts: { dev: "node server.js" } } });
    copyFileSync(
      join(repoRoot, "fixtures", "projects", "devserver", "server.js"),
      join(world.project, "server.js"),
    );
    outside = net.createServer((socket) => {
      outsideConnections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => outside.listen(0, "127.0.0.1", resolve));
    outsidePort = (outside.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    for (const dev of running.splice(0)) {
      if (dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill("SIGKILL");
      await dev.exited();
    }
  });
  afterAll(async () => {
    world?.dispose();
    await new Promise((resolve) => outside?.close(resolve));
  });

  it(
    "forwards a dev server automatically: HTTP, a long-lived upgraded connection, IPv6; nothing goes out",
    async () => {
      const port = await freePort();
      const before = outsideConnections;
      // Control: the listener outside is reachable from the host.
      expect(await connectResult(outsidePort)).toBe("connected");
      expect(outsideConnections).toBe(before + 1);

      const dev = startDev(
        world,
        [],
        [String(port), "127.0.0.1", "--outbound", String(outsidePort)],
      );
      await waitFor(() => dev.stderr().includes(forwardingLine(port)), "the forwarding line");
      expect(dev.stdout()).toContain("outbound: ECONNREFUSED");
      expect(outsideConnections).toBe(before + 1);

      expect(await get(port, "/from-host")).toBe("hello from the sandbox /from-host\n");
      expect(await get(port, "/over-ipv6", "::1")).toBe("hello from the sandbox /over-ipv6\n");
      expect(await upgradeAndEcho(port, 5)).toEqual([
        "HTTP/1.1 101 Switching Protocols",
        "message 0\n",
        "message 1\n",
        "message 2\n",
        "message 3\n",
        "message 4\n",
      ]);
      // Several connections at once, each its own.
      const many = await Promise.all([1, 2, 3, 4].map((i) => get(port, `/${i}`)));
      expect(many).toEqual([1, 2, 3, 4].map((i) => `hello from the sandbox /${i}\n`));
      expect(count(dev.stderr(), "safe-npm: forwarding")).toBe(1);
      // One forwarder while it runs (the check below can see it)…
      expect(processesWith("resetAndDestroy")).toHaveLength(1);

      // The run ends by itself: nothing listens on the host any more, no forwarder is left.
      expect(await get(port, "/quit")).toBe("hello from the sandbox /quit\n");
      expect(await dev.exited()).toBe(0);
      expect(await connectResult(port)).toBe("ECONNREFUSED");
      expect(await connectResult(port, "::1")).toMatch(/ECONNREFUSED|EADDRNOTAVAIL/);
      expect(processesWith("resetAndDestroy")).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "control: with --network full the server is on the host already and its outbound connection succeeds",
    async () => {
      const port = await freePort();
      const before = outsideConnections;
      const dev = startDev(
        world,
        ["--network", "full"],
        [String(port), "127.0.0.1", "--outbound", String(outsidePort)],
      );
      await waitFor(() => dev.stdout().includes("dev server listening"), "the server");
      expect(dev.stdout()).toContain(`outbound: connected to 127.0.0.1:${outsidePort}`);
      await waitFor(() => outsideConnections === before + 1, "the outbound connection");
      expect(await get(port, "/direct")).toBe("hello from the sandbox /direct\n");
      expect(dev.stderr()).not.toContain("safe-npm: forwarding");
      expect(await get(port, "/quit")).toBe("hello from the sandbox /quit\n");
      expect(await dev.exited()).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "reports a port in use on the host and leaves it alone",
    async () => {
      const port = await freePort();
      const sockets = new Set<net.Socket>();
      const hostServer = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe host's own server\n");
      });
      await new Promise<void>((resolve) => hostServer.listen(port, "127.0.0.1", resolve));
      try {
        const dev = startDev(world, [], [String(port), "127.0.0.1"]);
        await waitFor(
          () => dev.stderr().includes(`safe-npm: port ${port} is in use on the host`),
          "the report",
        );
        expect(dev.stdout()).toContain(`dev server listening on 127.0.0.1:${port}`);
        expect(dev.stderr()).not.toContain(forwardingLine(port));
        for (let i = 0; i < 5; i++) expect(await get(port, "/")).toBe("the host's own server\n");
        dev.child.kill("SIGTERM");
        expect(await dev.exited()).toBe(143);
        expect(await get(port, "/")).toBe("the host's own server\n");
      } finally {
        const closed = new Promise((resolve) => hostServer.close(resolve));
        for (const socket of sockets) socket.destroy();
        await closed;
      }
    },
    TIMEOUT,
  );

  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
  ] as const)(
    "stops forwarding on %s: nothing listens on the host port afterwards",
    async (signal, status) => {
      const port = await freePort();
      const dev = startDev(world, [], [String(port), "::1"]);
      await waitFor(() => dev.stderr().includes(forwardingLine(port)), "the forwarding line");
      // A server listening on ::1 only is reached from the host's 127.0.0.1 too.
      expect(await get(port, "/v6-inside")).toBe("hello from the sandbox /v6-inside\n");
      dev.child.kill(signal);
      expect(await dev.exited()).toBe(status);
      expect(await connectResult(port)).toBe("ECONNREFUSED");
      expect(await connectResult(port, "::1")).toMatch(/ECONNREFUSED|EADDRNOTAVAIL/);
      expect(processesWith("resetAndDestroy")).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "--port forwards from the start, before the server listens; the forward waits for it",
    async () => {
      const port = await freePort();
      const go = join(world.project, `.go-${port}`);
      const dev = startDev(
        world,
        ["--port", String(port)],
        [String(port), "127.0.0.1", "--wait-for", go],
      );
      await waitFor(() => dev.stderr().includes(forwardingLine(port)), "the forwarding line");
      expect(dev.stdout()).not.toContain("dev server listening");
      // The host's listener is up; with nothing inside yet the connection is reset, not hung.
      expect(await connectResult(port)).toBe("connected");
      expect(await get(port, "/early")).toBe("error ECONNRESET");
      writeFileSync(go, "");
      await waitFor(() => dev.stdout().includes("dev server listening"), "the server");
      expect(await get(port, "/late")).toBe("hello from the sandbox /late\n");
      expect(count(dev.stderr(), "safe-npm: forwarding")).toBe(1);
      expect(await get(port, "/quit")).toBe("hello from the sandbox /quit\n");
      expect(await dev.exited()).toBe(0);
      expect(await connectResult(port)).toBe("ECONNREFUSED");
    },
    TIMEOUT,
  );

  it(
    "ports: false in the repository's settings turns forwarding off",
    async () => {
      const port = await freePort();
      const rc = join(world.project, ".sandboxrc.json");
      writeFileSync(rc, JSON.stringify({ ports: false }));
      try {
        const dev = startDev(world, [], [String(port), "127.0.0.1"]);
        await waitFor(() => dev.stdout().includes("dev server listening"), "the server");
        // The server listens inside, and the host cannot reach it: tried over many of the
        // watcher's polls (the first test shows the same server forwarded without the setting).
        for (let i = 0; i < 40; i++) {
          expect(await connectResult(port)).toBe("ECONNREFUSED");
          await new Promise((resolve) => setTimeout(resolve, POLL_MS / 5));
        }
        dev.child.kill("SIGTERM");
        expect(await dev.exited()).toBe(143);
        expect(dev.stderr()).not.toContain("safe-npm: forwarding");
      } finally {
        writeFileSync(rc, "{}");
      }
    },
    TIMEOUT,
  );

  it(
    "in registry mode the bridge's own listener is not forwarded",
    async () => {
      const port = await freePort();
      const dev = startDev(world, ["--network", "registry"], [String(port), "127.0.0.1"]);
      await waitFor(() => dev.stderr().includes(forwardingLine(port)), "the forwarding line");
      expect(await get(port, "/registry-mode")).toBe("hello from the sandbox /registry-mode\n");
      expect(await get(port, "/quit")).toBe("hello from the sandbox /quit\n");
      expect(await dev.exited()).toBe(0);
      expect(count(dev.stderr(), "safe-npm: forwarding")).toBe(1);
    },
    TIMEOUT,
  );

  it("--dry-run shows the forwarding", async () => {
    const on = await world.run(["--dry-run", "--port", "5173", "run", "dev"]);
    expect(on.stdout).toContain("ports:     a server listening inside on loopback");
    expect(on.stdout).toContain("from the start: 5173");
    expect(on.stdout).toMatch(/ports {11}\[5173\] {2}\[flag\]/);
    const off = await world.run(["--dry-run", "--no-ports", "run", "dev"]);
    expect(off.stdout).toContain("ports:     off");
    const full = await world.run(["--dry-run", "--network", "full", "run", "dev"]);
    expect(full.stdout).toContain("ports:     nothing to forward");
  });
});

/**
 * The loop through the host's proxy: a project's .npmrc names a registry on the host's
 * `localhost:<port>` (the held token for it is in ~/.npmrc), and the project's preinstall
 * listens on that port inside, then asks the proxy for `http://localhost:<port>/…`. Were the
 * port forwarded, the proxy — on the host, adding the token — would dial the forwarder and land
 * in the sandbox's own server. The control is the same install with the registry not named:
 * the port is forwarded and the host reaches the sandbox's server through it, so the loop would
 * be open. The preinstall waits for a `go` file the test writes once safe-npm has decided.
 */
const LOOP_SCRIPT = `
const http = require("http"), fs = require("fs");
const port = Number(process.argv[2]);
const hits = [];
const out = (result) => { fs.mkdirSync(".probe", { recursive: true }); fs.writeFileSync(".probe/loop.json", JSON.stringify(result)); };
const srv = http.createServer((req, res) => { hits.push({ url: req.url, auth: req.headers.authorization || null }); res.end("inside"); });
srv.listen(port, "127.0.0.1", () => {
  fs.mkdirSync(".probe", { recursive: true }); fs.writeFileSync(".probe/listening", "");
  const wait = setInterval(() => {
    if (!fs.existsSync("go")) return;
    clearInterval(wait);
    const proxy = new URL(process.env.HTTP_PROXY || process.env.http_proxy || "http://0.0.0.0:1");
    const r = http.request({ host: proxy.hostname, port: proxy.port, path: "http://localhost:" + port + "/@x%2fy", headers: { host: "localhost:" + port }, agent: false }, (res) => {
      let body = ""; res.on("data", (d) => { body += d; });
      res.on("end", () => { out({ status: res.statusCode, body, hits }); srv.close(); });
    });
    r.on("error", (e) => { out({ status: null, error: e.message, hits }); srv.close(); });
    r.end();
  }, 50);
});
`;

describe.skipIf(unavailable !== "")("ports and the registry proxy", () => {
  const TOKEN = "LOOP-HELD-TOKEN-SECRET";
  let world: World;
  beforeAll(() => {
    world = makeWorld({ projectInHome: true });
    writeFileSync(join(world.project, "loop.js"), LOOP_SCRIPT);
  });
  afterEach(async () => {
    for (const dev of running.splice(0)) {
      if (dev.child.exitCode === null && dev.child.signalCode === null) dev.child.kill("SIGKILL");
      await dev.exited();
    }
  });
  afterAll(() => world?.dispose());

  // Run through exec: a plain `npm install` starts no server and is not watched (the last case).
  const install = (port: number, named: boolean, plain = false): Dev => {
    const npmrc = named
      ? `@x:registry=http://localhost:${port}/\n//localhost:${port}/:_authToken=\${NODE_AUTH_TOKEN}\n`
      : "";
    writeFileSync(
      join(world.project, ".npmrc"),
      `${npmrc}registry=http://127.0.0.1:9/\naudit=false\nfund=false\nupdate-notifier=false\n`,
    );
    writeFileSync(
      join(world.home, ".npmrc"),
      // The user's own file names it too: a loopback registry only the project names is never
      // dialled (registry-bounds.test.ts); this test is about the forwarded port.
      // Not named: no token for it either (a held token's port is never forwarded).
      `${named ? `@x:registry=http://localhost:${port}/\n//localhost:${port}/:_authToken=\${NODE_AUTH_TOKEN}\n` : ""}registry=http://127.0.0.1:9/\nupdate-notifier=false\n`,
    );
    // The port is in the script: the sandbox's environment is not the test's.
    writeFileSync(
      join(world.project, "package.json"),
      JSON.stringify({
        name: "app",
        version: "1.0.0",
        private: true,
        scripts: { preinstall: `node loop.js ${port}` },
      }),
    );
    rmSync(join(world.project, "go"), { force: true });
    rmSync(join(world.project, ".probe"), { recursive: true, force: true });
    return startCli(
      world,
      plain
        ? ["--network", "registry", "npm", "install"]
        : ["--network", "registry", "exec", "--", "npm", "install"],
      { NODE_AUTH_TOKEN: TOKEN },
    );
  };
  const result = (): { status: number | null; body?: string; hits: unknown[] } =>
    JSON.parse(readFileSync(join(world.project, ".probe", "loop.json"), "utf8"));

  it(
    "control: a port not named as a registry is forwarded, and the host reaches the sandbox's server",
    async () => {
      const port = await freePort();
      const run = await install(port, false);
      await waitFor(() => run.stderr().includes(forwardingLine(port)), "the forwarding line");
      expect(await get(port, "/from-host")).toBe("inside");
      writeFileSync(join(world.project, "go"), "");
      expect(await run.exited(), run.stderr()).toBe(0);
      // The proxy refuses the host (not allowed), which shows the loop needs it named.
      expect(result().status).toBe(403);
      expect(result().hits).toEqual([{ url: "/from-host", auth: null }]);
    },
    TIMEOUT,
  );

  it(
    "a plain install is not watched: the server its script starts stays unreachable from the host",
    async () => {
      const port = await freePort();
      const run = install(port, false, true);
      // The server is up inside (its script records it) before the host tries it.
      await waitFor(
        () => existsSync(join(world.project, ".probe", "listening")),
        "the server inside",
      );
      expect(await connectResult(port)).toBe("ECONNREFUSED");
      writeFileSync(join(world.project, "go"), "");
      expect(await run.exited(), run.stderr()).toBe(0);
      expect(run.stderr()).not.toContain(forwardingLine(port));
      expect(result().hits).toEqual([]);
      // --dry-run says so, and says the other way for a run-class command.
      const plainPolicy = await world.run(["--dry-run", "--network", "registry", "npm", "install"]);
      expect(plainPolicy.stdout + plainPolicy.stderr).toContain(
        "ports:     not looked for (an install starts no server; --port N forwards N)",
      );
      const execPolicy = await world.run([
        "--dry-run",
        "--network",
        "registry",
        "exec",
        "--",
        "true",
      ]);
      expect(execPolicy.stdout + execPolicy.stderr).toContain(
        "ports:     a server listening inside on loopback",
      );
    },
    TIMEOUT,
  );

  for (const config of [
    "a registry in ~/.npmrc",
    "only a token in ~/.yarnrc.yml",
    "a token in a flow-style ~/.yarnrc.yml",
    "a token in npm's variables",
  ] as const) {
    it(
      `a run in another network mode does not forward the user's registry port either (${config}): another run's proxy would dial it`,
      async () => {
        // A dev server (`exec`, network none) in one terminal while an install runs in another:
        // the install's proxy dials the user's registry on the host's localhost with the held
        // token (for a host only a token names, when that install reaches it by --allow-host or
        // a trusted project's settings). Were this run's server forwarded there, it would stand
        // in for the registry.
        const port = await freePort();
        rmSync(join(world.home, ".yarnrc.yml"), { force: true });
        if (config === "a registry in ~/.npmrc") {
          writeFileSync(
            join(world.home, ".npmrc"),
            `@x:registry=http://localhost:${port}/\n//localhost:${port}/:_authToken=\${NODE_AUTH_TOKEN}\nupdate-notifier=false\n`,
          );
        } else {
          writeFileSync(join(world.home, ".npmrc"), "update-notifier=false\n");
          if (config === "only a token in ~/.yarnrc.yml")
            writeFileSync(
              join(world.home, ".yarnrc.yml"),
              `npmRegistries:\n  "http://localhost:${port}":\n    npmAuthToken: "${TOKEN}"\n`,
            );
          if (config === "a token in a flow-style ~/.yarnrc.yml")
            writeFileSync(
              join(world.home, ".yarnrc.yml"),
              `npmScopes: {corp: {npmRegistryServer: "http://localhost:${port}", npmAuthToken: ${TOKEN}}}\n`,
            );
        }
        const env: Record<string, string> = { NODE_AUTH_TOKEN: TOKEN };
        if (config === "a token in npm's variables")
          env[`npm_config_//localhost:${port}/:_authToken`] = TOKEN;
        writeFileSync(join(world.project, ".npmrc"), "audit=false\n");
        rmSync(join(world.project, "go"), { force: true });
        writeFileSync(
          join(world.project, "serve.js"),
          `const fs = require("fs"); const srv = require("http").createServer((q, r) => r.end("inside"));
srv.listen(${port}, "127.0.0.1", () => { const t = setInterval(() => { if (fs.existsSync("go")) { clearInterval(t); srv.close(); } }, 50); });`,
        );
        const refused = `safe-npm: port ${port} is not forwarded: the allowed hosts name a registry on the host's localhost:${port}`;
        const run = startCli(world, ["exec", "--", "node", "serve.js"], env);
        await waitFor(
          () => run.stderr().includes(refused) || run.stderr().includes(forwardingLine(port)),
          "the forwarding decision",
        );
        // Nothing answers on the host's side of that port: another run's proxy finds no stand-in.
        expect(await connectResult(port)).toBe("ECONNREFUSED");
        writeFileSync(join(world.project, "go"), "");
        expect(await run.exited(), run.stderr()).toBe(0);
        expect(run.stderr()).toContain(refused);
        expect(run.stderr()).not.toContain(forwardingLine(port));
        rmSync(join(world.home, ".yarnrc.yml"), { force: true });
      },
      TIMEOUT,
    );
  }

  it(
    "a port named as a registry on localhost is not forwarded; the proxy's request never reaches inside",
    async () => {
      const port = await freePort();
      const run = install(port, true);
      const refused = `safe-npm: port ${port} is not forwarded: the allowed hosts name a registry on the host's localhost:${port}`;
      // Once safe-npm has decided about the port, either way.
      await waitFor(
        () => run.stderr().includes(refused) || run.stderr().includes(forwardingLine(port)),
        "the forwarding decision",
      );
      writeFileSync(join(world.project, "go"), "");
      expect(await run.exited(), run.stderr()).toBe(0);
      // Nothing reached the sandbox's server: not the proxy, not the held token.
      expect(result().hits).toEqual([]);
      expect(run.stderr()).toContain(refused);
      expect(run.stderr()).not.toContain(forwardingLine(port));
      expect(await connectResult(port)).toBe("ECONNREFUSED");
      // The proxy dialled the host's localhost, where nothing listens.
      expect(result().status).toBe(502);
      expect(run.stderr() + run.stdout()).not.toContain(TOKEN);
    },
    TIMEOUT,
  );
});
