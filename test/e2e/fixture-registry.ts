/**
 * The benchmark's static registry (bench/registry.mjs) on 127.0.0.1 for the e2e tests: a
 * generated tree whose tarballs it counts. Typed by hand: the module is plain ESM.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "./paths.js";

export interface FixtureRegistry {
  url: string;
  stats: () => { tarballs: number; requests: number };
  close: () => Promise<void>;
}

export interface Fixture {
  packages: Map<string, { postinstall: boolean }[]>;
  dependencies: Record<string, string>;
}

export interface RegistryModule {
  generateFixture: (options?: { names?: number; seed?: number; topLevel?: number }) => Fixture;
  startRegistry: (fixture: Fixture) => Promise<FixtureRegistry>;
}

/** bench/registry.mjs itself. */
export async function benchRegistry(): Promise<RegistryModule> {
  const url = pathToFileURL(join(repoRoot, "bench", "registry.mjs")).href;
  return (await import(url)) as RegistryModule;
}

/**
 * A registry serving 20 names, 3 of them direct dependencies, none with an install script
 * (pnpm 11+ stops at unapproved ones).
 */
export async function startSmallTree(): Promise<{
  registry: FixtureRegistry;
  dependencies: Record<string, string>;
}> {
  const { generateFixture, startRegistry } = await benchRegistry();
  const fixture = generateFixture({ names: 20, seed: 12, topLevel: 3 });
  for (const versions of fixture.packages.values()) {
    for (const version of versions) version.postinstall = false;
  }
  return { registry: await startRegistry(fixture), dependencies: fixture.dependencies };
}
