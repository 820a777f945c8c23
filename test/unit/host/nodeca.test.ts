import { afterEach, describe, expect, it } from "vitest";
import { EXTRA_CA_STASH, restoreExtraCa, startupExtraCa } from "../../../src/host/nodeca.js";

const DEFERRED = Symbol.for("safe-npm.nodeExtraCaDeferred");
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[DEFERRED];
});

describe("NODE_EXTRA_CA_CERTS moved aside while node starts", () => {
  it("is a file this process loaded when nothing moved it", () => {
    const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: "/etc/ca.pem" };
    restoreExtraCa(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: "/etc/ca.pem" });
    expect(startupExtraCa(env)).toBe("/etc/ca.pem");
    expect(startupExtraCa({ NODE_EXTRA_CA_CERTS: "" })).toBeNull();
  });

  it("comes back from the stash, which leaves the environment, and was not loaded", () => {
    const env: NodeJS.ProcessEnv = { [EXTRA_CA_STASH]: "/etc/ca.pem", HOME: "/h" };
    restoreExtraCa(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: "/etc/ca.pem", HOME: "/h" });
    expect(startupExtraCa(env)).toBeNull();
  });

  it("keeps a value set besides the stash: node loaded that one", () => {
    const env: NodeJS.ProcessEnv = {
      [EXTRA_CA_STASH]: "/tmp/a.pem",
      NODE_EXTRA_CA_CERTS: "/b.pem",
    };
    restoreExtraCa(env);
    expect(env).toEqual({ NODE_EXTRA_CA_CERTS: "/b.pem" });
    expect(startupExtraCa(env)).toBe("/b.pem");
  });
});
