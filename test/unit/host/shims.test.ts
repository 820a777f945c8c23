import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gatherHost, resolveTool } from "../../../src/host/host.js";
import { isShim, parseShim, shimDir, shimScript } from "../../../src/host/shims.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-shims-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function executable(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

describe("shims", () => {
  it("live in the XDG data directory", () => {
    expect(shimDir({}, "/home/a")).toBe("/home/a/.local/share/safe-npm/shims");
    expect(shimDir({ XDG_DATA_HOME: "/d" }, "/home/a")).toBe("/d/safe-npm/shims");
    expect(shimDir({ XDG_DATA_HOME: "rel" }, "/home/a")).toBe(
      "/home/a/.local/share/safe-npm/shims",
    );
  });

  it("take their directory off PATH and call the safe-npm they name, with the tool and its arguments", () => {
    const shims = join(dir, "shims");
    const fake = join(dir, "fake-node");
    // A stand-in for node: prints its arguments and the PATH it was given.
    executable(fake, '#!/bin/sh\nprintf "%s|" "$@"; printf "\\n%s\\n" "$PATH"\n');
    writeFileSync(join(dir, "cli.cjs"), "");
    const text = shimScript("npm", { dir: shims, node: fake, cli: join(dir, "cli.cjs") });
    executable(join(shims, "npm"), text);
    const out = execFileSync(join(shims, "npm"), ["install", "a b", "--x=*"], {
      env: { PATH: `${shims}:/usr/bin:${shims}/:/bin` },
      encoding: "utf8",
    });
    expect(out).toBe(`${join(dir, "cli.cjs")}|npm|install|a b|--x=*|\n/usr/bin:/bin\n`);

    expect(parseShim(text)).toEqual({ node: fake, cli: join(dir, "cli.cjs") });
    expect(isShim(join(shims, "npm"))).toBe(true);
    expect(isShim(fake)).toBe(false);
  });

  it("start node without NODE_EXTRA_CA_CERTS, its value moved aside for safe-npm to put back", () => {
    const shims = join(dir, "shims");
    const fake = join(dir, "fake-node");
    executable(
      fake,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: sh's `${VAR-default}`
      '#!/bin/sh\nprintf "%s|%s\\n" "${NODE_EXTRA_CA_CERTS-unset}" "${SAFE_NPM_NODE_EXTRA_CA_CERTS-unset}"\n',
    );
    writeFileSync(join(dir, "cli.cjs"), "");
    executable(
      join(shims, "npm"),
      shimScript("npm", { dir: shims, node: fake, cli: join(dir, "cli.cjs") }),
    );
    const run = (env: Record<string, string>) =>
      execFileSync(join(shims, "npm"), [], {
        env: { PATH: "/usr/bin:/bin", ...env },
        encoding: "utf8",
      });
    expect(run({ NODE_EXTRA_CA_CERTS: "/etc/x.pem" })).toBe("unset|/etc/x.pem\n");
    // Without the variable, a stash from elsewhere does not reach safe-npm.
    expect(run({ SAFE_NPM_NODE_EXTRA_CA_CERTS: "/tmp/stale.pem" })).toBe("unset|unset\n");
  });

  it("fail with 125 and a hint, never a loop, when that safe-npm is gone", () => {
    const shims = join(dir, "shims");
    executable(
      join(shims, "npm"),
      shimScript("npm", { dir: shims, node: process.execPath, cli: join(dir, "gone.cjs") }),
    );
    let status = 0;
    let stderr = "";
    try {
      execFileSync(join(shims, "npm"), ["install"], {
        env: { PATH: `${shims}:/usr/bin:/bin` },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = (error as { stderr: string }).stderr;
    }
    expect(status).toBe(125);
    expect(stderr).toContain(`this npm shim runs ${join(dir, "gone.cjs")}`);
    expect(stderr).toContain("safe-npm teardown");
  });

  it("exit 127 like a shell when there is no real tool behind them", () => {
    const shims = join(dir, "shims");
    executable(
      join(shims, "bun"),
      shimScript("bun", { dir: shims, node: process.execPath, cli: join(dir, "cli.cjs") }),
    );
    let status = 0;
    try {
      execFileSync(join(shims, "bun"), [], {
        env: { PATH: `${shims}:${join(dir, "empty")}` },
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(127);
  });

  it("are never taken for the tool: the shim directory is off the host's PATH, and a shim elsewhere is skipped", () => {
    const home = join(dir, "home");
    const shims = shimDir({}, home);
    const text = shimScript("npm", { dir: shims, node: "/n", cli: "/c" });
    executable(join(shims, "npm"), text);
    executable(join(dir, "copy", "npm"), text);
    executable(join(dir, "real", "npm"), "#!/bin/sh\n");
    const host = gatherHost({ HOME: home, PATH: `${shims}:${dir}/copy:${dir}/real` }, dir);
    expect(host.pathDirs).toEqual([`${dir}/copy`, `${dir}/real`]);
    expect(host.shimDir).toBe(shims);
    expect(resolveTool("npm", host)?.bin).toBe(join(dir, "real", "npm"));
    // (control) without the real one, nothing is found rather than the shim.
    const bare = gatherHost({ HOME: home, PATH: `${shims}:${dir}/copy` }, dir);
    expect(resolveTool("npm", bare)).toBeNull();
  });
});
