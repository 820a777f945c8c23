/**
 * The bridge (node, in front of every registry-mode command) starts without
 * NODE_EXTRA_CA_CERTS — node 20 loads its whole root store at start-up whenever the variable is
 * set — and the command it starts has the variable as the sandbox's environment says.
 */
import { describe, expect, inject, it } from "vitest";
import { makeWorld } from "../world.js";

const unavailable = inject("sandboxUnavailable");

describe.skipIf(unavailable !== "")("the bridge's environment", () => {
  it("lacks NODE_EXTRA_CA_CERTS; the command it starts has it", async () => {
    const world = makeWorld({ projectInHome: true });
    try {
      const script = [
        'echo "command: $NODE_EXTRA_CA_CERTS"',
        'echo "parent: $(tr "\\0" " " < /proc/$PPID/cmdline)"',
        'echo "parent has it: $(tr "\\0" "\\n" < /proc/$PPID/environ | grep -ac ^NODE_EXTRA_CA_CERTS=)"',
      ].join("; ");
      const run = await world.run(["--network", "registry", "exec", "--", "sh", "-c", script], {
        env: { NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt" },
      });
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout).toContain("command: /etc/ssl/certs/ca-certificates.crt\n");
      expect(run.stdout).toMatch(/parent: \S*node \/run\/safe-npm\/bridge\.cjs /);
      expect(run.stdout).toMatch(/^parent has it: 0$/m);
    } finally {
      world.dispose();
    }
  }, 120_000);
});
