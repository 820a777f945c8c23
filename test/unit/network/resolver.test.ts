import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { type Address, createResolver, type LookupAll } from "../../../src/network/resolver.js";

/** A lookup that answers only when told to, and counts its calls. */
function fakeLookup(answers: Record<string, Address[]>): {
  lookup: LookupAll;
  calls: string[];
  /** Settles every pending lookup (an error for names not in `answers`). */
  flush: () => void;
} {
  const calls: string[] = [];
  const pending: (() => void)[] = [];
  return {
    calls,
    lookup: (hostname) =>
      new Promise((resolve, reject) => {
        calls.push(hostname);
        pending.push(() => {
          const answer = answers[hostname];
          if (answer === undefined)
            reject(
              Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: "EAI_AGAIN" }),
            );
          else resolve(answer);
        });
      }),
    flush: () => {
      for (const settle of pending.splice(0)) settle();
    },
  };
}

const REGISTRY: Address[] = [
  { address: "2001:db8::1", family: 6 },
  { address: "192.0.2.1", family: 4 },
];

describe("createResolver", () => {
  it("shares one lookup among concurrent callers", async () => {
    const fake = fakeLookup({ "registry.test": REGISTRY });
    const resolver = createResolver({ lookup: fake.lookup });
    const all = Array.from({ length: 50 }, () => resolver.resolve("registry.test"));
    fake.flush();
    for (const answer of await Promise.all(all)) expect(answer).toEqual(REGISTRY);
    expect(fake.calls).toEqual(["registry.test"]);
    expect(resolver.stats()).toEqual({ lookups: 1, failures: 0 });
  });

  it("reuses an answer for its lifetime, then looks the host up again", async () => {
    let clock = 1_000;
    const fake = fakeLookup({ "registry.test": REGISTRY, "other.test": REGISTRY });
    const resolver = createResolver({ lookup: fake.lookup, ttlMs: 60_000, now: () => clock });
    const first = resolver.resolve("registry.test");
    fake.flush();
    await first;
    clock += 59_999;
    await resolver.resolve("REGISTRY.test"); // names are case-insensitive
    expect(fake.calls).toEqual(["registry.test"]);
    // Another host is its own entry.
    const other = resolver.resolve("other.test");
    fake.flush();
    await other;
    clock += 1;
    const again = resolver.resolve("registry.test");
    fake.flush();
    await again;
    expect(fake.calls).toEqual(["registry.test", "other.test", "registry.test"]);
  });

  it("shares a failure among concurrent callers, remembers it briefly, then retries", async () => {
    let clock = 0;
    const fake = fakeLookup({});
    const resolver = createResolver({ lookup: fake.lookup, failureTtlMs: 1_000, now: () => clock });
    const burst = Array.from({ length: 10 }, () => resolver.resolve("down.test"));
    fake.flush();
    for (const result of await Promise.allSettled(burst)) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason.code).toBe("EAI_AGAIN");
    }
    clock += 999;
    await expect(resolver.resolve("down.test")).rejects.toThrow("EAI_AGAIN");
    expect(fake.calls).toHaveLength(1);
    clock += 1;
    const retry = resolver.resolve("down.test");
    fake.flush();
    await expect(retry).rejects.toThrow("EAI_AGAIN");
    expect(resolver.stats()).toEqual({ lookups: 2, failures: 2 });
  });

  it("treats an empty answer as a failure", async () => {
    const resolver = createResolver({ lookup: async () => [] });
    await expect(resolver.resolve("empty.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
  });

  it("forgets a settled answer on request, never a lookup in flight", async () => {
    const fake = fakeLookup({ "registry.test": REGISTRY });
    const resolver = createResolver({ lookup: fake.lookup });
    const first = resolver.resolve("registry.test");
    resolver.forget("registry.test");
    const shared = resolver.resolve("registry.test");
    fake.flush();
    await Promise.all([first, shared]);
    expect(fake.calls).toHaveLength(1);
    resolver.forget("Registry.Test");
    const fresh = resolver.resolve("registry.test");
    fake.flush();
    await fresh;
    expect(fake.calls).toHaveLength(2);
  });
});

describe("the lookup option for net.connect and http.request", () => {
  /** Calls `resolver.lookup` the way node does and collects the callback's arguments. */
  function call(
    resolver: ReturnType<typeof createResolver>,
    options: { all?: boolean; family?: number },
  ): Promise<{
    error: NodeJS.ErrnoException | null;
    result: string | LookupAddress[];
    family?: number | undefined;
  }> {
    return new Promise((resolve) => {
      resolver.lookup(
        "registry.test",
        options as never,
        ((error: NodeJS.ErrnoException | null, result: string | LookupAddress[], family?: number) =>
          resolve({ error, result, family })) as never,
      );
    });
  }

  it("answers every address (all: true, as autoSelectFamily asks) or the first one", async () => {
    const resolver = createResolver({ lookup: async () => REGISTRY });
    expect(await call(resolver, { all: true })).toEqual({
      error: null,
      result: REGISTRY,
      family: undefined,
    });
    expect(await call(resolver, {})).toEqual({ error: null, result: "2001:db8::1", family: 6 });
    expect(await call(resolver, { family: 4 })).toEqual({
      error: null,
      result: "192.0.2.1",
      family: 4,
    });
    expect(await call(resolver, { all: true, family: 4 })).toMatchObject({
      result: [{ address: "192.0.2.1", family: 4 }],
    });
  });

  it("passes failures on with their code", async () => {
    const v4only = createResolver({ lookup: async () => [{ address: "192.0.2.1", family: 4 }] });
    expect((await call(v4only, { family: 6 })).error?.code).toBe("ENOTFOUND");
    const failing = createResolver({
      lookup: async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND registry.test"), {
          code: "ENOTFOUND",
        });
      },
    });
    const { error } = await call(failing, { all: true });
    expect(error?.code).toBe("ENOTFOUND");
  });

  it("uses the system's getaddrinfo by default, so /etc/hosts names resolve", async () => {
    const resolver = createResolver();
    const addresses = await resolver.resolve("localhost");
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.map((a) => a.address)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^(127\.|::1$)/)]),
    );
  });
});
