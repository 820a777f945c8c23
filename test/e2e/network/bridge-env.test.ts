/**
 * The bridge in front of every registry-mode command costs no node start-up: where perl runs it
 * is the perl bridge, which becomes the command (exec) and leaves a relay beside it; the command
 * has NODE_EXTRA_CA_CERTS as the sandbox's environment says.
 */
import { describe, expect, inject, it } from "vitest";
import { makeWorld } from "../world.js";

const unavailable = inject("sandboxUnavailable");

describe.skipIf(unavailable !== "")("the bridge's start", () => {
  it("is no node process; the command has NODE_EXTRA_CA_CERTS and the proxy variables", async () => {
    const world = makeWorld({ projectInHome: true });
    try {
      const script = [
        'echo "command: $NODE_EXTRA_CA_CERTS"',
        'echo "proxy: $HTTPS_PROXY"',
        // All but pid 1, bwrap's init (its argv names everything it started).
        'for f in /proc/[0-9]*/cmdline; do [ $f = /proc/1/cmdline ] || printf "process: %s\\n" "$(tr "\\0" " " < $f)"; done',
      ].join("; ");
      const run = await world.run(["--network", "registry", "exec", "--", "sh", "-c", script], {
        env: { NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" },
      });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain("command: /etc/ssl/certs/ca-certificates.crt\n");
      expect(run.stdout).toMatch(/^proxy: http:\/\/127\.0\.0\.1:\d+$/m);
      const processes = run.stdout.split("\n").filter((l) => l.startsWith("process: "));
      expect(processes).toContain("process: safe-npm-bridge ");
      // The command itself runs in the process the bridge started as.
      expect(processes).toContain(`process: sh -c ${script} `);
      expect(processes.filter((p) => /bridge\.(cjs|pl)|\bnode\b/.test(p))).toEqual([]);
    } finally {
      world.dispose();
    }
  }, 120_000);
});
